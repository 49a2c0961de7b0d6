"""Jobs in flight: taking input lazily, forming batches, and turning outcomes into results.

Shared by every backend and by both drivers (``poolwise.map``/``imap`` drive it from the
calling thread; ``Executor`` from its manager thread). Backends report per-batch outcomes;
here they become per-task results or failures, tasks that did not run are queued again
(in halves, when their batch crashed, so the culprit is isolated by bisection), and tasks that
crashed or timed out are retried up to ``retries`` times.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from poolwise._batching import Chunker
from poolwise._errors import TaskTimeout, WorkerCrashed
from poolwise.backends._base import Backend, Batch, Job, Outcome, TaskError

logger = logging.getLogger("poolwise")


class Sink(Protocol):
    """Where a job's results go."""

    def ok(self, index: int, value: Any) -> None: ...

    def ok_range(self, start: int, values: list[Any]) -> None:
        """Results of the consecutive items ``start``, ``start + 1``, ... (the fast path)."""
        ...

    def fail(self, index: int, item: Any, error: TaskError) -> None: ...

    def room(self) -> int:
        """How many more items may be taken from the input now."""
        ...


class JobRun:
    """One job's progress through a backend."""

    def __init__(
        self,
        job: Job,
        items: Iterable[Any],
        sink: Sink,
        chunker: Chunker,
        *,
        retries: int = 0,
        owns_job: bool = True,
        start: int = 0,
    ) -> None:
        self.job = job
        self.owns_job = owns_job  # forget the job in the workers when this run ends
        self.sink = sink
        self.chunker = chunker
        self.retries = retries
        self._seq: Sequence[Any] | None = items if isinstance(items, (list, tuple, range)) else None
        self._iter: Iterator[Any] | None = None if self._seq is not None else iter(items)
        # index of the next fresh item; a sequence is sliced from there, an iterator is taken
        # to be already advanced to it (backend="auto" has run the first items in its probe)
        self._next = start
        self.exhausted = self._seq is not None and len(self._seq) <= start
        self._again: deque[tuple[int, Any]] = deque()  # to run again, batched
        self._suspect: deque[list[tuple[int, Any]]] = deque()  # groups to run as they are
        self._attempts: dict[int, int] = {}
        self._inflight: set[int] = set()  # seq of every batch sent and not yet accounted for
        self.stopped = False

    @property
    def total(self) -> int | None:
        return len(self._seq) if self._seq is not None else None

    @property
    def taken(self) -> int:
        """Items taken from the input so far (the next fresh item's index)."""
        return self._next

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    @property
    def done(self) -> bool:
        return self.inflight == 0 and (
            self.stopped or (self.exhausted and not self._again and not self._suspect)
        )

    def state(self) -> str:
        return (
            f"taken {self._next}, in flight {self.inflight}, to rerun "
            f"{len(self._again) + len(self._suspect)}, exhausted {self.exhausted}, "
            f"room {self.sink.room()}"
        )

    def has_work(self) -> bool:
        return not self.stopped and bool(self._suspect or self._again or not self.exhausted)

    def next_batch(self) -> Batch | None:
        if self.stopped:
            return None
        if self._suspect:
            group = self._suspect.popleft()
            return self._sent(
                Batch(self.job, [i for i, _ in group], [x for _, x in group], suspect=True)
            )
        if self._again:
            n = self.chunker.size(len(self._again))
            taken = [self._again.popleft() for _ in range(min(n, len(self._again)))]
            return self._sent(Batch(self.job, [i for i, _ in taken], [x for _, x in taken]))
        if self.exhausted:
            return None
        room = self.sink.room()
        if room <= 0:
            return None
        start = self._next
        if self._seq is not None:
            n = min(self.chunker.size(len(self._seq) - start), room)
            items = list(self._seq[start : start + n])
        else:
            assert self._iter is not None
            n = min(self.chunker.size(None), room)
            items = list(itertools.islice(self._iter, n))
        if len(items) < n or (self._seq is not None and start + n >= len(self._seq)):
            self.exhausted = True
        if not items:
            return None
        self._next = start + len(items)
        return self._sent(Batch(self.job, range(start, start + len(items)), items))

    def _sent(self, batch: Batch) -> Batch:
        batch.owner = self
        self._inflight.add(batch.seq)
        return batch

    def replaced(self, batch: Batch, parts: Iterable[Batch]) -> None:
        """A backend split ``batch`` into ``parts``: an outcome is due for each part instead."""
        self._inflight.discard(batch.seq)
        self._inflight.update(part.seq for part in parts)

    def returned(self, batches: Iterable[Batch]) -> None:
        """Batches the backend dropped before they started (cancellation)."""
        for batch in batches:
            self._inflight.discard(batch.seq)

    def handle(self, outcome: Outcome) -> None:
        batch = outcome.batch
        if batch.seq not in self._inflight:
            # a backend's bug, but counting it would end the run with batches still out
            logger.warning("batch %d was reported twice; the second report is ignored", batch.seq)
            return
        self._inflight.discard(batch.seq)
        errors, rerun = outcome.errors, outcome.rerun
        if outcome.elapsed and not errors and not rerun:
            self.chunker.observe(len(batch), outcome.elapsed)
            self.job.per_item = self.chunker.mean_per_item
            self.job.spread = self.chunker.spread
        if self.stopped:
            return
        skip = set(rerun) if rerun else None
        indices, items, values = batch.indices, batch.items, outcome.values
        if not errors and not skip:
            if isinstance(indices, range):
                self.sink.ok_range(indices.start, values)
            else:
                ok = self.sink.ok
                for index, value in zip(indices, values, strict=False):
                    ok(index, value)
            return
        again: list[tuple[int, Any]] = []
        for pos, index in enumerate(indices):
            if skip and pos in skip:
                again.append((index, items[pos]))
            elif pos in errors:
                err = errors[pos]
                if isinstance(err.exception, (WorkerCrashed, TaskTimeout)) and self._retry(index):
                    self._suspect.append([(index, items[pos])])
                else:
                    self.sink.fail(index, items[pos], err)
            else:
                self.sink.ok(index, values[pos])
        if outcome.split and len(again) > 1:  # bisect, to isolate the task that crashes
            half = len(again) // 2
            self._suspect.extend([again[:half], again[half:]])
        elif outcome.split:
            self._suspect.append(again)
        else:
            self._again.extend(again)

    def _retry(self, index: int) -> bool:
        n = self._attempts.get(index, 0)
        if n >= self.retries:
            return False
        self._attempts[index] = n + 1
        return True


class Dispatcher:
    """Feeds the batches of every active job to one backend and routes the outcomes back."""

    def __init__(self, backend: Backend, on_retire: Callable[[JobRun], None] | None = None) -> None:
        self.backend = backend
        self.runs: dict[JobRun, None] = {}  # insertion-ordered set
        self._turn = 0
        self._on_retire = on_retire  # called as each run ends

    def add(self, run: JobRun) -> None:
        self.runs[run] = None

    def fill(self) -> None:
        try:
            self._fill()
        except BaseException:
            # send what was submitted (the batches are in their runs' accounts) but keep the
            # first error: a flush that fails as well is only logged
            try:
                self.backend.flush()
            except Exception as exc:
                logger.debug("flush after a failed fill failed too: %r", exc)
            raise
        self.backend.flush()
        self._retire_done()

    def _fill(self) -> None:
        backend = self.backend
        while backend.free_slots() > 0:
            runs = [r for r in self.runs if r.has_work()]
            if not runs:
                return
            progressed = False
            for k in range(len(runs)):
                run = runs[(self._turn + k) % len(runs)]
                batch = run.next_batch()
                if batch is not None:
                    backend.submit(batch)
                    progressed = True
                    if backend.free_slots() <= 0:
                        break
            self._turn += 1
            if not progressed:
                return

    def pump(self, timeout: float | None) -> None:
        for outcome in self.backend.poll(timeout):
            run = outcome.batch.owner
            if run in self.runs:
                run.handle(outcome)
        self._retire_done()

    def stop(self, run: JobRun) -> None:
        """No more batches for this run; what the backend has not started is dropped."""
        run.stopped = True
        run.returned(self.backend.cancel(run))
        self._retire_done()

    def _retire_done(self) -> None:
        for run in [r for r in self.runs if r.done]:
            del self.runs[run]
            if run.owns_job:
                self.backend.forget(run.job)
            if self._on_retire is not None:
                self._on_retire(run)
