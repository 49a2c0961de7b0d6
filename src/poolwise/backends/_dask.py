"""The dask backend: batches run as tasks on a ``dask.distributed`` cluster.

Data flow (one thread of the parent drives it; Dask's client runs its own event-loop thread)::

    dispatcher --submit(batch)--> pickle the items once, stage
               --flush()-------> client.map(run_batch, jobs, inits, items, seqs, topics)
                                 (one graph for the batches of a fill) |  one Dask task
                                                                        v  per *batch*
    dispatcher <--poll()-- finished batches <--done queue-- future callbacks
                            ^
                            +-- their results: up to 16 KiB, an event the task sends as it
                            |   ends (through the scheduler, before Dask says the task
                            |   finished); larger ones are fetched from the worker
                            +-- start events (timed jobs only): the task logs "item i of
                                batch seq starts" to a private topic; a task that has run
                                one item longer than the timeout is cancelled

What crosses to the cluster, and how often:

- the job (the function with its closure, cloudpickled, and the call mode), unpickled once
  per worker process (a worker keeps the last 64 jobs' functions). A small job (up to 64 KiB:
  nearly every function) travels inline with each batch, so batch tasks have no dependencies
  and Dask gives each to whichever worker is free. A large one (a model, a table:
  ``functools.partial(fn, big)``) is sent once, as a Dask task of its own whose result every
  batch task depends on: each worker fetches it once, not with every batch. A task rather than
  ``client.scatter``: scattered data is lost for good when every worker that held it dies (a
  task that crashes workers can do that to a small cluster), while Dask simply recomputes a
  lost task. (A closure over Dask's ``large-graph-warning-threshold``, 10 MB by default, makes
  Dask warn once per job.)
- the initializer and its arguments, likewise once per backend; it runs once per worker
  process, before that process's first batch;
- the items of a batch, pickled in the parent (the fast C pickler, cloudpickle as fallback)
  and sent inside the task. The result comes back as one pickled blob per batch: pushed to
  the parent in an event when it is small (fetching it from the worker would make the worker's
  event loop take the GIL from the next batch, and costs a round trip), else fetched.

Errors: the task function catches every exception from ``fn`` item by item (with its formatted
traceback: it reaches the caller as itself with a ``RemoteTraceback`` cause). A worker that dies
is Dask's business first: it reruns the task elsewhere, up to its ``allowed-failures`` setting.
When Dask gives up (``KilledWorker``) a batch of several items is split and run again until
each item has a task of its own. Dask blames every task a dying worker held, queued ones too, so
an item blamed again on its own gets a last chance with nothing else of ours in flight: only an
item that kills workers when it runs alone fails, with ``WorkerCrashed``.

Timeouts: Dask cannot interrupt a running Python function. A task that passes its timeout
fails with ``TaskTimeout`` and its Dask future is cancelled; the function keeps running on its
worker thread until it returns, and its result is discarded. The rest of its batch runs again.

The roles: ``_dask_stage.Stager`` pickles and stages batches, keeps the job and initializer
arguments and sends graphs; ``_dask_collect.Collector`` takes Dask's callbacks and events and
turns finished tasks into outcomes (timeouts, ``KilledWorker`` blame and isolation included);
``_dask_client`` starts a cluster and names what the backend asks of a client; this module's
:class:`DaskBackend` composes them behind the ``Backend`` interface.

The cluster: ``client=`` (used as is, never closed by us), ``address=`` (we connect and close our
client), or neither: a ``LocalCluster`` of ``workers`` processes with one thread each (Dask's
profiler off, see :func:`local_cluster`), started on first use and closed on shutdown. Its
worker processes are started with ``spawn``, so a script that uses it needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any, ClassVar

from poolwise import _transport
from poolwise.backends._base import Backend, Batch, Job, Outcome
from poolwise.backends._core import unpicklable_items
from poolwise.backends._dask_client import DaskClient, local_cluster, require_distributed
from poolwise.backends._dask_collect import ALONE, Collector
from poolwise.backends._dask_stage import Stager
from poolwise.backends._dask_worker import RESULTS, truncate

__all__ = ["DaskBackend", "DaskClient", "local_cluster", "require_distributed"]

logger = logging.getLogger("poolwise")

_NTHREADS_TTL = 1.0  # seconds between asking the scheduler how many threads it has
_QUEUED = 8  # batches in flight per worker thread once their sizes are known (see free_slots)


class DaskBackend(Backend):
    """Batches as Dask tasks.

    ``client``: a ``distributed.Client``, or any object with the methods of
    :class:`~poolwise.backends._dask_client.DaskClient` (tests pass a fake one); used as is and
    never closed. ``address``: a scheduler to connect to (our client, closed on shutdown).
    Neither: a ``LocalCluster`` of ``workers`` processes, started on first use."""

    name: ClassVar[str] = "dask"
    # A Dask task costs about 4 ms of CPU in the scheduler, the client and the worker's event
    # loop (which takes the GIL from the task); on a LocalCluster it comes off the workers'
    # cores. So batches aim at 200 ms and the guided tail never cuts one below 50 ms; nearly
    # equal tasks are factored instead (see _batching). The measurements are in CHANGELOG.md.
    batch_target: ClassVar[float] = 0.2
    batch_floor: ClassVar[float] = 0.05
    batches_per_worker: ClassVar[int] = 2
    factoring: ClassVar[bool] = True

    def __init__(
        self,
        workers: int,
        *,
        client: DaskClient | None = None,
        address: str | None = None,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self._dd = require_distributed()
        self.workers = workers
        self._client: Any = client
        self._address = address
        self._own_client = client is None
        self._cluster: Any = None
        self._token = uuid.uuid4().hex[:12]
        self._topic = f"poolwise-{self._token}"
        init_blob = (
            _transport.dumps_function((initializer, tuple(initargs))) if initializer else None
        )
        self._collector = Collector(forget=self.forget)
        self._stager = Stager(
            self._token, self._topic, init_blob, self.batch_floor, self._collector.batches
        )
        self._nthreads = (0, 0.0)
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use (None before the first use)."""
        return self._client

    @property
    def dashboard_link(self) -> str | None:
        """The link to the Dask dashboard (None until the backend has started)."""
        if self._client is None:
            return None
        try:
            return str(self._client.dashboard_link)
        except Exception:
            return None

    def _ensure_started(self) -> None:
        if self._closed:
            raise RuntimeError("the dask backend has been shut down")
        if self._started:
            return
        self._started = True
        dd = self._dd
        if self._client is None:
            if self._address is None:
                self._cluster = local_cluster(self.workers)
                self._client = dd.Client(self._cluster, set_as_default=False)
            else:
                self._client = dd.Client(self._address, set_as_default=False)
            logger.info("dask dashboard: %s", self.dashboard_link)
        self._collector.connect(self._client, self._topic)
        self._stager.connect(self._client)

    def start(self, wait: bool = True) -> None:
        self._ensure_started()
        if wait:
            self._client.wait_for_workers(1)

    def shutdown(self, *, wait: bool = True, kill: bool = False) -> None:
        if self._closed:
            return
        self._closed = True
        client = self._client
        if not self._started or client is None:
            return
        futures = self._collector.drop()
        self._stager.drop()
        try:
            if wait and not kill:
                for future in futures:  # (distributed.wait would look for a default client)
                    try:
                        future.exception()
                    except Exception:
                        pass
            client.cancel(futures)
            self._stager.release_all()
            self._collector.disconnect()
            if not self._own_client:  # the scheduler outlives us: drop the events it keeps
                try:
                    client.run_on_scheduler(truncate, [self._topic, self._topic + RESULTS])
                except Exception as exc:
                    logger.debug("could not drop our events from the scheduler: %r", exc)
        finally:
            if self._own_client:
                client.close()
                if self._cluster is not None:
                    self._cluster.close()

    # -- submitting ------------------------------------------------------------------------

    def _total_threads(self) -> int:
        n, when = self._nthreads
        now = time.monotonic()
        if now - when > _NTHREADS_TTL:
            n = sum(self._client.nthreads().values())
            self._nthreads = (n, now)
        return max(1, n)

    def busy(self) -> int:
        return self._collector.busy() + len(self._stager)

    def free_slots(self) -> int:
        if self._collector.blocked():
            return 0
        threads = self._total_threads() if self._client is not None else self.workers
        # Two batches per thread keep each worker busy. Once the batches have their full size
        # (the job's task time is known and a batch holds half the floor's work or more), up to
        # eight: more than twice the threads, so Dask's scheduler queues them and hands the
        # next to whichever worker frees up, with no round trip through us. (Batches still
        # growing from a first measurement would only queue up small.)
        per_thread = _QUEUED if self._stager.full_batches else 2
        return max(0, per_thread * threads - self._collector.sent() - len(self._stager))

    def submit(self, batch: Batch) -> None:
        self._stage(batch)  # sent by flush()

    def _stage(self, batch: Batch, suffix: str = "") -> str | None:
        self._ensure_started()
        key = self._stager.stage(batch, suffix)
        if key is None:
            self._collector.ready(unpicklable_items(batch))
        return key

    def flush(self) -> None:
        """Send the staged batches, as one graph (see ``Stager.flush``)."""
        self._stager.flush(self._collector.track)

    def forget(self, job: Job) -> None:
        self._stager.forget(job)

    def cancel(self, owner: Any) -> list[Batch]:
        staged = self._stager.cancel(owner)
        return staged + self._collector.cancel(owner)

    def wake(self) -> None:
        self._collector.wake()

    def worker_pids(self) -> list[int]:
        """Process ids of the workers of our own LocalCluster (others run on other hosts)."""
        if self._cluster is None or self._closed:
            return []
        return sorted(self._client.run(os.getpid).values())

    # -- polling ---------------------------------------------------------------------------

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._collector.broken is not None:
            raise self._collector.broken
        self.flush()
        self._run_isolated()
        out = self._collector.take(timeout)
        self._run_isolated()
        if self._collector.broken is not None:
            raise self._collector.broken
        return out

    def _run_isolated(self) -> None:
        """Once nothing else of ours is in flight, send the next item that is to run alone."""
        batch = self._collector.next_alone()
        if batch is not None:
            self._collector.alone = self._stage(batch, suffix=ALONE)
            self.flush()
