"""poolwise: threads or processes? Measure it, then run the work safely.

This module only re-exports the public API from private modules.
"""

import typing

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

if typing.TYPE_CHECKING:
    from poolwise.advise._advice import Advice
    from poolwise.advise._advise import advise
    from poolwise.checks._lockorder import LockOrderGraph, lock_order
    from poolwise.checks._races import RaceReport, check_races
    from poolwise.checks._watchdog import Watchdog, watchdog
    from poolwise.compare._record import Comparison, Measurement
    from poolwise.compare._run import compare

# Measuring, advising and checking load on first use, so that `import poolwise` costs what
# running work needs and no more (statistics, the lock tracker... add tens of milliseconds).
_LAZY = {
    "Advice": "poolwise.advise._advice",
    "advise": "poolwise.advise._advise",
    "LockOrderGraph": "poolwise.checks._lockorder",
    "lock_order": "poolwise.checks._lockorder",
    "RaceReport": "poolwise.checks._races",
    "check_races": "poolwise.checks._races",
    "Watchdog": "poolwise.checks._watchdog",
    "watchdog": "poolwise.checks._watchdog",
    "Comparison": "poolwise.compare._record",
    "Measurement": "poolwise.compare._record",
    "compare": "poolwise.compare._run",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'poolwise' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
