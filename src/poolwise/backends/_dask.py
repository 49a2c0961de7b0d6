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

The cluster: ``client=`` (used as is, never closed by us), ``address=`` (we connect and close our
client), or neither: a ``LocalCluster`` of ``workers`` processes with one thread each (Dask's
profiler off, see :func:`local_cluster`), started on first use and closed on shutdown. Its
worker processes are started with ``spawn``, so a script that uses it needs the
``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, ClassVar

from poolwise import _transport
from poolwise._errors import (
    PicklingError,
    RemoteTraceback,
    TaskTimeout,
    WorkerCrashed,
    WorkerInitError,
)
from poolwise.backends._base import Backend, Batch, Job, Outcome, TaskError
from poolwise.backends._core import fail_or_split, result_outcome, unpicklable_items
from poolwise.backends._dask_worker import (
    RESULTS,
    RemoteInit,
    RemoteJob,
    identity,
    run_batch,
    truncate,
)

logger = logging.getLogger("poolwise")

INSTALL_HINT = 'pip install "poolwise[dask]"'
_MAX_JOBS = 256  # jobs kept on the cluster for an Executor's repeated submits
_INLINE_JOB = 64 * 1024  # bytes: a job this small travels with each batch
_ALONE = "-alone"  # the key suffix of a task that runs with nothing else of ours in flight
_LOST_POLL = 0.05  # seconds between looks at tasks whose result was lost with a worker
_NTHREADS_TTL = 1.0  # seconds between asking the scheduler how many threads it has
_QUEUED = 8  # batches in flight per worker thread once their sizes are known (see free_slots)
_GRAPH_BYTES = 4 << 20  # pickled items sent to the scheduler in one graph, at most (see flush)
_WAKE = object()


def require_distributed() -> Any:
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            f'backend="dask" needs dask.distributed, which is not installed: {INSTALL_HINT}'
        ) from exc
    return distributed


# Dask settings for the cluster poolwise starts by itself: fewer background chores. Dask's
# periodic callbacks (event-loop health ticks every 20 ms, system and memory monitors, the
# statistical profiler every 10 ms) run in each worker's event-loop thread, which takes the GIL
# from the running task, and in the parent, which shares the cores with the workers. The
# profiler cost pure-Python tasks 4-8% of their speed. Without it, an idle 2-worker cluster
# still used 75 ms of CPU per second (parent and workers together); with all of these, 27.
QUIET_CLUSTER: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",  # only times event-loop stalls, for warnings
    "distributed.admin.system-monitor.interval": "2s",  # the dashboard's CPU/memory graphs
    # the nanny still stops a worker that outgrows its memory limit, within half a second
    "distributed.worker.memory.monitor-interval": "500ms",
}


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes, with the quieter
    settings of :data:`QUIET_CLUSTER` (they apply to this cluster only)."""
    import dask

    dd = require_distributed()
    # the scheduler, the nannies and the workers read the configuration as they are created,
    # inside this call
    with dask.config.set(QUIET_CLUSTER):
        return dd.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )


def _release(arg: Any) -> None:
    """Let Dask drop what a job or initializer future holds (an inline job holds nothing)."""
    if not isinstance(arg, RemoteJob):
        arg.release()


# -- the parent side --------------------------------------------------------------------------


@dataclass(eq=False)
class _Task:
    batch: Batch
    future: Any


class DaskBackend(Backend):
    name: ClassVar[str] = "dask"
    # A Dask task costs about 4 ms of CPU: 2.3-2.8 ms in the scheduler and client (the
    # parent, on a LocalCluster) and 1.5-2 ms in the worker's event loop, which takes the GIL
    # from the task (no-op tasks, 4 in flight, results gathered one by one; a task per item
    # in one client.map costs a third of that: one graph, one gather). On a LocalCluster that
    # CPU comes off the workers' cores. So batches aim at 200 ms, and the guided tail never
    # cuts one below 50 ms: 2,000 tasks of 1 ms on 2 workers went from 24 batches to 17
    # (efficiency 0.909 -> 0.927, 15 interleaved rounds), 400 of 5 ms from 22 to 16 (0.916 ->
    # 0.930). Longer batches (400 ms) gained 1-2% on 64 equal tasks of 25 ms but lost 4-7%
    # on lognormal durations of the same mean, where the first batches commit too much work.
    # Nearly equal tasks are factored instead (see _batching): 64 of 25 ms 0.905 -> 0.920,
    # and with 400 ms batches 0.949 (25 interleaved rounds each).
    batch_target: ClassVar[float] = 0.2
    batch_floor: ClassVar[float] = 0.05
    batches_per_worker: ClassVar[int] = 2
    factoring: ClassVar[bool] = True

    def __init__(
        self,
        workers: int,
        *,
        client: Any = None,
        address: str | None = None,
        initializer: Any = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self._dd = require_distributed()
        self.workers = workers
        self._client = client
        self._address = address
        self._own_client = client is None
        self._cluster: Any = None
        self._token = uuid.uuid4().hex[:12]
        self._topic = f"poolwise-{self._token}"
        self._init_blob = (
            _transport.dumps_function((initializer, tuple(initargs))) if initializer else None
        )
        self._init_future: Any = None
        # job id -> its RemoteJob (small: sent inline) or the future of a task that holds it
        self._jobs: OrderedDict[int, Any] = OrderedDict()
        self._tasks: dict[str, _Task] = {}  # Dask key -> what it runs
        self._lost: set[str] = set()  # keys of tasks whose result Dask is computing again
        # single items Dask blamed for dead workers, each to run again with nothing else of
        # ours in flight (Dask also blames the tasks queued on a worker that dies)
        self._isolate: deque[Batch] = deque()
        self._alone: str | None = None  # the key of the task running alone (ends in -alone)
        self._full_batches = False  # whether the batch submitted last had its full size
        # batches submitted since the last flush, sent together: (batch, key, its job argument,
        # pickled items)
        self._staged: list[tuple[Batch, str, Any, bytes]] = []
        self._done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._starts: dict[int, tuple[int, float, str]] = {}  # seq -> (pos, when, worker)
        self._starts_lock = threading.Lock()
        self._pushed: dict[str, bytes] = {}  # Dask key -> its result, pushed as an event
        self._pushed_lock = threading.Lock()
        self._outcomes: list[Outcome] = []
        self._nthreads = (0, 0.0)
        self._started = False
        self._closed = False
        self._broken: BaseException | None = None

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
        self._client.subscribe_topic(self._topic, self._on_event)
        self._client.subscribe_topic(self._topic + RESULTS, self._on_result)
        if self._init_blob is not None:
            init = RemoteInit(self._token, self._init_blob)
            self._init_future = self._client.submit(
                identity, init, key=f"poolwise-init-{self._token}", pure=False
            )

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
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._staged.clear()
        self._lost.clear()
        self._isolate.clear()
        try:
            if wait and not kill and tasks:
                for t in tasks:  # (distributed.wait would look for a default client)
                    try:
                        t.future.exception()
                    except Exception:
                        pass
            client.cancel([t.future for t in tasks])
            for arg in [*self._jobs.values(), self._init_future]:
                if arg is not None:
                    _release(arg)
            self._jobs.clear()
            client.unsubscribe_topic(self._topic)
            client.unsubscribe_topic(self._topic + RESULTS)
            with self._pushed_lock:
                self._pushed.clear()
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
        return len(self._tasks) + len(self._staged) + len(self._isolate) + len(self._outcomes)

    def free_slots(self) -> int:
        if self._broken is not None or self._isolate or self._alone in self._tasks:
            return 0
        threads = self._total_threads() if self._client is not None else self.workers
        # Two batches per thread keep each worker busy. Once the batches have their full size
        # (the job's task time is known and a batch holds half the floor's work or more), up to
        # eight: more than twice the threads, so Dask's scheduler queues them and hands the
        # next to whichever worker frees up, with no round trip through us. (Batches still
        # growing from a first measurement would only queue up small.)
        per_thread = _QUEUED if self._full_batches else 2
        return max(0, per_thread * threads - len(self._tasks) - len(self._staged))

    def submit(self, batch: Batch) -> None:
        self._stage(batch)  # sent by flush()

    def _stage(self, batch: Batch, suffix: str = "") -> str | None:
        self._ensure_started()
        try:
            payload = _transport.dumps(batch.items)
        except Exception:
            self._outcomes.append(unpicklable_items(batch))
            return None
        name = getattr(batch.job.fn, "__name__", "fn").replace("<", "").replace(">", "")
        key = f"poolwise-{name}-{self._token}-{batch.seq}{suffix}"
        self._staged.append((batch, key, self._job_arg(batch.job), payload))
        per_item = batch.job.per_item
        self._full_batches = per_item is not None and len(batch) * per_item >= self.batch_floor / 2
        return key

    def flush(self) -> None:
        """Send the staged batches as one graph: one ``update_graph`` on the scheduler for
        them all, as ``client.map`` does (a graph per batch cost the parent's event loop
        a fifth of its time). Large items go in several graphs of up to 4 MiB each (Dask
        warns of graphs over 10 MB)."""
        while self._staged:
            size, n = 0, 0
            for _, _, _, payload in self._staged:
                if n and size + len(payload) > _GRAPH_BYTES:
                    break
                size, n = size + len(payload), n + 1
            group = self._staged[:n]
            futures = self._client.map(
                run_batch,
                [arg for _, _, arg, _ in group],
                [self._init_future] * n,
                [payload for _, _, _, payload in group],
                [batch.seq for batch, _, _, _ in group],
                [self._topic] * n,
                key=[key for _, key, _, _ in group],
                pure=False,
            )
            del self._staged[:n]
            for (batch, key, _, _), future in zip(group, futures, strict=True):
                self._tasks[key] = _Task(batch, future)
                future.add_done_callback(self._on_done)

    def _job_arg(self, job: Job) -> Any:
        """What a batch task gets as its job: the job itself, or the future of its task."""
        arg = self._jobs.get(job.id)
        if arg is not None:
            self._jobs.move_to_end(job.id)
            return arg
        remote = RemoteJob(_transport.dumps_function((job.fn, job.mode, job.timeout is not None)))
        if len(remote.blob) <= _INLINE_JOB:
            # inline: tasks without dependencies go to whichever worker is free. (A task that
            # depends on the job's is placed by data locality, and Dask's memory manager soon
            # drops the job's replicas: the batches then pile up on one worker.)
            arg = remote
        else:
            key = f"poolwise-job-{self._token}-{job.id}"
            arg = self._client.submit(identity, remote, key=key, pure=False)
        self._jobs[job.id] = arg
        if len(self._jobs) > _MAX_JOBS:
            used = {t.batch.job.id for t in self._tasks.values()}
            used.update(s[0].job.id for s in self._staged)
            for old in [j for j in self._jobs if j not in used and j != job.id][:32]:
                _release(self._jobs.pop(old))
        return arg

    def forget(self, job: Job) -> None:
        arg = self._jobs.pop(job.id, None)
        if arg is not None:
            _release(arg)

    def cancel(self, owner: Any) -> list[Batch]:
        # Dask does not say which tasks have started; dropping running ones too is harmless
        # (their results would be ignored) and frees the cluster of the queued ones at once.
        staged = [s[0] for s in self._staged if s[0].owner is owner]
        self._staged = [s for s in self._staged if s[0].owner is not owner]
        keys = [k for k, t in self._tasks.items() if t.batch.owner is owner]
        dropped = [self._tasks.pop(k) for k in keys]
        self._lost.difference_update(keys)
        if dropped:
            self._client.cancel([t.future for t in dropped])
        waiting = [b for b in self._isolate if b.owner is owner]
        self._isolate = deque(b for b in self._isolate if b.owner is not owner)
        return staged + [t.batch for t in dropped] + waiting

    def wake(self) -> None:
        self._done.put(_WAKE)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers of our own LocalCluster (others run on other hosts)."""
        if self._cluster is None or self._closed:
            return []
        return sorted(self._client.run(os.getpid).values())

    # -- callbacks (Dask's threads) ----------------------------------------------------------

    def _on_done(self, future: Any) -> None:
        self._done.put(future.key)

    def _on_result(self, event: tuple[float, Any]) -> None:
        key, blob = event[1]
        with self._pushed_lock:
            self._pushed[key] = blob

    def _on_event(self, event: tuple[float, Any]) -> None:
        seq, pos, address = event[1]
        with self._starts_lock:
            self._starts[seq] = (pos, time.monotonic(), address)
        self._done.put(_WAKE)  # a blocked poll recomputes its deadline

    # -- polling ---------------------------------------------------------------------------

    def poll(self, timeout: float | None) -> list[Outcome]:
        if self._broken is not None:
            raise self._broken
        self.flush()
        self._run_isolated()
        out, self._outcomes = self._outcomes, []
        if out:
            timeout = 0.0
        deadline = self._next_deadline()
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            timeout = left if timeout is None else min(timeout, left)
        if self._lost:  # no callback tells when a lost task is computed again: look
            timeout = _LOST_POLL if timeout is None else min(timeout, _LOST_POLL)
        keys: list[Any] = []
        try:
            keys.append(
                self._done.get(timeout=timeout) if timeout != 0 else self._done.get_nowait()
            )
            while True:
                keys.append(self._done.get_nowait())
        except queue.Empty:
            pass
        for key in list(self._lost):
            task = self._tasks.get(key)
            if task is None or task.future.status not in ("lost", "pending"):
                self._lost.discard(key)
                keys.append(key)
        finished = [t for k in keys if k is not _WAKE and (t := self._tasks.pop(k, None))]
        if finished:
            out.extend(self._collect(finished))
        out.extend(self._enforce_timeouts())
        self._run_isolated()
        if self._broken is not None:
            raise self._broken
        return out

    def _run_isolated(self) -> None:
        """Once nothing else of ours is in flight, send the next item that is to run alone."""
        if self._isolate and not self._tasks and self._broken is None:
            self._alone = self._stage(self._isolate.popleft(), suffix=_ALONE)
            self.flush()

    def _collect(self, tasks: list[_Task]) -> list[Outcome]:
        with self._starts_lock:  # (a task computed again reports its starts afresh)
            for t in tasks:
                self._starts.pop(t.batch.seq, None)
        # A small result came with the event the task sent as it ended (before Dask's own
        # message that it finished): no need to fetch it from the worker. It stands even if
        # Dask has since lost it with its worker.
        with self._pushed_lock:
            pushed = {t: self._pushed.pop(t.future.key, None) for t in tasks}
            # events of tasks no longer ours (a task Dask ran again after we had its result)
            for key in [k for k in self._pushed if k not in self._tasks]:
                del self._pushed[key]
        out: list[Outcome | None] = [self._result(t, b) for t, b in pushed.items() if b is not None]
        # A finished task whose worker died before we gathered its result is "lost": Dask
        # computes it again. Wait for that (poll looks every _LOST_POLL seconds: a done
        # callback on a lost future fires at once) rather than call the batch crashed.
        # Read each status once: a worker's death can turn "finished" into "lost" at any
        # moment, and a task read as both would yield two outcomes for one batch.
        status = [(t, t.future.status) for t, b in pushed.items() if b is None]
        again = [t for t, s in status if s in ("lost", "pending")]
        ok = [t for t, s in status if s == "finished"]
        failed = [t for t, s in status if s not in ("lost", "pending", "finished")]
        if ok:
            try:
                blobs = self._client.gather([t.future for t in ok])
            except Exception:  # e.g. a result lost with its worker: one by one
                blobs = None
            for i, t in enumerate(ok):
                if blobs is not None:
                    out.append(self._result(t, blobs[i]))
                elif t.future.status in ("lost", "pending"):
                    again.append(t)
                else:
                    out.append(self._result(t, None))
        out.extend(self._failed(t) for t in failed)
        for t in again:
            self._tasks[t.future.key] = t
            self._lost.add(t.future.key)
        for t in tasks:
            if t not in again:
                t.future.release()
        return [o for o in out if o is not None]

    def _result(self, task: _Task, blob: bytes | None) -> Outcome | None:
        batch = task.batch
        if blob is None:
            try:
                blob = task.future.result()
            except Exception:
                return self._failed(task)
        assert blob is not None
        kind, payload = blob[:1], memoryview(blob)[1:]
        if kind == b"U":
            message = bytes(payload).decode()
            return fail_or_split(batch, lambda: PicklingError(message))
        if kind == b"I":
            exc, tb = pickle.loads(payload)
            exc.__cause__ = RemoteTraceback(tb)
            err = WorkerInitError(f"the initializer failed in a Dask worker: {exc!r}")
            err.__cause__ = exc
            self._broken = err
            return Outcome(batch, [None] * len(batch), rerun=list(range(len(batch))))
        return result_outcome(batch, payload)

    def _failed(self, task: _Task) -> Outcome | None:
        """The Dask task itself failed: its worker died too often, or Dask cancelled it.

        None: the outcome is not known yet (the item is to run again, alone)."""
        batch = task.batch
        status = task.future.status
        try:
            exc = task.future.exception(timeout=5) if status == "error" else None
        except Exception as e:
            exc = e
        killed = exc is not None and type(exc).__name__ == "KilledWorker"
        if exc is not None and not killed:
            # not the user's code (the task catches that): send the job afresh to be safe
            self.forget(batch.job)

        def crash() -> BaseException:
            index = batch.indices[0]
            if killed:
                last = getattr(getattr(exc, "last_worker", None), "address", "?")
                failures = getattr(exc, "allowed_failures", "?")
                how = (
                    f"every Dask worker that ran item {index} died ({failures} retries "
                    f"exhausted; the last was {last})"
                )
            elif exc is not None:
                how = f"Dask could not run item {index}: {type(exc).__name__}: {exc}"
            else:
                how = f"Dask cancelled the task of item {index} (status {status!r})"
            err = WorkerCrashed(how, index=index)
            err.__cause__ = exc
            return err

        if killed and not batch.suspect:
            # Dask counts every task a dead worker held, queued ones too: give each task of
            # the batch a second chance in a task of its own before blaming it
            return Outcome(batch, [None] * len(batch), rerun=list(range(len(batch))), split=True)
        if killed and len(batch) == 1 and not task.future.key.endswith(_ALONE):
            # Even alone, an item may have waited behind the guilty one on both workers that
            # died: the last chance runs it with nothing else of ours on the cluster.
            self._isolate.append(batch)
            return None
        return fail_or_split(batch, crash)

    def _next_deadline(self) -> float | None:
        soonest = None
        with self._starts_lock:
            starts = list(self._starts.items())
        for seq, (_pos, when, _addr) in starts:
            task = self._task_by_seq(seq)
            if task is None or task.batch.job.timeout is None:
                continue
            due = when + task.batch.job.timeout
            soonest = due if soonest is None else min(soonest, due)
        return soonest

    def _task_by_seq(self, seq: int) -> _Task | None:
        for task in self._tasks.values():
            if task.batch.seq == seq:
                return task
        return None

    def _enforce_timeouts(self) -> list[Outcome]:
        with self._starts_lock:
            if not self._starts:
                return []
            starts = dict(self._starts)
        out = []
        now = time.monotonic()
        by_seq = {t.batch.seq: (k, t) for k, t in self._tasks.items()}
        for seq, (pos, when, address) in starts.items():
            if seq not in by_seq:
                with self._starts_lock:
                    self._starts.pop(seq, None)
                continue
            key, task = by_seq[seq]
            batch, limit = task.batch, task.batch.job.timeout
            if limit is None or now - when <= limit:
                continue
            del self._tasks[key]
            self._lost.discard(key)
            with self._starts_lock:
                self._starts.pop(seq, None)
            self._client.cancel([task.future])
            index = batch.indices[pos]
            exc = TaskTimeout(
                f"item {index} ran longer than the timeout of {limit:g} s; its Dask task was "
                f"cancelled, but Dask cannot interrupt a running function: it runs on in "
                f"worker {address} until it returns, its result discarded",
                index=index,
                seconds=limit,
            )
            rerun = [i for i in range(len(batch)) if i != pos]
            out.append(Outcome(batch, [None] * len(batch), {pos: TaskError(exc, "")}, rerun))
        return out
