"""``watchdog``: when no task has finished for a while, show where every thread is waiting.

The interface the executor uses (``map(..., watchdog=seconds)``) and anyone can use::

    wd = Watchdog(30, worker_stacks=backend.worker_stacks).start()
    ...                    # after each finished task:
    wd.progress()
    wd.stop()

or ``with poolwise.watchdog(30) as wd: ...``. A background thread checks every ``seconds / 4``
(at most every 0.25 s); after ``seconds`` without progress it writes one report to ``file``
(standard error by default) and appends it to ``hangs``. It fires once per stall, and again
only after new progress and another stall.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import IO, Any

from poolwise.checks._lockorder import active_graph


@dataclass(frozen=True)
class HangReport:
    """What the watchdog saw when it fired.

    Attributes:
        seconds: how long no task had finished.
        threads: "name (ident)" -> that thread's formatted stack, this process.
        waiting: "name (ident)" -> what it is blocked on, where known (the tracked lock and
            its owner inside ``lock_order``; otherwise a guess from the innermost frame).
        workers: worker pid -> its stacks, from ``worker_stacks`` (the process backend).
    """

    seconds: float
    threads: dict[str, str]
    waiting: dict[str, str]
    workers: dict[int, str]

    def __str__(self) -> str:
        lines = [f"poolwise watchdog: no task finished for {self.seconds:.1f} s; stacks:"]
        for name, stack in self.threads.items():
            why = self.waiting.get(name)
            lines.append(f"--- thread {name}" + (f": {why}" if why else ""))
            lines.append(stack.rstrip())
        for pid, stack in self.workers.items():
            lines.append(f"--- worker process {pid}")
            lines.append(stack.rstrip() or "(no stack: the worker did not answer)")
        return "\n".join(lines)


class Watchdog:
    """Reports a stall: call :meth:`progress` whenever a task finishes.

    Args:
        seconds: how long without progress counts as a hang.
        file: where reports are written (default: ``sys.stderr`` when it fires).
        worker_stacks: returns {pid: stack text} of worker processes, asked when it fires.
        clock: a monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        seconds: float,
        *,
        file: IO[str] | None = None,
        worker_stacks: Callable[[], dict[int, str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if seconds <= 0:
            raise ValueError(f"watchdog seconds must be positive, got {seconds}")
        self.seconds = seconds
        self.file = file
        self.worker_stacks = worker_stacks
        self.hangs: list[HangReport] = []
        self._clock = clock
        self._last = clock()
        self._fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self) -> None:
        """A task finished: restart the countdown (cheap: call it for every task)."""
        self._last = self._clock()
        self._fired = False

    def start(self) -> Watchdog:
        """Start watching in a daemon thread; returns self."""
        self._last = self._clock()
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="poolwise-watchdog", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (waits for the watching thread, unless called from it)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def check(self) -> HangReport | None:
        """Fire now if the stall has lasted ``seconds`` and has not been reported yet."""
        idle = self._clock() - self._last
        if idle < self.seconds or self._fired:
            return None
        self._fired = True
        return self.fire(idle)

    def _watch(self) -> None:
        while not self._stop.wait(min(self.seconds / 4, 0.25)):
            self.check()

    def fire(self, idle: float) -> HangReport:
        """Take the stacks now, write the report to ``file`` and keep it in ``hangs``."""
        report = take_stacks(idle, self.worker_stacks)
        self.hangs.append(report)
        out: Any = self.file if self.file is not None else sys.stderr
        out.write(str(report) + "\n")
        out.flush()
        return report


def take_stacks(
    idle: float, worker_stacks: Callable[[], dict[int, str]] | None = None
) -> HangReport:
    """The stacks of every other thread, what each waits on, and the workers' stacks."""
    names = {t.ident: t.name for t in threading.enumerate()}
    me = threading.get_ident()
    graph = active_graph()
    known = graph.waits() if graph is not None else {}
    threads: dict[str, str] = {}
    waiting: dict[str, str] = {}
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        key = f"{names.get(ident, '?')} ({ident})"
        stack = "".join(traceback.format_stack(frame))
        threads[key] = stack
        why = known.get(ident) or _guess_wait(frame)
        if why:
            waiting[key] = why
    workers: dict[int, str] = {}
    if worker_stacks is not None:
        try:
            workers = worker_stacks()
        except Exception as exc:  # a diagnostic must not fail the run it diagnoses
            workers = {0: f"(could not get worker stacks: {type(exc).__name__}: {exc})"}
    return HangReport(idle, threads, waiting, workers)


_TRACKING = ("poolwise/checks/_tracked.py", "poolwise/checks/_waitfor.py")
_BLOCKING_MODULES = ("threading.py", "queue.py", "selectors.py", "socket.py", "subprocess.py")


def _guess_wait(frame: FrameType) -> str:
    """'blocked in Event.wait (threading.py), called at x.py:12': the innermost library call."""
    f: FrameType | None = frame
    api: FrameType | None = None
    while f is not None and f.f_code.co_filename.endswith((*_BLOCKING_MODULES, *_TRACKING)):
        if not f.f_code.co_filename.endswith(_TRACKING):
            api = f  # the library call, not poolwise's tracked stand-in for it
        f = f.f_back
    if api is None or f is None:
        return ""
    code = api.f_code
    name = getattr(code, "co_qualname", code.co_name)
    module = code.co_filename.rsplit("/", 1)[-1]
    caller = f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_lineno}"
    return f"probably blocked in {name} ({module}), called at {caller}"


def watchdog(
    seconds: float,
    *,
    file: IO[str] | None = None,
    worker_stacks: Callable[[], dict[int, str]] | None = None,
) -> Watchdog:
    """Watch for stalls: ``with poolwise.watchdog(30) as wd:``, calling ``wd.progress()``
    after each finished task; after 30 s without one, every thread's stack (and what it waits
    on) goes to ``file``. ``poolwise.map``/``imap`` take ``watchdog=seconds`` and do this for you.

    Args:
        seconds: how long without progress counts as a hang.
        file: where the report goes (default standard error).
        worker_stacks: a callable returning {pid: stack text} for worker processes.

    Returns:
        A :class:`Watchdog`, not yet started (``with`` or ``.start()`` starts it).
    """
    return Watchdog(seconds, file=file, worker_stacks=worker_stacks)
