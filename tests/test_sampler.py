"""The resource sampler: CPU time and memory over the parent and its workers.

Fake processes make the sums exact; one real child checks that a worker which exits during
the measurement keeps the CPU time it was last seen with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from types import SimpleNamespace

import psutil
import pytest

from poolwise.measure._sampler import Sampler


@dataclass
class FakeProcess:
    cpu: float
    rss: int
    pss: int | None = None
    alive: bool = True
    denied: bool = False

    def cpu_times(self) -> SimpleNamespace:
        if not self.alive:
            raise psutil.NoSuchProcess(0)
        return SimpleNamespace(user=self.cpu * 0.75, system=self.cpu * 0.25)

    def memory_full_info(self) -> SimpleNamespace:
        if self.denied:
            raise psutil.AccessDenied(0)
        if self.pss is None:
            return SimpleNamespace(rss=self.rss)
        return SimpleNamespace(rss=self.rss, pss=self.pss)

    def memory_info(self) -> SimpleNamespace:
        return SimpleNamespace(rss=self.rss)


class Machine:
    """The parent and a changing set of workers, as the sampler would see them."""

    def __init__(self) -> None:
        self.procs: dict[int, FakeProcess] = {os.getpid(): FakeProcess(1.0, 100, 60)}
        self.workers: list[int] = []

    def process(self, pid: int) -> FakeProcess:
        p = self.procs.get(pid)
        if p is None or not p.alive:
            raise psutil.NoSuchProcess(pid)
        return p

    def pids(self) -> list[int]:
        return list(self.workers)


def sampler(m: Machine) -> Sampler:
    # an hour between background samples: only the explicit ones below happen
    return Sampler(m.pids, interval=3600, process=m.process)


def test_cpu_sums_parent_and_workers_including_one_that_exited() -> None:
    m = Machine()
    parent = m.procs[os.getpid()]
    m.procs[11] = FakeProcess(2.0, 200, 150)
    m.workers = [11]
    with sampler(m) as s:
        # a replacement worker starts during the measurement, works, and exits
        m.procs[12] = FakeProcess(0.25, 300, 200)
        m.workers = [11, 12]
        s.sample()
        m.procs[12].cpu = 0.75
        s.sample()
        m.procs[12].alive = False
        m.workers = [11]
        m.procs[11].cpu = 3.0
        parent.cpu = 1.5
    # parent 0.5 since the start, worker 11 1.0 since the start, worker 12 0.75 since birth
    assert s.usage.cpu_seconds == pytest.approx(0.5 + 1.0 + 0.75)
    assert s.usage.peak_rss == 100 + 200 + 300
    assert s.usage.peak_pss == 60 + 150 + 200


def test_pss_is_none_where_the_kernel_does_not_give_it() -> None:
    m = Machine()
    m.procs[11] = FakeProcess(0.0, 200, pss=None)
    m.workers = [11]
    with sampler(m) as s:
        pass
    assert s.usage.peak_rss == 300 and s.usage.peak_pss is None


def test_access_denied_falls_back_to_rss() -> None:
    m = Machine()
    m.procs[11] = FakeProcess(0.0, 200, 100, denied=True)
    m.workers = [11]
    with sampler(m) as s:
        pass
    assert s.usage.peak_rss == 300 and s.usage.peak_pss is None


def test_a_worker_gone_before_the_first_sample_is_skipped() -> None:
    m = Machine()
    m.workers = [99]  # listed by the pool, but already gone
    with sampler(m) as s:
        pass
    assert s.usage.peak_rss == 100 and s.usage.cpu_seconds == 0.0


def test_real_child_that_exits_keeps_its_cpu_time() -> None:
    burn = "import time\nwhile time.process_time() < 0.3:\n    pass\n"
    pids: list[int] = []
    with Sampler(lambda: pids, interval=0.005) as s:
        child = subprocess.Popen([sys.executable, "-c", burn])
        pids.append(child.pid)
        child.wait(timeout=60)  # reaped: the sampler can no longer ask about it
    # the child used at least 0.3 s of CPU; all but the last sampling interval is seen
    assert s.usage.cpu_seconds >= 0.2
    assert s.usage.peak_rss >= psutil.Process().memory_info().rss // 2
