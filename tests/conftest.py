"""Shared fixtures: every test is checked for child processes it leaves behind.

Hangs: pytest-timeout (signal method, so the test process stays single-threaded and the
process backend's fork path is the one exercised) fails a hung test and dumps every stack.
"""

from __future__ import annotations

import multiprocessing.forkserver
import multiprocessing.resource_tracker
import time
from collections.abc import Iterator

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
