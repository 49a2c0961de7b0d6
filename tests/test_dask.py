"""The dask backend: the shared behaviour on one LocalCluster, and a real multi-process cluster.

One LocalCluster of 2 worker processes serves the whole module (starting one costs about a
second), so the tests that use it are marked ``allow_children``; the fixture's teardown closes
it and checks that no child process is left.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import poolwise as pw
from tests import helpers
from tests.conftest import leftover_children

distributed = pytest.importorskip(
    "distributed", reason='dask.distributed is not installed (pip install "poolwise[dask]")'
)

shared = pytest.mark.allow_children  # the module's cluster outlives each test


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    import dask

    # Dask reruns a task whose worker died; once is enough here (default 3) and much faster.
    # A result fetched from a worker just as it dies costs Dask's connect timeout (30 s by
    # default: it retries the refused connection) before it is computed again: 5 s here.
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": 1,
            "distributed.comm.timeouts.connect": "5s",
        }
    ):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        c = distributed.Client(cluster, set_as_default=False)
        try:
            yield c
        finally:
            c.close()
            cluster.close()
        alive = leftover_children()
        for p in alive:
            p.kill()
        assert not alive, f"the dask cluster left processes: {[p.pid for p in alive]}"


def crash_on(bad: int) -> Any:
    def task(x: int) -> int:
        if x == bad:
            os._exit(13)
        return x

    return task


def gated(path: str, slow: int) -> Any:
    """Item ``slow`` blocks until ``path`` exists; the others return at once."""

    def task(x: int) -> int:
        if x == slow:
            helpers.wait_for_file(path)
        return x

    return task


def poolwise_keys(client: Any) -> list[str]:
    def keys(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if str(k).startswith("poolwise-")]

    return list(client.run_on_scheduler(keys))


def released(client: Any) -> bool:
    """Whether the scheduler forgot every poolwise task (releases are asynchronous)."""
    deadline = time.monotonic() + 30
    while poolwise_keys(client) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not poolwise_keys(client)


# -- the shared behaviour ---------------------------------------------------------------------


@shared
def test_map_returns_results_in_input_order(client: Any) -> None:
    items = list(range(5000))
    assert pw.map(helpers.double, items, backend="dask", client=client) == [2 * x for x in items]


@shared
def test_map_of_nothing_and_of_a_generator(client: Any) -> None:
    assert pw.map(helpers.double, [], backend="dask", client=client) == []
    out = pw.map(helpers.double, (x for x in range(300)), backend="dask", client=client)
    assert out == [2 * x for x in range(300)]


@shared
def test_unordered_imap_yields_every_result_once(client: Any) -> None:
    out = list(pw.imap(helpers.double, range(500), backend="dask", client=client, ordered=False))
    assert sorted(out) == [2 * x for x in range(500)]


@shared
@pytest.mark.parametrize("chunksize", [None, 1, 7])
def test_on_error_return_gives_failures_with_the_remote_traceback(
    client: Any, chunksize: int | None
) -> None:
    out = pw.map(
        helpers.fail_on(5),
        range(20),
        backend="dask",
        client=client,
        on_error="return",
        chunksize=chunksize,
    )
    assert [r for i, r in enumerate(out) if i != 5] == [x for x in range(20) if x != 5]
    failure = out[5]
    assert isinstance(failure, pw.Failure) and failure.index == 5
    assert isinstance(failure.exception, ValueError)
    assert "item 5 is bad" in failure.traceback and "in task" in failure.traceback


@shared
def test_an_exception_reaches_the_caller_as_itself(client: Any) -> None:
    with pytest.raises(KeyError, match="boom") as info:
        pw.map(helpers.boom, range(3), backend="dask", client=client)
    assert isinstance(info.value.__cause__, pw.RemoteTraceback)
    assert "in boom" in str(info.value.__cause__)


@shared
def test_lambdas_and_closures_travel_once_per_job(client: Any) -> None:
    big = list(range(100_000))  # the closure travels once, not with each batch
    out = pw.map(lambda x: x + len(big), range(1000), backend="dask", client=client)
    assert out == [x + 100_000 for x in range(1000)]
    assert released(client)  # the batches and the job are released


@shared
@pytest.mark.parametrize("size", [10, 200_000], ids=["inline", "as-a-task"])
def test_the_job_is_unpickled_once_per_worker_however_many_batches(client: Any, size: int) -> None:
    tag = f"job-{size}"
    marker = helpers.CountsUnpickling(tag, b"x" * size)  # small: inline; large: a task of its own
    out = pw.map(lambda x: (x, marker.tag), range(400), backend="dask", client=client, chunksize=4)
    assert out == [(x, tag) for x in range(400)]  # 100 batches
    counts = client.run(helpers.unpicklings, tag)
    assert sum(counts.values()) >= 1
    assert all(n <= 1 for n in counts.values()), counts
    assert released(client)


@shared
def test_initializer_runs_in_every_worker_before_its_tasks(client: Any) -> None:
    out = pw.map(
        helpers.get_initialized,
        range(200),
        backend="dask",
        client=client,
        initializer=helpers.set_initialized,
        initargs=("ready",),
    )
    assert out == ["ready"] * 200


@shared
def test_a_failing_initializer_is_reported(client: Any) -> None:
    with pytest.raises(pw.WorkerInitError) as info:
        pw.map(
            helpers.double,
            range(10),
            backend="dask",
            client=client,
            initializer=helpers.boom,
            initargs=(1,),
        )
    assert isinstance(info.value.__cause__, KeyError)


@shared
def test_an_unpicklable_argument_fails_only_its_task(client: Any) -> None:
    items: list[Any] = [1, 2, threading.Lock(), 4]
    out = pw.map(helpers.double, items, backend="dask", client=client, on_error="return")
    assert out[:2] == [2, 4] and out[3] == 8
    assert isinstance(out[2].exception, pw.PicklingError)
    # with nothing picklable, nothing reaches the cluster; each still fails, once
    out = pw.map(
        helpers.double, [threading.Lock()], backend="dask", client=client, on_error="return"
    )
    assert [type(f.exception) for f in out] == [pw.PicklingError]


@shared
def test_a_task_that_kills_its_worker_fails_alone_with_worker_crashed(client: Any) -> None:
    out = pw.map(crash_on(3), range(8), backend="dask", client=client, on_error="return")
    assert [r for i, r in enumerate(out) if i != 3] == [x for x in range(8) if x != 3]
    assert isinstance(out[3].exception, pw.WorkerCrashed)
    assert "retries exhausted" in str(out[3].exception)
    client.wait_for_workers(2)  # the nannies restarted the workers


class KilledWorker(Exception):
    """Named as Dask's: the backend knows a task that killed its workers by the type's name."""


class _FakeFuture:
    def __init__(self, key: str) -> None:
        self.key, self.status, self.blob = key, "pending", b""
        self.error: BaseException | None = None
        self.callbacks: list[Any] = []
        self.released = False

    def add_done_callback(self, cb: Any) -> None:
        self.callbacks.append(cb)

    def finish(self, status: str, blob: bytes = b"", error: BaseException | None = None) -> None:
        self.status, self.blob, self.error = status, blob, error
        for cb in self.callbacks:
            cb(self)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self.error

    def release(self) -> None:
        self.released = True


class _FakeClient:
    def __init__(self) -> None:
        self.futures: dict[str, _FakeFuture] = {}
        self.graphs: list[list[str]] = []  # the keys of each graph sent to the scheduler

    def submit(self, fn: Any, *args: Any, key: str, pure: bool) -> _FakeFuture:
        self.futures[key] = _FakeFuture(key)
        self.graphs.append([key])
        return self.futures[key]

    def map(self, fn: Any, *iterables: list[Any], key: list[str], pure: bool) -> list[Any]:
        assert all(len(it) == len(key) for it in iterables)
        self.futures.update((k, _FakeFuture(k)) for k in key)
        self.graphs.append(list(key))
        return [self.futures[k] for k in key]

    def gather(self, futures: list[_FakeFuture]) -> list[bytes]:
        return [f.blob for f in futures]

    def nthreads(self) -> dict[str, int]:
        return {"a": 1, "b": 1}

    def cancel(self, futures: list[Any]) -> None:
        pass


class _FlippingFuture(_FakeFuture):
    """A Dask future whose worker dies just after its status is first read."""

    def __init__(self, key: str, first: str, then: str, blob: bytes) -> None:
        super().__init__(key)
        self.blob, self._first, self._then = blob, first, then

    @property
    def status(self) -> str:
        status, self._first = self._first or self._then, ""
        return status

    @status.setter
    def status(self, value: str) -> None:
        pass


@shared  # (the module's cluster may be running)
def test_a_result_lost_while_it_is_collected_yields_one_outcome_per_batch() -> None:
    # A worker's death turns a finished task "lost" at any moment; a batch read as both
    # "finished" and "lost" was once reported twice, ending the map before its last batches.
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._core import dump_results as _dump_results
    from poolwise.backends._dask import DaskBackend, _Task

    backend = DaskBackend(2)
    job = Job(helpers.add)
    tasks = []
    for n, (first, then) in enumerate([("finished", "lost"), ("lost", "finished")]):
        batch = Batch(job, range(2 * n, 2 * n + 2), [(2 * n, 1), (2 * n + 1, 1)])
        blob = b"O" + _dump_results([2 * n + 1, 2 * n + 2], None, 0.001)
        tasks.append(_Task(batch, _FlippingFuture(f"k{n}", first, then, blob)))
    backend._client = _FakeClient()
    out = backend._collect(tasks)
    assert [(o.batch.seq, o.values) for o in out] == [(tasks[0].batch.seq, [1, 2])]
    assert backend._tasks == {"k1": tasks[1]} and backend._lost == {"k1"}
    assert tasks[0].future.released and not tasks[1].future.released


@shared  # (the module's cluster may be running)
@pytest.mark.parametrize("alone", ["finished", "killed again"])
def test_an_item_blamed_for_dead_workers_runs_again_alone_before_it_fails(alone: str) -> None:
    # Dask blames every task a dying worker held, queued ones too: an innocent item queued
    # behind the guilty one on both workers that died was once failed with WorkerCrashed.
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._core import dump_results as _dump_results
    from poolwise.backends._dask import DaskBackend

    backend = DaskBackend(2)
    client = _FakeClient()
    backend._client, backend._started = client, True
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
    second.finish("finished", b"O" + _dump_results([12], None, 0.001))
    [done] = backend.poll(0)
    assert done.batch is other and done.values == [12]
    [key] = [k for k in client.futures if k.endswith("-alone")]  # now alone on the cluster
    assert backend.free_slots() == 0
    if alone == "finished":
        client.futures[key].finish("finished", b"O" + _dump_results([10], None, 0.001))
        [out] = backend.poll(0)
        assert out.batch is suspect and out.values == [10] and not out.errors
    else:
        client.futures[key].finish("error", error=KilledWorker())
        [out] = backend.poll(0)
        assert isinstance(out.errors[0].exception, pw.WorkerCrashed)
    assert backend.free_slots() == 4


@shared
def test_a_task_past_its_timeout_fails_and_the_rest_complete(client: Any, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    # The abandoned task keeps its worker's thread until it returns, and Dask may queue other
    # tasks behind it: open the gate a while after the timeout so that everything finishes.
    opener = threading.Timer(2.0, Path(gate).touch)
    opener.start()
    try:
        out = pw.map(
            gated(gate, 3),
            range(6),
            backend="dask",
            client=client,
            timeout=0.5,
            on_error="return",
            chunksize=1,
        )
    finally:
        opener.join()
    assert [r for i, r in enumerate(out) if i != 3] == [0, 1, 2, 4, 5]
    err = out[3].exception
    assert isinstance(err, pw.TaskTimeout) and err.index == 3
    assert "cannot interrupt" in str(err)


@shared
def test_small_results_come_back_as_events_large_ones_are_fetched(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[int] = []
    gather = client.gather

    def counting(futures: Any, *args: Any, **kwargs: Any) -> Any:
        fetched.append(len(futures))
        return gather(futures, *args, **kwargs)

    def events(dask_scheduler: Any, topic: str) -> int:
        topics = dask_scheduler._broker._topics.items()
        return sum(len(t.events) for name, t in topics if name.startswith(topic))

    monkeypatch.setattr(client, "gather", counting)
    with pw.Executor(backend="dask", client=client) as ex:
        # Dask tells the client of the task's event before it says the task finished
        assert list(ex.map(helpers.double, range(200), chunksize=20)) == list(range(0, 400, 2))
        assert fetched == []
        out = list(ex.map(lambda x: bytes(20_000) + bytes([x]), range(4), chunksize=1))
        assert [len(r) for r in out] == [20_001] * 4 and [r[-1] for r in out] == [0, 1, 2, 3]
        assert sum(fetched) == 4  # over the 16 KiB the scheduler would hold: fetched
        ours = ex._backend._topic
        assert client.run_on_scheduler(events, topic=ours) == 10
    assert released(client)
    assert client.run_on_scheduler(events, topic=ours) == 0  # dropped at shutdown


@shared  # (the module's cluster may be running)
def test_a_pushed_result_is_used_and_a_stray_one_dropped() -> None:
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._core import dump_results as _dump_results
    from poolwise.backends._dask import DaskBackend

    class NoFetching(_FakeClient):
        def gather(self, futures: list[_FakeFuture]) -> list[bytes]:
            raise AssertionError("a pushed result was fetched")

    backend = DaskBackend(2)
    client = NoFetching()
    backend._client, backend._started = client, True
    job = Job(helpers.double)
    backend.submit(Batch(job, [0, 1], [0, 1]))
    backend.submit(Batch(job, [2], [2]))
    backend.flush()
    first, second = client.futures.values()
    blob = b"O" + _dump_results([0, 2], None, 0.001)
    backend._on_result((0.0, [first.key, blob]))
    backend._on_result((0.0, ["poolwise-a-task-we-no-longer-hold", blob]))
    # its worker died after the task had sent its result: Dask computes it again
    first.finish("lost")
    [out] = backend.poll(0)
    assert out.values == [0, 2] and first.released
    assert set(backend._pushed) == set() and set(backend._tasks) == {second.key}


@shared  # (the module's cluster may be running)
def test_a_batch_run_outside_a_dask_worker_still_returns_its_result() -> None:
    import pickle

    from poolwise import _transport
    from poolwise.backends._dask_worker import RemoteJob as _RemoteJob
    from poolwise.backends._dask_worker import run_batch as _run_batch

    job = _RemoteJob(_transport.dumps_function((helpers.double, "one", False)))
    blob = _run_batch(job, None, _transport.dumps([1, 2]), 0, "topic")  # nothing to push to
    assert blob[:1] == b"O" and pickle.loads(blob[1:])[:2] == ([2, 4], None)


@shared  # (the module's cluster may be running)
def test_batches_of_a_measured_job_queue_deeper_on_the_scheduler() -> None:
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._dask import DaskBackend

    backend = DaskBackend(2)
    backend._client, backend._started = _FakeClient(), True  # 2 threads
    new, known = Job(helpers.double), Job(helpers.double, per_item=0.025)
    tiny = Job(helpers.double, per_item=1e-6)
    assert backend.free_slots() == 4
    backend.submit(Batch(new, [0], [0]))
    assert backend.free_slots() == 3  # a new job's batch sizes wait for its first timings
    backend.submit(Batch(known, [1, 2], [1, 2]))  # 50 ms of work: a batch of full size
    assert backend.free_slots() == 16 - 2  # Dask's scheduler queues them
    backend.submit(Batch(tiny, range(64), list(range(64))))  # still growing
    assert backend.free_slots() == 4 - 3


@shared  # (the module's cluster may be running)
def test_the_batches_of_one_fill_reach_the_scheduler_as_one_graph() -> None:
    # a graph per batch cost the parent's event loop a fifth of its time (update_graph)
    from poolwise._batching import Chunker
    from poolwise._dispatch import Dispatcher, JobRun
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._dask import DaskBackend
    from tests.test_batching import _ListSink

    backend = DaskBackend(2)
    client = _FakeClient()
    backend._client, backend._started = client, True  # 2 threads: 4 batches in flight
    dispatcher = Dispatcher(backend)
    dispatcher.add(JobRun(Job(helpers.double), range(10), _ListSink(), Chunker(2, fixed=2)))
    dispatcher.fill()
    assert [len(g) for g in client.graphs] == [4] and len(backend._tasks) == 4
    # staged batches count as in flight, and one cancelled before the flush is never sent
    job = Job(helpers.double)
    run = JobRun(job, range(2), _ListSink(), Chunker(2, fixed=1))
    backend._tasks.clear()
    first, second = run.next_batch(), run.next_batch()
    assert isinstance(first, Batch) and isinstance(second, Batch)
    backend.submit(first)
    backend.submit(second)
    assert backend.busy() == 2 and backend.free_slots() == 2 and len(client.graphs) == 1
    assert backend.cancel(run) == [first, second]
    backend.flush()
    assert len(client.graphs) == 1 and backend.busy() == 0


@shared  # (the module's cluster may be running)
def test_batches_submitted_before_the_input_fails_are_still_sent() -> None:
    from poolwise._batching import Chunker
    from poolwise._dispatch import Dispatcher, JobRun
    from poolwise.backends._base import Job
    from poolwise.backends._dask import DaskBackend
    from tests.test_batching import _ListSink

    def items() -> Any:
        yield 1
        yield 2
        raise ValueError("the input broke")

    backend = DaskBackend(2)
    client = _FakeClient()
    backend._client, backend._started = client, True
    dispatcher = Dispatcher(backend)
    dispatcher.add(JobRun(Job(helpers.double), items(), _ListSink(), Chunker(2, fixed=1)))
    with pytest.raises(ValueError, match="the input broke"):
        dispatcher.fill()
    assert [len(g) for g in client.graphs] == [2] and len(backend._tasks) == 2

    class Gone(_FakeClient):
        def map(self, fn: Any, *iterables: list[Any], key: list[str], pure: bool) -> list[Any]:
            raise OSError("the scheduler is gone")

    backend = DaskBackend(2)
    backend._client, backend._started = Gone(), True  # the flush fails too: the first error
    dispatcher = Dispatcher(backend)  # is the one raised
    dispatcher.add(JobRun(Job(helpers.double), items(), _ListSink(), Chunker(2, fixed=1)))
    with pytest.raises(ValueError, match="the input broke"):
        dispatcher.fill()


@shared  # (the module's cluster may be running)
def test_large_items_go_to_the_scheduler_in_graphs_of_a_few_megabytes() -> None:
    from poolwise.backends._base import Batch, Job
    from poolwise.backends._dask import DaskBackend

    backend = DaskBackend(2)
    client = _FakeClient()
    backend._client, backend._started = client, True
    job = Job(helpers.double)
    big = b"x" * (3 << 20)
    for i, item in enumerate([big, b"small", big, big, b"small"]):
        backend.submit(Batch(job, [i], [item]))
    backend.flush()
    # (Dask warns of graphs over 10 MB; a batch larger than the limit goes alone)
    assert [len(g) for g in client.graphs] == [2, 1, 2]
    assert backend.busy() == 5 and not backend._staged


# -- Executor ---------------------------------------------------------------------------------


@shared
def test_executor_submit_map_and_as_completed(client: Any) -> None:
    with pw.Executor(backend="dask", client=client) as ex:
        futures = [ex.submit(helpers.add, i, 1) for i in range(20)]
        assert {f.result() for f in cf.as_completed(futures)} == set(range(1, 21))
        assert list(ex.map(helpers.double, range(300))) == [2 * x for x in range(300)]
        bad = ex.submit(helpers.boom, 1)
        assert isinstance(bad.exception(), KeyError)
    assert client.status == "running"  # a client we were given is not closed


@shared
def test_terminate_cancels_everything_submitted(client: Any, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    ex = pw.Executor(backend="dask", client=client)
    try:
        futures = [ex.submit(helpers.wait_for_file, gate) for _ in range(10)]
        deadline = time.monotonic() + 30
        while len(poolwise_keys(client)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        ex.terminate()
        assert all(f.cancelled() or isinstance(f.exception(), cf.CancelledError) for f in futures)
        assert released(client)
    finally:
        Path(gate).touch()


@shared
def test_own_local_cluster_with_dashboard_is_closed_on_shutdown() -> None:
    with pw.Executor(backend="dask", workers=1) as ex:
        assert ex.dashboard_link is None  # not started yet
        ex.start()
        assert str(ex.dashboard_link).startswith("http")
        pids = ex.worker_pids()
        assert len(pids) == 1
        assert ex.submit(helpers.pid_of, 0).result() == pids[0]
        # Dask's statistical profiler is off in our own workers (it slows pure-Python tasks)
        callbacks = ex.client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks))
        assert callbacks and all("profile" not in names for names in callbacks.values())
        assert "heartbeat" in next(iter(callbacks.values()))
        # ...and its other chores run less often; the settings are for this cluster only
        tick = "distributed.admin.tick.interval"
        assert set(ex.client.run(helpers.dask_setting, tick).values()) == {"200ms"}
        assert helpers.dask_setting(tick) == "20ms"
    deadline = time.monotonic() + 10
    while any(psutil.pid_exists(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(psutil.pid_exists(p) for p in pids)


@shared  # (the module's cluster may be running)
def test_without_dask_the_error_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "poolwise\[dask\]"'):
        pw.map(helpers.double, range(3), backend="dask")


# -- a real cluster: scheduler and workers started with the command-line tools ----------------


def _dask_cli() -> str:
    return str(Path(sys.executable).parent / "dask")


def slow_identity(x: int) -> int:
    time.sleep(0.05)
    return x


@shared
def test_real_cluster_survives_a_worker_killed_with_sigkill(tmp_path: Path) -> None:
    sched_file = tmp_path / "scheduler.json"
    # the workers import the task functions by reference: put this checkout on their path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [
        subprocess.Popen(
            [
                _dask_cli(),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(sched_file),
            ],
            **quiet,  # type: ignore[call-overload]
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # the file is written in one go, but be sure it is complete
        address = json.loads(sched_file.read_text())["address"]
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [
                        _dask_cli(),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--name",
                        name,
                        "--host",
                        "127.0.0.1",
                    ],
                    **quiet,  # type: ignore[call-overload]
                )
            )
        with distributed.Client(address, set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
        victim = procs[2]
        n = 120
        seen: dict[int, Any] = {}
        it = pw.imap(
            slow_identity,
            range(n),
            backend="dask",
            address=address,
            on_error="return",
            ordered=False,
            chunksize=1,
        )
        for k, r in enumerate(it):
            if k == 10:  # results are flowing: both workers hold tasks now
                victim.send_signal(signal.SIGKILL)
            index = r.index if isinstance(r, pw.Failure) else r
            assert index not in seen, f"item {index} reported twice"
            seen[index] = r
        assert victim.wait(10) == -signal.SIGKILL
        assert sorted(seen) == list(range(n))
        for index, r in seen.items():
            if isinstance(r, pw.Failure):
                assert isinstance(r.exception, pw.WorkerCrashed), r
            else:
                assert r == index
    finally:
        # the workers first: a worker stopped with its scheduler may keep trying to reach it
        for p in procs[1:]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs[1:]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        procs[0].send_signal(signal.SIGTERM)
        for p in procs[:1]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
    assert all(p.returncode is not None for p in procs)
    mine = {c.pid for c in psutil.Process().children(recursive=True)}
    assert not mine & {p.pid for p in procs}
