"""Native thread pools (backends/_native.py): each worker's share of the CPUs, in its
environment and its loaded BLAS, unless the user chose; a pool inside a task sized to it."""

from __future__ import annotations

import os
from typing import Any

import pytest

import poolwise as pw
from poolwise.backends import _native

pytestmark = pytest.mark.timeout(60)


def environment(_: Any) -> dict[str, str | None]:
    return {v: os.environ.get(v) for v in (*_native.VARIABLES, "POOLWISE_CPUS")}


def nested(_: Any) -> tuple[int, int]:
    from poolwise._options import default_workers

    return pw.usable_cpus(), default_workers("process")


def blas_threads(_: Any) -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in (*_native.VARIABLES, "POOLWISE_CPUS"):
        monkeypatch.delenv(v, raising=False)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_start_with_their_share_of_the_cpus(unset: None, workers: int) -> None:
    share = str(max(1, pw.usable_cpus() // workers))
    env = pw.map(environment, [0], backend="process", workers=workers)[0]
    assert env == dict.fromkeys(env, share)


def test_the_user_sizing_the_pools_is_left_alone(
    unset: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = pw.map(environment, [0], backend="process", workers=2)[0]
    assert env["OMP_NUM_THREADS"] == "3" and env["OPENBLAS_NUM_THREADS"] is None
    assert env["POOLWISE_CPUS"] == str(max(1, pw.usable_cpus() // 2))


def test_a_pool_inside_a_task_uses_the_cpus_its_worker_was_given(unset: None) -> None:
    share = max(1, pw.usable_cpus() // 2)
    assert pw.map(nested, [0], backend="process", workers=2) == [(share, share)]


def _blas_or_skip() -> list[int]:
    pytest.importorskip("numpy")
    pytest.importorskip("threadpoolctl")
    if pw.usable_cpus() < 2:
        pytest.skip("one CPU: every share is the whole machine")
    found = blas_threads(0)
    if not found or max(found) < 2:
        pytest.skip("no BLAS with a pool of several threads here")
    return found


def test_a_forked_worker_limits_the_blas_it_inherited(unset: None) -> None:
    before = _blas_or_skip()
    got = pw.map(blas_threads, [0], backend="process", workers=2, start_method="fork")[0]
    assert got == [max(1, pw.usable_cpus() // 2)] * len(before)
    assert blas_threads(0) == before


def test_threads_limit_the_blas_while_they_run(unset: None) -> None:
    before = _blas_or_skip()
    got = pw.map(blas_threads, range(4), backend="thread", workers=2)
    assert got == [[max(1, pw.usable_cpus() // 2)] * len(before)] * 4
    assert blas_threads(0) == before  # (restored once the map is over)


def test_two_thread_pools_closed_in_the_order_they_opened_restore_the_blas(unset: None) -> None:
    # (the second took the first's limit for the original and restored it last, for good)
    before = _blas_or_skip()
    first = pw.Executor(backend="thread", workers=2)
    second = pw.Executor(backend="thread", workers=2)
    try:
        assert first.submit(blas_threads, 0).result() == [max(1, pw.usable_cpus() // 2)] * len(
            before
        )
        second.submit(blas_threads, 0).result()
    finally:
        first.shutdown()
        second.shutdown()
    assert blas_threads(0) == before


def test_a_forkserver_worker_sees_the_sizes_the_user_set_after_the_server_started(
    unset: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pw.map(environment, [0], backend="process", workers=1, start_method="forkserver")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "5")
    env = pw.map(environment, [0], backend="process", workers=1, start_method="forkserver")[0]
    assert env["OPENBLAS_NUM_THREADS"] == "5" and env["OMP_NUM_THREADS"] is None
