"""A catalogue of small concurrency bugs and their correct twins (see races.py, locks.py)."""
