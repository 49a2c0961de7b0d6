"""The small interface every backend implements, and the records that cross it.

A backend runs *batches* (a few consecutive tasks of one job) on its workers and reports an
*outcome* per batch. Everything above it (batching, ordering, retries, errors, progress) is
shared: see ``poolwise._dispatch``.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

CallMode = Literal["one", "star", "full"]
"""How a task's item is passed to fn: ``fn(x)``, ``fn(*x)`` or ``fn(*x[0], **x[1])``."""

_job_ids = itertools.count(1)
_batch_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One function applied to many items (a map call, or one ``submit``)."""

    fn: Callable[..., Any]
    mode: CallMode = "one"
    timeout: float | None = None
    id: int = field(default_factory=lambda: next(_job_ids))
    # measured seconds per task, carried from one run of the job to the next (batch sizing),
    # and their coefficient of variation (the factoring tail)
    per_item: float | None = None
    spread: float | None = None


def call(fn: Callable[..., Any], mode: CallMode) -> Callable[[Any], Any]:
    """The one-argument callable that applies ``fn`` to an item in the given mode."""
    if mode == "one":
        return fn
    if mode == "star":
        return lambda x: fn(*x)
    return lambda x: fn(*x[0], **x[1])


@dataclass(eq=False)
class Batch:
    """Consecutive or scattered tasks of one job sent to a worker together."""

    job: Job
    indices: Sequence[int]  # a range for a fresh contiguous batch, a list for retries
    items: list[Any]
    suspect: bool = False  # split from a batch that crashed or failed to pickle
    owner: Any = None  # the run it belongs to (set by the dispatcher's JobRun); a worker may
    # skip a batch whose owner is ``stopped`` (its results are no longer wanted)
    seq: int = field(default_factory=lambda: next(_batch_ids))

    def __len__(self) -> int:
        return len(self.items)


@dataclass(eq=False)
class TaskError:
    """A task's failure as the backend saw it: the exception and its formatted traceback."""

    exception: BaseException
    traceback: str


@dataclass(eq=False)
class Outcome:
    """What became of a batch.

    ``values[i]`` is the result of ``batch.items[i]`` unless ``i`` is in ``errors`` (the task
    failed) or in ``rerun`` (the task did not run to completion through no fault of its own,
    e.g. a sibling in its batch crashed the worker, and must be run again). ``split`` asks for
    the rerun tasks to be sent one per batch (to find which one crashes or cannot be pickled).
    """

    batch: Batch
    values: list[Any]
    errors: dict[int, TaskError] = field(default_factory=dict)
    rerun: list[int] = field(default_factory=list)
    split: bool = False
    elapsed: float = 0.0  # seconds the worker spent running the tasks


class Backend(ABC):
    """Where batches run. Not thread-safe except :meth:`wake`; one thread drives it."""

    name: ClassVar[str]
    workers: int
    # the duration adaptive batching aims at: long enough to amortize what one batch costs
    # to send, start and return on this backend
    batch_target: ClassVar[float] = 0.02
    # while the number of items left is known, batches stay small enough that each worker gets
    # at least this many more (the tail stays balanced); fewer where a batch costs more
    batches_per_worker: ClassVar[int] = 4
    # ...but no batch in that tail is cut below this much work: a fiftieth of the target here,
    # where a batch costs tens of microseconds
    batch_floor: ClassVar[float] = 0.0004
    # whether the tail of tasks known to be nearly equal is sized by factoring, in longer
    # batches (see _batching), rather than by guided self-scheduling; for backends whose
    # batches cost milliseconds
    factoring: ClassVar[bool] = False

    @abstractmethod
    def start(self, wait: bool = True) -> None:
        """Start every worker (idempotent); with ``wait``, return when each is ready."""

    @abstractmethod
    def free_slots(self) -> int:
        """How many more batches :meth:`submit` should be given now (0 = wait for outcomes)."""

    @abstractmethod
    def submit(self, batch: Batch) -> None:
        """Queue a batch; never blocks for long."""

    def flush(self) -> None:  # noqa: B027 - optional hook
        """Send what :meth:`submit` has queued: the dispatcher calls it at the end of each
        fill (a backend that sends batches in groups waits for it)."""

    @abstractmethod
    def poll(self, timeout: float | None) -> list[Outcome]:
        """Wait up to ``timeout`` seconds (None: until something happens) for outcomes.

        May return an empty list early: after :meth:`wake`, or when a worker was replaced.
        """

    @abstractmethod
    def wake(self) -> None:
        """Make a blocked :meth:`poll` return soon. Safe to call from any thread."""

    def grow(self) -> None:  # noqa: B027 - optional hook
        """A task is coming: a backend whose workers start on demand starts one now if none is
        idle. Safe to call from any thread (an Executor's ``submit`` calls it)."""

    @abstractmethod
    def busy(self) -> int:
        """Batches submitted and not yet reported."""

    def forget(self, job: Job) -> None:  # noqa: B027 - optional hook
        """The job is finished: workers may drop what they keep for it."""

    @abstractmethod
    def cancel(self, owner: Any) -> list[Batch]:
        """Drop the batches of ``owner`` that have not been sent to a worker; return them.

        Outcomes of batches already with a worker still come."""

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty when the workers are threads)."""
        return []

    @abstractmethod
    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        """Stop the workers: after running batches finish (wait), or at once (kill)."""
