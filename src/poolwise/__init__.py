"""poolwise: threads or processes? Measure it, then run the work safely.

This module only re-exports the public API from private modules.
"""

from poolwise._api import imap, map
from poolwise._cpus import usable_cpus
from poolwise._errors import (
    Failure,
    PicklingError,
    PoolwiseError,
    PotentialDeadlock,
    RaceDetected,
    RemoteError,
    RemoteTraceback,
    ShutdownError,
    TaskTimeout,
    WorkerCrashed,
    WorkerInitError,
)
from poolwise._executor import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from poolwise._version import __version__
from poolwise.advise._advice import Advice
from poolwise.advise._advise import advise
from poolwise.checks._lockorder import LockOrderGraph, lock_order
from poolwise.checks._races import RaceReport, check_races
from poolwise.checks._watchdog import Watchdog, watchdog
from poolwise.compare._record import Comparison, Measurement
from poolwise.compare._run import compare

__all__ = [
    "Advice",
    "Comparison",
    "Executor",
    "Failure",
    "LockOrderGraph",
    "Measurement",
    "PicklingError",
    "PoolwiseError",
    "PotentialDeadlock",
    "ProcessPoolExecutor",
    "RaceDetected",
    "RaceReport",
    "RemoteError",
    "RemoteTraceback",
    "ShutdownError",
    "TaskTimeout",
    "ThreadPoolExecutor",
    "Watchdog",
    "WorkerCrashed",
    "WorkerInitError",
    "__version__",
    "advise",
    "check_races",
    "compare",
    "imap",
    "lock_order",
    "map",
    "usable_cpus",
    "watchdog",
]
