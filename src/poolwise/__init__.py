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

__all__ = [
    "Advice",
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
    "advise",
    "imap",
    "map",
    "usable_cpus",
]
