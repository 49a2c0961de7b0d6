"""Checks for threaded code: races (``check_races``), lock-order deadlocks (``lock_order``)
and hangs (``watchdog``)."""
