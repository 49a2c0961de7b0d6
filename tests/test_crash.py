"""A worker that dies fails exactly its own task; the rest complete and the pool goes on."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
from pathlib import Path

import pytest

import poolwise as pw
from tests import crashers
from tests.crashers import CrashOn, CrashOnceOn, identity
from tests.outcomes import assert_exactly_once

N = 20


@pytest.mark.parametrize("bad", [0, 7, N - 1], ids=["first", "middle", "last"])
@pytest.mark.parametrize("chunksize", [1, 5, None], ids=["single", "batch5", "adaptive"])
@pytest.mark.parametrize("workers", [1, 2])
def test_exit_fails_only_that_task(bad: int, chunksize: int | None, workers: int) -> None:
    out = pw.map(
        CrashOn(bad),
        range(N),
        backend="process",
        workers=workers,
        chunksize=chunksize,
        on_error="return",
    )
    assert_exactly_once(out, N, {bad: pw.WorkerCrashed})
    err = out[bad].exception
    assert f"item {bad}" in str(err) and "exited with code 1" in str(err)
    assert err.index == bad and err.exitcode == 1 and err.pid


@pytest.mark.parametrize(
    ("how", "words"),
    [("sigkill", "SIGKILL (possibly out of memory)"), ("segfault", "SIGSEGV")],
)
@pytest.mark.parametrize("chunksize", [1, 5])
def test_signals_are_named(how: str, words: str, chunksize: int) -> None:
    out = pw.map(
        CrashOn(7, how),
        range(N),
        backend="process",
        workers=2,
        chunksize=chunksize,
        on_error="return",
    )
    assert_exactly_once(out, N, {7: pw.WorkerCrashed})
    assert words in str(out[7].exception)


def test_a_big_fast_batch_is_bisected_down_to_the_culprit() -> None:
    n = 5000
    out = pw.map(
        CrashOn(3333), range(n), backend="process", workers=2, chunksize=2500, on_error="return"
    )
    assert_exactly_once(out, n, {3333: pw.WorkerCrashed})


def test_raise_mode_raises_worker_crashed() -> None:
    with pytest.raises(pw.WorkerCrashed, match="item 3"):
        pw.map(CrashOn(3), range(10), backend="process", workers=2, chunksize=1)


def test_the_pool_keeps_working_after_a_crash() -> None:
    with pw.Executor(backend="process", workers=2) as ex:
        fut = ex.submit(CrashOn(1), 1)
        assert isinstance(fut.exception(), pw.WorkerCrashed)
        assert list(ex.map(identity, range(100))) == list(range(100))
        assert ex.submit(identity, 5).result() == 5
        assert len(ex.worker_pids()) == 2


def test_retries_run_a_crashed_task_again(tmp_path: Path) -> None:
    marker = str(tmp_path / "crashed-once")
    out = pw.map(
        CrashOnceOn(4, marker),
        range(10),
        backend="process",
        workers=2,
        retries=1,
        on_error="return",
    )
    assert out == list(range(10))
    assert Path(marker).exists()


def test_retries_give_up_after_n_attempts() -> None:
    out = pw.map(
        CrashOn(4),
        range(10),
        backend="process",
        workers=2,
        retries=2,
        chunksize=1,
        on_error="return",
    )
    assert_exactly_once(out, 10, {4: pw.WorkerCrashed})


def test_a_worker_killed_before_it_is_ready_fails_no_task(tmp_path: Path) -> None:
    # Each worker announces itself from its initializer and waits there; we kill two in turn.
    # A starting worker may hold its first batch in its pipe, unread: when it dies, that
    # batch runs again and no task is charged with those deaths.
    started, gate = tmp_path / "started", tmp_path / "gate"
    started.mkdir()
    with pw.Executor(
        backend="process",
        workers=1,
        initializer=crashers.announce_pid_then_wait,
        initargs=(str(started), str(gate)),
    ) as ex:
        futures = [ex.submit(identity, i) for i in range(3)]
        known: set[str] = set()
        for _ in range(2):
            pid = crashers.wait_for_new_file(str(started), known)
            known.add(pid)
            os.kill(int(pid), signal.SIGKILL)
        crashers.wait_for_new_file(str(started), known)
        gate.touch()
        assert [f.result(timeout=60) for f in futures] == [0, 1, 2]


def test_a_worker_slow_to_start_holds_no_task_the_others_could_run(tmp_path: Path) -> None:
    # One worker's initializer waits at a gate; every task must still run, on the other one.
    # (A batch written to a starting worker waits for its start, however long that takes.)
    gate = tmp_path / "gate"
    with pw.Executor(
        backend="process",
        workers=2,
        initializer=crashers.first_waits,
        initargs=(str(tmp_path), str(gate)),
    ) as ex:
        try:
            futures = [ex.submit(identity, i) for i in range(6)]
            done, _ = cf.wait(futures, timeout=60)
            assert len(done) == 6
            assert [f.result() for f in futures] == list(range(6))
        finally:
            gate.touch()


def test_the_message_names_item_pid_and_exit() -> None:
    out = pw.map(CrashOn(3), range(6), backend="process", workers=2, on_error="return")
    err = out[3].exception
    assert str(err) == f"worker pid {err.pid} exited with code 1 while running item 3"


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_crashes_under_forkserver(how: str) -> None:
    out = pw.map(
        CrashOn(4, how),
        range(10),
        backend="process",
        workers=2,
        start_method="forkserver",
        on_error="return",
    )
    assert_exactly_once(out, 10, {4: pw.WorkerCrashed})


@pytest.mark.parametrize("ordered", [True, False])
def test_imap_delivers_each_task_once_around_a_crash(ordered: bool) -> None:
    out = list(
        pw.imap(
            CrashOn(13),
            iter(range(40)),
            backend="process",
            workers=2,
            chunksize=4,
            ordered=ordered,
            on_error="return",
        )
    )
    values = sorted(r for r in out if not isinstance(r, pw.Failure))
    failures = [r for r in out if isinstance(r, pw.Failure)]
    assert values == [x for x in range(40) if x != 13]
    assert [f.index for f in failures] == [13]
    assert isinstance(failures[0].exception, pw.WorkerCrashed)


def test_executor_map_with_batches_raises_at_the_crashed_item() -> None:
    with pw.Executor(backend="process", workers=2) as ex:
        it = ex.map(CrashOn(25), range(60), chunksize=10)
        got = [next(it) for _ in range(25)]
        with pytest.raises(pw.WorkerCrashed, match="item 25"):
            next(it)
        assert got == list(range(25))
        assert list(ex.map(identity, range(30), chunksize=10)) == list(range(30))
