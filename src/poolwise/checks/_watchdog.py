"""``watchdog``: when no task has finished for a while, show where every thread is waiting."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any


@dataclass(frozen=True)
class HangReport:
    """The stacks seen when the watchdog fired."""

    seconds: float
    threads: dict[str, str]  # "name (ident)" -> formatted stack
    workers: dict[int, str]  # worker pid -> its stacks, for the process backend

    def __str__(self) -> str:
        lines = [f"poolwise watchdog: no task finished for {self.seconds:.1f} s; stacks:"]
        for name, stack in self.threads.items():
            lines.append(f"--- thread {name}{_waiting_on(stack)}")
            lines.append(stack.rstrip())
        for pid, stack in self.workers.items():
            lines.append(f"--- worker process {pid}")
            lines.append(stack.rstrip() or "(no stack: the worker did not answer)")
        return "\n".join(lines)


def _waiting_on(stack: str) -> str:
    last = stack.strip().splitlines()[-1] if stack.strip() else ""
    for needle, what in (
        ("acquire", "a lock"),
        (".wait(", "a condition or event"),
        ("sleep(", "sleep"),
        ("recv", "a pipe or socket"),
        ("select", "I/O"),
        (".join(", "another thread"),
    ):
        if needle in last:
            return f" (waiting on {what}: {last.strip()})"
    return ""


class Watchdog:
    """Call :meth:`progress` whenever a task finishes; after ``seconds`` without one, the
    stacks of every thread (and of the workers, through ``worker_stacks``) are written to
    ``file`` and kept in :attr:`hangs`. It fires once per stall, again after new progress."""

    def __init__(
        self,
        seconds: float,
        *,
        file: IO[str] | None = None,
        worker_stacks: Callable[[], dict[int, str]] | None = None,
    ) -> None:
        if seconds <= 0:
            raise ValueError(f"watchdog seconds must be positive, got {seconds}")
        self.seconds = seconds
        self.file = file
        self.worker_stacks = worker_stacks
        self.hangs: list[HangReport] = []
        self._last = time.monotonic()
        self._fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self) -> None:
        self._last = time.monotonic()
        self._fired = False

    def start(self) -> Watchdog:
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._watch, name="poolwise-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _watch(self) -> None:
        while not self._stop.wait(min(self.seconds / 4, 0.25)):
            idle = time.monotonic() - self._last
            if idle >= self.seconds and not self._fired:
                self._fired = True
                self.fire(idle)

    def fire(self, idle: float) -> HangReport:
        """Take and report the stacks now."""
        names = {t.ident: t.name for t in threading.enumerate()}
        me = threading.get_ident()
        threads = {
            f"{names.get(ident, '?')} ({ident})": "".join(traceback.format_stack(frame))
            for ident, frame in sys._current_frames().items()
            if ident != me
        }
        workers: dict[int, str] = {}
        if self.worker_stacks is not None:
            try:
                workers = self.worker_stacks()
            except Exception as exc:  # a diagnostic must not fail the run
                workers = {0: f"(could not get worker stacks: {exc})"}
        report = HangReport(idle, threads, workers)
        self.hangs.append(report)
        out: Any = self.file if self.file is not None else sys.stderr
        out.write(str(report) + "\n")
        out.flush()
        return report


def watchdog(
    seconds: float,
    *,
    file: IO[str] | None = None,
    worker_stacks: Callable[[], dict[int, str]] | None = None,
) -> Watchdog:
    """A :class:`Watchdog`, to use as a context manager: ``with poolwise.watchdog(30) as wd:``
    and ``wd.progress()`` after each finished task. ``map``/``imap`` take ``watchdog=seconds``."""
    return Watchdog(seconds, file=file, worker_stacks=worker_stacks)
