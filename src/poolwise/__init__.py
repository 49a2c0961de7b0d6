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

__all__ = [
    "Executor",
    "Failure",
    "PicklingError",
    "PoolwiseError",
    "PotentialDeadlock",
    "ProcessPoolExecutor",
    "RaceDetected",
    "RemoteError",
    "RemoteTraceback",
    "ShutdownError",
    "TaskTimeout",
    "ThreadPoolExecutor",
    "WorkerCrashed",
    "WorkerInitError",
    "__version__",
    "imap",
    "map",
    "usable_cpus",
]
