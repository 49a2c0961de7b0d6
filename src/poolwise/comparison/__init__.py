"""``compare``: every backend and worker count, measured on the user's own function."""
