"""poolwise: threads or processes? Measure it, then run the work safely.

This module only re-exports the public API from private modules.
"""

import sys
import typing

from poolwise._cpus import usable_cpus
from poolwise._errors import (
    Failure,
    FallbackWarning,
    PicklingError,
    PoolwiseError,
    PotentialDeadlock,
    RaceDetected,
    RemoteError,
    ShutdownError,
    TaskTimeout,
    WorkerCrashed,
    WorkerInitError,
)
from poolwise._version import __version__

if typing.TYPE_CHECKING:
    from concurrent.futures.process import _RemoteTraceback as RemoteTraceback

    from poolwise._api import imap, map
    from poolwise._executor import (
        Executor,
        InterpreterPoolExecutor,
        ProcessPoolExecutor,
        ThreadPoolExecutor,
    )
    from poolwise.advisor._advice import Advice
    from poolwise.advisor._advise import advise
    from poolwise.advisor._memory import forget, remembered
    from poolwise.checks._lockorder import LockOrderGraph, lock_order
    from poolwise.checks._races import RaceReport, check_races
    from poolwise.checks._watchdog import Watchdog, watchdog
    from poolwise.comparison._record import Comparison, Measurement
    from poolwise.comparison._run import compare

# Everything but the exceptions (and map and imap, see _front_door) loads on first use, so that
# `import poolwise` costs what running work needs and no more (statistics, the lock tracker...
# add tens of milliseconds), and a worker interpreter, which imports poolwise.backends and so
# this module, pays for none of it.
_LAZY = {
    "map": "poolwise._api",
    "imap": "poolwise._api",
    "Executor": "poolwise._executor",
    "ThreadPoolExecutor": "poolwise._executor",
    "ProcessPoolExecutor": "poolwise._executor",
    "InterpreterPoolExecutor": "poolwise._executor",
    # the standard library's class (see _errors.remote_traceback): it loads multiprocessing
    "RemoteTraceback": "concurrent.futures.process:_RemoteTraceback",
    "Advice": "poolwise.advisor._advice",
    "advise": "poolwise.advisor._advise",
    "forget": "poolwise.advisor._memory",
    "remembered": "poolwise.advisor._memory",
    "LockOrderGraph": "poolwise.checks._lockorder",
    "lock_order": "poolwise.checks._lockorder",
    "RaceReport": "poolwise.checks._races",
    "check_races": "poolwise.checks._races",
    "Watchdog": "poolwise.checks._watchdog",
    "watchdog": "poolwise.checks._watchdog",
    "Comparison": "poolwise.comparison._record",
    "Measurement": "poolwise.comparison._record",
    "compare": "poolwise.comparison._run",
}


def _front_door() -> bool:
    """Whether this is the user's program (load ``map`` now: the first call of the front door
    should not pay ~7 ms of imports, a plain loop's time many times over for a short job),
    rather than a worker's interpreter or process, which needs none of it."""
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.parent_process() is not None:
        return False  # (a spawn or forkserver worker, unpickling its first job)
    try:
        import _interpreters  # type: ignore[import-not-found]  # (3.13 and newer)
    except ImportError:
        return True
    return bool(_interpreters.get_current()[0] == _interpreters.get_main()[0])


if _front_door():
    from poolwise._api import imap, map


def __getattr__(name: str) -> object:
    import importlib.util  # (only for the lazy names: `import poolwise` stays light)

    module = _LAZY.get(name)
    if module is None:
        if name.startswith("_") and importlib.util.find_spec(f"poolwise.{name}") is not None:
            return importlib.import_module(f"poolwise.{name}")  # a private module, by name
        raise AttributeError(f"module 'poolwise' has no attribute {name!r}")

    module, _, attribute = module.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Advice",
    "Comparison",
    "Executor",
    "Failure",
    "FallbackWarning",
    "InterpreterPoolExecutor",
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
    "forget",
    "imap",
    "lock_order",
    "map",
    "remembered",
    "usable_cpus",
    "watchdog",
]
