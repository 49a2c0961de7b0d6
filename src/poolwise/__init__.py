"""poolwise: threads or processes? Measure it, then run the work safely.

This module only re-exports the public API from private modules.
"""

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
from poolwise._version import __version__

__all__ = [
    "Failure",
    "PicklingError",
    "PoolwiseError",
    "PotentialDeadlock",
    "RaceDetected",
    "RemoteError",
    "RemoteTraceback",
    "ShutdownError",
    "TaskTimeout",
    "WorkerCrashed",
    "WorkerInitError",
    "__version__",
    "usable_cpus",
]
