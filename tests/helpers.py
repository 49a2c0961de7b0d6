"""Module-level task functions: importable by worker processes under every start method."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

_initialized: Any = None


def double(x: int) -> int:
    return x * 2


def add(a: int, b: int) -> int:
    return a + b


def fail_on(bad: int) -> Any:
    def task(x: int) -> int:
        if x == bad:
            raise ValueError(f"item {x} is bad")
        return x

    return task


def boom(x: int) -> int:
    raise KeyError(f"boom {x}")


def set_initialized(value: Any) -> None:
    global _initialized
    _initialized = value


def get_initialized(_: Any) -> Any:
    return _initialized


def pid_of(_: Any) -> int:
    return os.getpid()


def thread_name(_: Any) -> str:
    return threading.current_thread().name


def wait_for_file(path: str) -> str:
    """Block until `path` exists: a gate that works across processes."""
    p = Path(path)
    while not p.exists():
        time.sleep(0.005)
    return path


EMPTY: list[int] = []


def sleep_and_return(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


_unpicklings: dict[str, int] = {}


class CountsUnpickling:
    """Counts, per process and tag, how often it is unpickled there (see :func:`unpicklings`)."""

    def __init__(self, tag: str, payload: bytes = b"") -> None:
        self.tag, self.payload = tag, payload

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        return (_unpickled, (self.tag, self.payload))


def _unpickled(tag: str, payload: bytes) -> CountsUnpickling:
    _unpicklings[tag] = _unpicklings.get(tag, 0) + 1
    return CountsUnpickling(tag, payload)


def unpicklings(tag: str) -> int:
    return _unpicklings.get(tag, 0)


def dask_setting(name: str) -> Any:
    """A value of Dask's configuration in this process."""
    import dask

    return dask.config.get(name)


def interpreter_id(_: Any) -> int:
    """The id of the interpreter running the task (0: the main one)."""
    import concurrent.interpreters as interpreters  # type: ignore[import-not-found]  # (3.14+)

    return int(interpreters.get_current().id)


_bumps = [0]


def bump_global(_: Any) -> int:
    """Counts calls in a module-level list: shared by threads, not by interpreters."""
    _bumps[0] += 1
    return _bumps[0]


def _refuse_subinterpreters() -> Any:
    raise ImportError("module 'fakenumpy' does not support loading in subinterpreters")


class RefusesSubinterpreters:
    """Pickles anywhere; unpickling it fails as importing numpy does in a subinterpreter.
    Callable, so it serves as a function too."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse_subinterpreters, ())

    def __call__(self, x: Any) -> Any:
        return x


def lock_or_value(x: int) -> Any:
    """Item 1's result is a lock, which cannot be pickled back."""
    return threading.Lock() if x == 1 else x


def burn(x: int) -> int:
    """About 2 ms of pure Python (holds the GIL)."""
    total = 0
    for i in range(40_000):
        total += i % 7
    return total + x


_set_up = [False]


def connect_then_wait(x: int) -> int:
    """A client whose first call sets up (2.5 ms of computing and 5 ms of waiting, as a
    connection's handshake would) and whose every call then waits 5 ms, its CPU time next to
    nothing."""
    if not _set_up[0]:
        _set_up[0] = True
        end = time.thread_time() + 0.0025
        while time.thread_time() < end:
            pass
        time.sleep(0.005)
    time.sleep(0.005)
    return x + 1


def forget_set_up() -> None:
    _set_up[0] = False
