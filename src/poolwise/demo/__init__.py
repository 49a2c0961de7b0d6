"""The demo: the seed's claims about threads and processes, measured on this machine."""
