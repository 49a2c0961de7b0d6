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
