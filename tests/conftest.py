"""Shared fixtures: every test is checked for child processes it leaves behind.

One Dask LocalCluster (``dask_client``) serves each test module that asks for it, started when
a test first does: its worker processes are not counted as left behind until the module ends,
when it is closed and checked like any test. Not the whole session: its client's event-loop
threads run Python now and then, and the tests after it (the GIL sampler's, the fork path's)
need a process of their own threads only.

Hangs: pytest-timeout (signal method, so the test process stays single-threaded and the
process backend's fork path is the one exercised) fails a hung test and dumps every stack.
"""

from __future__ import annotations

import logging
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest


def _infrastructure_pids() -> set[int]:
    """multiprocessing's own long-lived helpers, which outlive any one pool by design."""
    pids = set()
    fs_pid = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
    if fs_pid:
        pids.add(fs_pid)
    rt_pid = getattr(multiprocessing.resource_tracker._resource_tracker, "_pid", None)
    if rt_pid:
        pids.add(rt_pid)
    return pids | _dask_cluster_pids()


_dask_cluster: Any = None  # the module's LocalCluster, while it runs


def _dask_cluster_pids() -> set[int]:
    """The module cluster's worker processes (a nanny restarts one that dies) and theirs."""
    if _dask_cluster is None:
        return set()
    pids = set()
    for nanny in list(_dask_cluster.workers.values()):
        pid = getattr(nanny, "pid", None)
        if pid is None:
            continue
        pids.add(pid)
        try:
            pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass
    return pids


def leftover_children(grace: float = 5.0) -> list[psutil.Process]:
    """Children of this process still alive after up to `grace` seconds (zombies count)."""
    me = psutil.Process()
    deadline = time.monotonic() + grace
    while True:
        infra = _infrastructure_pids()
        alive = []
        for child in me.children(recursive=True):
            if child.pid in infra:
                continue
            alive.append(child)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def _no_leftover_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if request.node.get_closest_marker("allow_children"):
        return
    alive = leftover_children()
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    assert not alive, f"test left child processes running: {[(p.pid, p.name()) for p in alive]}"


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a LocalCluster of 2 single-threaded worker processes."""
    distributed = pytest.importorskip(
        "distributed", reason='dask.distributed is not installed (pip install "poolwise[dask]")'
    )
    import dask

    global _dask_cluster
    # Dask reruns a task whose worker died; once is enough here (default 3) and much faster.
    # A result fetched from a worker just as it dies costs Dask's connect timeout (30 s by
    # default: it retries the refused connection) before it is computed again: 5 s here.
    with dask.config.set(
        {
            "distributed.scheduler.allowed-failures": 1,
            "distributed.comm.timeouts.connect": "5s",
        }
    ):
        _dask_cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        client = distributed.Client(_dask_cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
            _dask_cluster.close()
            _dask_cluster = None
    alive = leftover_children()
    for p in alive:
        p.kill()
    assert not alive, f"the dask cluster left processes: {[p.pid for p in alive]}"
