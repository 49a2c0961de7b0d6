"""A catalogue of ways for a task to go wrong, as CPython's test_deadlock.py keeps one.

Every helper is module-level so that worker processes can import it under any start method.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def _die(how: str) -> None:
    if how == "exit":
        os._exit(1)
    elif how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif how == "segfault":
        faulthandler.disable()  # inherited from pytest through fork: keep the log quiet
        ctypes.string_at(0)
    raise AssertionError(how)


class CrashOn:
    """A task that dies (in the given way) on one item and returns the others."""

    def __init__(self, bad: int, how: str = "exit") -> None:
        self.bad, self.how = bad, how

    def __call__(self, x: int) -> int:
        if x == self.bad:
            _die(self.how)
        return x


class CrashOnceOn:
    """Dies on `bad` the first time only (a marker file remembers), then succeeds."""

    def __init__(self, bad: int, marker: str) -> None:
        self.bad, self.marker = bad, marker

    def __call__(self, x: int) -> int:
        if x == self.bad and not Path(self.marker).exists():
            Path(self.marker).touch()
            os._exit(1)
        return x


class HangOn:
    """Hangs on `bad` (until killed), optionally after starting a grandchild process whose
    pid it writes to `pidfile`."""

    def __init__(self, bad: int, pidfile: str | None = None) -> None:
        self.bad, self.pidfile = bad, pidfile

    def __call__(self, x: int) -> int:
        if x == self.bad:
            if self.pidfile:
                child = subprocess.Popen(["sleep", "600"])
                Path(self.pidfile).write_text(str(child.pid))
            while True:
                time.sleep(0.05)
        return x


class HangOnceOn:
    def __init__(self, bad: int, marker: str) -> None:
        self.bad, self.marker = bad, marker

    def __call__(self, x: int) -> int:
        if x == self.bad and not Path(self.marker).exists():
            Path(self.marker).touch()
            while True:
                time.sleep(0.05)
        return x


def _exit_now(code: int) -> None:
    os._exit(code)


class ExitWhenUnpickled:
    """Unpickling this calls os._exit in whichever process does it."""

    def __reduce__(self) -> Any:
        return (_exit_now, (3,))


class ExitWhenPickled:
    """Pickling this (as a result, in the worker) kills the worker."""

    def __reduce__(self) -> Any:
        os._exit(4)


def _refuse() -> None:
    raise RuntimeError("this object refuses to be unpickled")


class RaiseWhenUnpickled:
    def __reduce__(self) -> Any:
        return (_refuse, ())


class UnpicklableError(Exception):
    """An exception that carries a lock: it cannot be pickled back to the parent."""

    def __init__(self) -> None:
        super().__init__("with a lock inside")
        self.lock = threading.Lock()


def identity(x: Any) -> Any:
    return x


def return_a_lock(x: int) -> Any:
    return threading.Lock() if x == 2 else x


def return_raise_when_unpickled(x: int) -> Any:
    return RaiseWhenUnpickled() if x == 2 else x


def return_exit_when_pickled(x: int) -> Any:
    return ExitWhenPickled() if x == 2 else x


def raise_unpicklable(x: int) -> int:
    if x == 2:
        raise UnpicklableError()
    return x


def raise_system_exit(x: int) -> int:
    if x == 2:
        raise SystemExit(5)
    return x


def raise_keyboard_interrupt(x: int) -> int:
    if x == 2:
        raise KeyboardInterrupt
    return x


def pid_and_value(x: int) -> tuple[int, int]:
    return os.getpid(), x


def hold_memory(x: int) -> int:
    """Keeps 100 MB alive in the worker (a leak), so max_memory_per_child must recycle it."""
    global _leak
    _leak = bytearray(100 * 1024 * 1024)
    for i in range(0, len(_leak), 4096):
        _leak[i] = 1
    return os.getpid()


_leak: bytearray | None = None


def wait_for(path: str) -> str:
    p = Path(path)
    while not p.exists():
        time.sleep(0.005)
    return path


def announce_then_wait(started: str, gate: str) -> str:
    """Touch `started`, then block until `gate` exists."""
    Path(started).touch()
    return wait_for(gate)


def announce_pid_then_wait(directory: str, gate: str) -> None:
    """An initializer: write a file named after this worker's pid, then wait for `gate`."""
    Path(directory, str(os.getpid())).touch()
    wait_for(gate)


def wait_for_new_file(directory: str, known: set[str]) -> str:
    """Block until a file not in `known` appears in `directory`; return its name."""
    while True:
        new = set(os.listdir(directory)) - known
        if new:
            return new.pop()
        time.sleep(0.005)


def big_result_after(gate: str) -> bytes:
    """Waits for `gate`, then returns 4 MB: more than a socket buffer holds."""
    wait_for(gate)
    return b"x" * (4 << 20)


def with_big_closure(size: int) -> Any:
    """A task whose pickled function is `size` bytes (a table it closes over)."""
    table = b"y" * size

    def task(x: int) -> int:
        return len(table) + x

    return task


def first_waits(directory: str, gate: str) -> None:
    """An initializer: the first worker to run it waits for `gate`; the others go on."""
    try:
        fd = os.open(os.path.join(directory, "claimed"), os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    os.close(fd)
    wait_for(gate)


def _exit_three() -> None:
    os._exit(3)


class DiesWhenUnpickled:
    """A callable whose unpickling ends the process that unpickles it."""

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_exit_three, ())

    def __call__(self, x: int) -> int:
        return x


class WaitUnlessMarked:
    """A task that writes its worker's pid to ``pidfile`` and waits for ``gate`` to exist,
    unless ``marker`` exists (created on the first call): run again, it returns at once."""

    def __init__(self, pidfile: str, gate: str, marker: str) -> None:
        self.pidfile, self.gate, self.marker = pidfile, gate, marker

    def __call__(self, x: int) -> int:
        if not Path(self.marker).exists():
            Path(self.marker).touch()
            Path(self.pidfile).write_text(str(os.getpid()))
            while not Path(self.gate).exists():
                time.sleep(0.01)
        return x
