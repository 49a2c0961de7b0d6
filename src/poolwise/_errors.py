"""Exceptions and the failure record: few, flat, named for what happened."""

from __future__ import annotations

import pickle
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from typing import Any


class PoolwiseError(Exception):
    """Base class of every error poolwise itself raises."""


class FallbackWarning(UserWarning):
    """poolwise ran the work on another backend than the one asked for, and says why (e.g. a
    ``timeout`` on ``backend="interpreter"``, whose running tasks cannot be stopped)."""


class WorkerCrashed(PoolwiseError):
    """A worker process died while it ran this task (os._exit, a signal, out of memory)."""

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        pid: int | None = None,
        exitcode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.pid = pid
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), self.__dict__))


class TaskTimeout(PoolwiseError):
    """A task ran longer than its ``timeout``."""

    def __init__(self, message: str, *, index: int | None = None, seconds: float | None = None):
        super().__init__(message)
        self.index = index
        self.seconds = seconds

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), self.__dict__))


class PicklingError(PoolwiseError, pickle.PicklingError):
    """An argument or result could not be pickled or unpickled to cross to a worker process
    (also a ``pickle.PicklingError``, as the standard library's pools raise)."""


class RemoteError(PoolwiseError):
    """Stands in for an exception raised in a worker that could not itself be pickled."""


class ShutdownError(PoolwiseError, RuntimeError):
    """Work was submitted to an executor that has been shut down."""


class WorkerInitError(PoolwiseError, BrokenExecutor):
    """The ``initializer`` raised in a worker; the pool cannot run tasks (a
    ``concurrent.futures.BrokenExecutor``, as the standard library's pools raise)."""


class RaceDetected(PoolwiseError):
    """A race check found results, exceptions or invariants that differ under concurrency."""


class PotentialDeadlock(PoolwiseError):
    """Locks were taken in orders that form a cycle: some interleaving deadlocks."""


def remote_traceback(tb: str) -> BaseException:
    """The ``__cause__`` of an exception raised in a worker process, carrying its formatted
    traceback: the standard library's own ``concurrent.futures.process._RemoteTraceback``, so
    that code written for ``ProcessPoolExecutor`` recognizes it (``poolwise.RemoteTraceback``).
    Only backends that have loaded ``multiprocessing`` make one."""
    from concurrent.futures.process import _RemoteTraceback  # (loads multiprocessing)

    return _RemoteTraceback(tb)  # type: ignore[arg-type]  # (typeshed: it takes the text)


def _rebuild(cls: type[BaseException], message: str, state: dict[str, Any]) -> BaseException:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(state)
    return exc


@dataclass(frozen=True)
class Failure:
    """Stands in the results, with ``on_error="return"``, for a task that failed.

    Attributes:
        index: position of the item in the input.
        item: the input item itself.
        exception: the exception the task raised (or WorkerCrashed / TaskTimeout).
        traceback: the formatted traceback, from the worker where the task ran.
    """

    index: int
    item: Any
    exception: BaseException
    traceback: str

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Failure(index={self.index}, exception={self.exception!r})"
