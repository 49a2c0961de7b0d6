"""Checks for threaded code, one concept per module:

- ``_races``: ``check_races``, many threads against a serial run; ``_rounds`` sizes the rounds
  to the budget and runs them; ``_preempt`` forces the thread switches at bytecode
  instructions of the user's code.
- ``_lockorder``: ``lock_order`` and the lock-order graph; ``_tracked``: the tracked locks;
  ``_waitfor``: the wait-for graph (deadlocks that formed).
- ``_watchdog``: ``watchdog``, the stacks of every thread when progress stops.
- ``_bootstrap``: the child process of ``poolwise check deadlocks``.
- ``pytest_plugin``: fixtures and a marker for users' own test suites.

The public names are re-exported by ``poolwise/__init__.py``.
"""
