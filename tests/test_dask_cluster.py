"""The dask backend on real clusters: what only Dask does (the shared behaviour is in
test_api.py, which runs over dask too).

The module's LocalCluster of 2 worker processes (``dask_client`` in conftest) serves most
tests; one starts its own LocalCluster, and one a scheduler and workers with Dask's
command-line tools, to kill a worker with SIGKILL.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
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

distributed = pytest.importorskip(
    "distributed", reason='dask.distributed is not installed (pip install "poolwise[dask]")'
)


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


def test_lambdas_and_closures_travel_once_per_job(dask_client: Any) -> None:
    big = list(range(100_000))  # the closure travels once, not with each batch
    out = pw.map(lambda x: x + len(big), range(1000), backend="dask", client=dask_client)
    assert out == [x + 100_000 for x in range(1000)]
    assert released(dask_client)  # the batches and the job are released


@pytest.mark.parametrize("size", [10, 200_000], ids=["inline", "as-a-task"])
def test_the_job_is_unpickled_once_per_worker_however_many_batches(
    dask_client: Any, size: int
) -> None:
    tag = f"job-{size}"
    marker = helpers.CountsUnpickling(tag, b"x" * size)  # small: inline; large: a task of its own
    out = pw.map(
        lambda x: (x, marker.tag), range(400), backend="dask", client=dask_client, chunksize=4
    )
    assert out == [(x, tag) for x in range(400)]  # 100 batches
    counts = dask_client.run(helpers.unpicklings, tag)
    assert sum(counts.values()) >= 1
    assert all(n <= 1 for n in counts.values()), counts
    assert released(dask_client)


def byte_at(item: tuple[bytes, int]) -> tuple[int, int]:
    data, i = item
    return data[i], len(data)


def test_a_large_argument_many_tasks_share_goes_to_the_cluster_once(
    dask_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poolwise.backends import _dask_stage

    sent: list[int] = []
    flush = _dask_stage.Stager.flush

    def counting(self: Any, track: Any) -> None:
        sent.extend(len(staged[3]) for staged in self._staged)
        flush(self, track)

    monkeypatch.setattr(_dask_stage.Stager, "flush", counting)
    data = bytes(range(256)) * 8192  # 2 MiB
    items = [(data, i) for i in range(40)]
    out = pw.map(byte_at, items, backend="dask", client=dask_client, chunksize=2)
    assert out == [(i, len(data)) for i in range(40)]
    assert len(sent) == 20  # batches
    assert sum(sent) < 2.5 * len(data)  # (inline in the first batch, then named: not 20 times)
    assert released(dask_client)


def first_byte(data: bytearray) -> int:
    return data[0]


def refilled(n: int) -> Iterator[bytearray]:
    """One 2 MiB buffer, refilled for each item (a reader filling the same chunk again)."""
    buf = bytearray(2 << 20)
    for i in range(n):
        buf[:] = bytes([i]) * len(buf)
        yield buf


def test_a_shared_argument_changed_since_is_sent_again_not_its_old_bytes(
    dask_client: Any,
) -> None:
    # (the same object in a later batch named the task holding its bytes of an earlier one)
    out = pw.imap(first_byte, refilled(8), backend="dask", client=dask_client, chunksize=1)
    assert list(out) == list(range(8))
    assert released(dask_client)


def test_an_unpicklable_argument_fails_only_its_task(dask_client: Any) -> None:
    items: list[Any] = [1, 2, threading.Lock(), 4]
    out = pw.map(helpers.double, items, backend="dask", client=dask_client, on_error="return")
    assert out[:2] == [2, 4] and out[3] == 8
    assert isinstance(out[2].exception, pw.PicklingError)
    # with nothing picklable, nothing reaches the cluster; each still fails, once
    out = pw.map(
        helpers.double, [threading.Lock()], backend="dask", client=dask_client, on_error="return"
    )
    assert [type(f.exception) for f in out] == [pw.PicklingError]


@pytest.mark.slow  # Dask notices the dead worker and its nanny starts another
def test_a_task_that_kills_its_worker_fails_alone_with_worker_crashed(dask_client: Any) -> None:
    out = pw.map(crash_on(3), range(8), backend="dask", client=dask_client, on_error="return")
    assert [r for i, r in enumerate(out) if i != 3] == [x for x in range(8) if x != 3]
    assert isinstance(out[3].exception, pw.WorkerCrashed)
    assert "retries exhausted" in str(out[3].exception)
    dask_client.wait_for_workers(2)  # the nannies restarted the workers


@pytest.mark.slow  # a real timeout of half a second
def test_a_task_past_its_timeout_fails_and_the_rest_complete(
    dask_client: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    it = pw.imap(
        gated(str(gate), 3),
        range(6),
        backend="dask",
        client=dask_client,
        timeout=0.5,
        on_error="return",
        chunksize=1,
        ordered=False,
    )
    out: dict[int, Any] = {}
    try:
        for r in it:
            if isinstance(r, pw.Failure):
                # The abandoned task keeps its worker's thread until it returns, and Dask may
                # queue other tasks behind it: let it return now that it has timed out.
                gate.touch()
                out[r.index] = r
            else:
                out[r] = r
    finally:
        gate.touch()
    assert sorted(out) == list(range(6))
    assert [out[i] for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
    err = out[3].exception
    assert isinstance(err, pw.TaskTimeout) and err.index == 3
    assert "cannot interrupt" in str(err)


def _events(dask_scheduler: Any) -> dict[str, int]:
    """How many events the scheduler keeps on each of poolwise's topics."""
    topics = dask_scheduler._broker._topics.items()
    return {name: len(t.events) for name, t in topics if name.startswith("poolwise-")}


def test_small_results_come_back_as_events_large_ones_are_fetched(
    dask_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[int] = []
    gather = dask_client.gather

    def counting(futures: Any, *args: Any, **kwargs: Any) -> Any:
        fetched.append(len(futures))
        return gather(futures, *args, **kwargs)

    monkeypatch.setattr(dask_client, "gather", counting)

    def ours() -> int:  # (a task abandoned by an earlier test may push its result late)
        now = dask_client.run_on_scheduler(_events)
        return sum(n for name, n in now.items() if name not in before)

    before = dask_client.run_on_scheduler(_events)
    with pw.Executor(backend="dask", client=dask_client) as ex:
        # Dask tells the client of the task's event before it says the task finished
        assert list(ex.map(helpers.double, range(200), chunksize=20)) == list(range(0, 400, 2))
        assert fetched == []
        out = list(ex.map(lambda x: bytes(20_000) + bytes([x]), range(4), chunksize=1))
        assert [len(r) for r in out] == [20_001] * 4 and [r[-1] for r in out] == [0, 1, 2, 3]
        assert sum(fetched) == 4  # over the 16 KiB the scheduler would hold: fetched
        assert ours() == 10
    assert released(dask_client)
    assert ours() == 0  # dropped at shutdown


def test_terminate_cancels_everything_submitted(dask_client: Any, tmp_path: Path) -> None:
    gate = str(tmp_path / "gate")
    ex = pw.Executor(backend="dask", client=dask_client)
    try:
        futures = [ex.submit(helpers.wait_for_file, gate) for _ in range(10)]
        deadline = time.monotonic() + 30
        while len(poolwise_keys(dask_client)) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        ex.terminate()
        assert all(f.cancelled() or isinstance(f.exception(), cf.CancelledError) for f in futures)
        assert released(dask_client)
    finally:
        Path(gate).touch()
    assert dask_client.status == "running"  # a client we were given is not closed


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


# -- a real cluster: scheduler and workers started with the command-line tools ----------------


def _dask_cli() -> str:
    return str(Path(sys.executable).parent / "dask")


def slow_identity(x: int) -> int:
    time.sleep(0.05)
    return x


def _scheduler_address(sched_file: Path) -> str:
    """The address in the scheduler's file, once it has written it whole."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            return str(json.loads(sched_file.read_text())["address"])
        except (FileNotFoundError, ValueError, KeyError):
            time.sleep(0.05)
    raise TimeoutError(f"the scheduler wrote no address to {sched_file} in 60 s")


@pytest.mark.slow  # starts a scheduler and two workers
def test_real_cluster_survives_a_worker_killed_with_sigkill(tmp_path: Path) -> None:
    sched_file = tmp_path / "scheduler.json"
    # the workers import the task functions by reference: put this checkout on their path
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    scheduler = [_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0"]
    scheduler += ["--no-dashboard", "--scheduler-file", str(sched_file)]
    procs = [subprocess.Popen(scheduler, **quiet)]  # type: ignore[call-overload]
    try:
        address = _scheduler_address(sched_file)
        for name in ("w1", "w2"):
            worker = [_dask_cli(), "worker", address, "--nthreads", "1", "--no-nanny"]
            worker += ["--no-dashboard", "--name", name, "--host", "127.0.0.1"]
            procs.append(subprocess.Popen(worker, **quiet))  # type: ignore[call-overload]
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
        for group in (procs[1:], procs[:1]):
            for p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in group:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
    assert all(p.returncode is not None for p in procs)
    mine = {c.pid for c in psutil.Process().children(recursive=True)}
    assert not mine & {p.pid for p in procs}
