"""The serial backend: every task runs in the calling thread, one after another.

The baseline every comparison is measured against, and the right choice when parallelism
cannot pay. A job with a timeout runs on a helper backend instead (one thread, given by
``create_backend``), so that a task that passes its timeout can be abandoned (see the thread
backend).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from poolwise._errors import WorkerInitError
from poolwise.backends._base import Backend, Batch, Outcome, call
from poolwise.backends._core import run_fast, task_error


class SerialBackend(Backend):
    name: ClassVar[str] = "serial"

    def __init__(
        self,
        *,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
        timeout_helper: Callable[[], Backend] | None = None,
    ) -> None:
        self.workers = 1
        self._timeout_helper = timeout_helper
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._queue: deque[Batch] = deque()
        self._initialized = False
        self._helper: Backend | None = None
        self._wakeup = threading.Event()

    def start(self, wait: bool = True) -> None:
        if not self._initialized:
            self._initialized = True
            if self._initializer is not None:
                try:
                    self._initializer(*self._initargs)
                except BaseException as exc:
                    raise WorkerInitError(f"the initializer failed: {exc!r}") from exc

    def busy(self) -> int:
        return len(self._queue) + (self._helper.busy() if self._helper else 0)

    def free_slots(self) -> int:
        return max(0, 1 - self.busy())

    def submit(self, batch: Batch) -> None:
        self.start()
        if batch.job.timeout is not None:
            if self._helper is None:
                if self._timeout_helper is None:
                    raise ValueError("a serial backend without a timeout helper cannot time tasks")
                self._helper = self._timeout_helper()
            self._helper.submit(batch)
        else:
            self._queue.append(batch)

    def wake(self) -> None:
        self._wakeup.set()
        if self._helper is not None:
            self._helper.wake()

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._queue:
            return [self._run(self._queue.popleft())]
        if self._helper is not None and self._helper.busy():
            return self._helper.poll(timeout)
        if timeout != 0:
            self._wakeup.wait(timeout)
            self._wakeup.clear()
        return []

    def _run(self, batch: Batch) -> Outcome:
        fn = call(batch.job.fn, batch.job.mode)
        t0 = time.perf_counter()
        values, errors = run_fast(fn, batch.items, task_error, Exception)
        return Outcome(batch, values, errors, elapsed=time.perf_counter() - t0)

    def cancel(self, owner: Any) -> list[Batch]:
        dropped = [b for b in self._queue if b.owner is owner]
        self._queue = deque(b for b in self._queue if b.owner is not owner)
        return dropped + (self._helper.cancel(owner) if self._helper else [])

    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        self._queue.clear()
        if self._helper is not None:
            self._helper.shutdown(wait=wait, kill=kill)
