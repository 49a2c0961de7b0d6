"""The dask backend against a fake client: staging, graphs, slots, blame and collecting.

No cluster: ``DaskBackend(workers, client=FakeClient())`` takes any object with the methods
of ``DaskClient``, and the test finishes the fake's futures and pushes its events itself. (The
backend still needs ``distributed`` installed: without it, those tests skip.)
"""

from __future__ import annotations

import pickle
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import poolwise as pw
from poolwise import _transport
from poolwise._batching import Chunker
from poolwise._dispatch import Dispatcher, JobRun
from poolwise.backends._base import Batch, Job
from poolwise.backends._core import dump_results
from poolwise.backends._dask import DaskBackend
from poolwise.backends._dask_worker import RESULTS, RemoteJob, run_batch, truncate
from tests import helpers
from tests.test_batching import _ListSink

NO_DASK = 'dask.distributed is not installed (pip install "poolwise[dask]")'


class KilledWorker(Exception):
    """Named as Dask's: the backend knows a task that killed its workers by the type's name."""


def ok(values: list[Any]) -> bytes:
    """A batch task's answer: these values, no errors."""
    return b"O" + dump_results(values, None, 0.001)


class FakeFuture:
    def __init__(self, key: str) -> None:
        self.key, self.status, self.blob = key, "pending", b""
        self.error: BaseException | None = None
        self.callbacks: list[Callable[[Any], None]] = []
        self.released = False

    def add_done_callback(self, cb: Callable[[Any], None]) -> None:
        self.callbacks.append(cb)

    def finish(self, status: str, blob: bytes = b"", error: BaseException | None = None) -> None:
        """Dask says the task ended (its done callbacks run, as in Dask's own thread)."""
        self.status, self.blob, self.error = status, blob, error
        for cb in self.callbacks:
            cb(self)

    def result(self) -> bytes:
        if self.error is not None:
            raise self.error
        return self.blob

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.error

    def release(self) -> None:
        self.released = True


class FakeClient:
    """The part of ``distributed.Client`` the backend uses, with 2 worker threads."""

    def __init__(self) -> None:
        self.futures: dict[str, FakeFuture] = {}
        self.graphs: list[list[str]] = []  # the keys of each graph sent to the scheduler
        self.handlers: dict[str, Callable[[Any], None]] = {}  # subscribed topics
        self.cancelled: list[str] = []
        self.on_scheduler: list[tuple[Any, ...]] = []
        self.closed = False

    def new_future(self, key: str) -> FakeFuture:
        return FakeFuture(key)

    def submit(self, fn: Any, *args: Any, key: str, pure: bool) -> FakeFuture:
        self.futures[key] = self.new_future(key)
        self.graphs.append([key])
        return self.futures[key]

    def map(self, fn: Any, *iterables: list[Any], key: list[str], pure: bool) -> list[Any]:
        assert fn is run_batch and all(len(it) == len(key) for it in iterables)
        self.futures.update((k, self.new_future(k)) for k in key)
        self.graphs.append(list(key))
        return [self.futures[k] for k in key]

    def gather(self, futures: list[FakeFuture]) -> list[bytes]:
        return [f.blob for f in futures]

    def cancel(self, futures: list[FakeFuture]) -> None:
        self.cancelled += [f.key for f in futures]

    def nthreads(self) -> dict[str, int]:
        return {"a": 1, "b": 1}

    def subscribe_topic(self, topic: str, handler: Callable[[Any], None]) -> None:
        self.handlers[topic] = handler

    def unsubscribe_topic(self, topic: str) -> None:
        del self.handlers[topic]

    def run_on_scheduler(self, fn: Any, *args: Any) -> None:
        self.on_scheduler.append((fn, *args))

    def run(self, fn: Any, *args: Any) -> dict[str, Any]:
        return {}

    def wait_for_workers(self, n_workers: int) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def push_result(self, key: str, blob: bytes) -> None:
        """A task's result, as the event it sends as it ends."""
        [topic] = [t for t in self.handlers if t.endswith(RESULTS)]
        self.handlers[topic]((time.time(), [key, blob]))


@pytest.fixture
def client() -> FakeClient:
    pytest.importorskip("distributed", reason=NO_DASK)  # DaskBackend still needs it
    return FakeClient()


@pytest.fixture
def backend(client: FakeClient) -> Iterator[DaskBackend]:
    backend = DaskBackend(2, client=client)
    yield backend
    backend.shutdown(wait=False)


def test_a_client_we_were_given_is_not_closed_and_forgets_our_events(client: FakeClient) -> None:
    backend = DaskBackend(2, client=client)
    backend.start()
    assert len(client.handlers) == 2  # item starts and pushed results
    backend.submit(Batch(Job(helpers.double), [1], [1]))
    backend.flush()
    [key] = client.futures
    backend.shutdown(wait=False)
    assert client.cancelled == [key] and client.handlers == {} and not client.closed
    [(fn, topics)] = client.on_scheduler  # the scheduler keeps the last events of each topic
    assert fn is truncate and len(topics) == 2


def test_a_result_lost_while_it_is_collected_yields_one_outcome_per_batch(
    backend: DaskBackend,
) -> None:
    # A worker's death turns a finished task "lost" at any moment; a batch read as both
    # "finished" and "lost" was once reported twice, ending the map before its last batches.
    class FlippingFuture(FakeFuture):
        """A Dask future whose worker dies (or is replaced) just after its status is read."""

        def __init__(self, key: str, first: str, then: str) -> None:
            super().__init__(key)
            self._first, self._then = first, then

        @property  # type: ignore[override]
        def status(self) -> str:
            status, self._first = self._first or self._then, ""
            return status

        @status.setter
        def status(self, value: str) -> None:
            pass

    client: Any = backend.client
    flips = iter([("finished", "lost"), ("lost", "finished")])
    client.new_future = lambda key: FlippingFuture(key, *next(flips))
    job = Job(helpers.double)
    first, second = Batch(job, [0, 1], [0, 1]), Batch(job, [2, 3], [2, 3])
    backend.submit(first)
    backend.submit(second)
    backend.flush()
    f1, f2 = client.futures.values()
    f1.finish("finished", ok([0, 2]))
    f2.finish("finished", ok([4, 6]))
    [out] = backend.poll(0)  # the second was lost as it was read: Dask computes it again
    assert out.batch is first and out.values == [0, 2]
    assert f1.released and not f2.released and backend.busy() == 1
    [out] = backend.poll(0)  # ...and it is finished again
    assert out.batch is second and out.values == [4, 6] and backend.busy() == 0


@pytest.mark.parametrize("alone", ["finished", "killed again"])
def test_an_item_blamed_for_dead_workers_runs_again_alone_before_it_fails(
    backend: DaskBackend, client: FakeClient, alone: str
) -> None:
    # Dask blames every task a dying worker held, queued ones too: an innocent item queued
    # behind the guilty one on both workers that died was once failed with WorkerCrashed.
    job = Job(helpers.double)
    suspect = Batch(job, [5], [5], suspect=True)
    other = Batch(job, [6], [6])
    backend.submit(suspect)
    backend.submit(other)
    backend.flush()
    first, second = client.futures.values()
    first.finish("error", error=KilledWorker())
    assert backend.poll(0) == []  # not blamed yet: it is to run again, alone
    assert backend.free_slots() == 0 and len(client.futures) == 2  # waits for `other`
    second.finish("finished", ok([12]))
    [done] = backend.poll(0)
    assert done.batch is other and done.values == [12]
    [key] = [k for k in client.futures if k.endswith("-alone")]  # now alone on the cluster
    assert backend.free_slots() == 0
    if alone == "finished":
        client.futures[key].finish("finished", ok([10]))
        [out] = backend.poll(0)
        assert out.batch is suspect and out.values == [10] and not out.errors
    else:
        client.futures[key].finish("error", error=KilledWorker())
        [out] = backend.poll(0)
        assert isinstance(out.errors[0].exception, pw.WorkerCrashed)
    assert backend.free_slots() == 4


def test_a_pushed_result_is_used_and_a_stray_one_dropped(
    backend: DaskBackend, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fetching(futures: list[FakeFuture]) -> list[bytes]:
        raise AssertionError("a pushed result was fetched")

    monkeypatch.setattr(client, "gather", no_fetching)
    job = Job(helpers.double)
    backend.submit(Batch(job, [0, 1], [0, 1]))
    backend.submit(Batch(job, [2], [2]))
    backend.flush()
    first, second = client.futures.values()
    client.push_result(first.key, ok([0, 2]))
    client.push_result("poolwise-a-task-we-no-longer-hold", ok([0, 2]))
    # its worker died after the task had sent its result: Dask computes it again
    first.finish("lost")
    [out] = backend.poll(0)
    assert out.values == [0, 2] and first.released and backend.busy() == 1
    assert backend._collector._pushed == {}  # the stray event is not kept


def test_a_batch_run_outside_a_dask_worker_still_returns_its_result() -> None:
    pytest.importorskip("distributed", reason=NO_DASK)
    job = RemoteJob(_transport.dumps_function((helpers.double, "one", False)))
    blob = run_batch(job, None, _transport.dumps([1, 2]), 0, "topic")  # nothing to push to
    assert blob[:1] == b"O" and pickle.loads(blob[1:])[:2] == ([2, 4], None)


def test_batches_of_a_measured_job_queue_deeper_on_the_scheduler(backend: DaskBackend) -> None:
    new, known = Job(helpers.double), Job(helpers.double, per_item=0.025)
    tiny = Job(helpers.double, per_item=1e-6)
    assert backend.free_slots() == 4  # 2 threads
    backend.submit(Batch(new, [0], [0]))
    assert backend.free_slots() == 3  # a new job's batch sizes wait for its first timings
    backend.submit(Batch(known, [1, 2], [1, 2]))  # 50 ms of work: a batch of full size
    assert backend.free_slots() == 16 - 2  # Dask's scheduler queues them
    backend.submit(Batch(tiny, range(64), list(range(64))))  # still growing
    assert backend.free_slots() == 4 - 3


def test_the_batches_of_one_fill_reach_the_scheduler_as_one_graph(
    backend: DaskBackend, client: FakeClient
) -> None:
    # a graph per batch cost the parent's event loop a fifth of its time (update_graph)
    dispatcher = Dispatcher(backend)
    dispatcher.add(JobRun(Job(helpers.double), range(10), _ListSink(), Chunker(2, fixed=2)))
    dispatcher.fill()  # 2 threads: 4 batches in flight
    assert [len(g) for g in client.graphs] == [4] and backend.busy() == 4


def test_staged_batches_count_as_in_flight_and_a_cancelled_one_is_never_sent(
    backend: DaskBackend, client: FakeClient
) -> None:
    run = JobRun(Job(helpers.double), range(2), _ListSink(), Chunker(2, fixed=1))
    first, second = run.next_batch(), run.next_batch()
    assert isinstance(first, Batch) and isinstance(second, Batch)
    backend.submit(first)
    backend.submit(second)
    assert backend.busy() == 2 and backend.free_slots() == 2 and client.graphs == []
    assert backend.cancel(run) == [first, second]
    backend.flush()
    assert client.graphs == [] and backend.busy() == 0


def _breaking_input() -> Iterator[int]:
    yield 1
    yield 2
    raise ValueError("the input broke")


def test_batches_submitted_before_the_input_fails_are_still_sent(
    backend: DaskBackend, client: FakeClient
) -> None:
    dispatcher = Dispatcher(backend)
    dispatcher.add(JobRun(Job(helpers.double), _breaking_input(), _ListSink(), Chunker(2, fixed=1)))
    with pytest.raises(ValueError, match="the input broke"):
        dispatcher.fill()
    assert [len(g) for g in client.graphs] == [2] and backend.busy() == 2


def test_when_the_flush_fails_too_the_input_error_is_raised(
    backend: DaskBackend, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*args: Any, **kwargs: Any) -> list[Any]:
        raise OSError("the scheduler is gone")

    monkeypatch.setattr(client, "map", gone)
    dispatcher = Dispatcher(backend)
    dispatcher.add(JobRun(Job(helpers.double), _breaking_input(), _ListSink(), Chunker(2, fixed=1)))
    with pytest.raises(ValueError, match="the input broke"):
        dispatcher.fill()


def test_large_items_go_to_the_scheduler_in_graphs_of_a_few_megabytes(
    backend: DaskBackend, client: FakeClient
) -> None:
    job = Job(helpers.double)
    bigs = [bytes([k]) * (3 << 20) for k in range(3)]  # (distinct: none is shared)
    for i, item in enumerate([bigs[0], b"small", bigs[1], bigs[2], b"small"]):
        backend.submit(Batch(job, [i], [item]))
    backend.flush()
    # (Dask warns of graphs over 10 MB; a batch larger than the limit goes alone)
    assert [len(g) for g in client.graphs] == [2, 1, 2] and backend.busy() == 5


def test_a_large_item_given_again_becomes_a_task_the_batches_name(
    backend: DaskBackend, client: FakeClient
) -> None:
    job = Job(helpers.double)
    big = b"x" * (2 << 20)
    for i in range(4):
        backend.submit(Batch(job, [i], [big]))
    backend.flush()
    data = [g for g in client.graphs if g[0].startswith("poolwise-data-")]
    assert len(data) == 1  # (the first batch carried it inline; the others name that task)
    assert len(client.graphs) == 2 and len(client.graphs[-1]) == 4


def test_large_batches_of_small_records_are_pickled_once_after_the_first(
    backend: DaskBackend, client: FakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poolwise.backends import _dask_stage

    looked: list[int] = []
    share = _dask_stage.Stager._share

    def counting(self: Any, batch: Batch, payload: bytes) -> Any:
        looked.append(len(batch.items))
        return share(self, batch, payload)

    monkeypatch.setattr(_dask_stage.Stager, "_share", counting)
    job = Job(helpers.double)
    records = [{"id": i, "name": f"record {i}"} for i in range(60_000)]  # (over 1 MiB pickled)
    big = b"x" * (2 << 20)
    for i, items in enumerate([records, records, [big], [big], records]):
        backend.submit(Batch(job, [i], list(items)))
    backend.flush()
    # (the second batch of records pays no second pass; a large buffer is still looked for,
    # and once one was seen, the next records are looked through again)
    assert looked == [60_000, 1, 1, 60_000]
    assert len([g for g in client.graphs if g[0].startswith("poolwise-data-")]) == 1


def test_without_dask_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "poolwise\[dask\]"'):
        pw.map(helpers.double, range(3), backend="dask")
