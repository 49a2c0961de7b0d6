"""CPU time and memory of this process and of its worker processes, sampled in a thread.

Workers can exit during a measurement (recycling, crashes), so their last-seen CPU times are
kept. Memory is the peak of the summed resident sets (RSS), and of the proportional sets (PSS,
which splits shared pages fairly) where the kernel provides them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float  # user + system, parent and workers
    peak_rss: int  # bytes, summed over parent and workers
    peak_pss: int | None


class Sampler:
    """``with Sampler(pids) as s: ...`` then ``s.usage``. ``pids`` is called at each sample.

    ``process`` makes a ``psutil.Process``-like object from a pid (tests pass fakes); it is
    sampled every ``interval`` seconds in a daemon thread, and once more on exit.
    """

    def __init__(
        self,
        pids: Callable[[], list[int]],
        interval: float = 0.02,
        *,
        process: Callable[[int], Any] | None = None,
    ) -> None:
        import psutil  # (loads when sampling starts: start-up time)

        self._psutil = psutil
        self._pids = pids
        self._interval = interval
        self._process: Callable[[int], Any] = process or psutil.Process
        self._me_pid = os.getpid()
        self._procs: dict[int, Any] = {}
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._peak_rss = 0
        self._peak_pss: int | None = None
        self._begun = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.usage = Usage(0.0, 0, None)

    def _cpu(self, p: Any) -> float:
        t = p.cpu_times()
        return float(t.user + t.system)

    def sample(self) -> None:
        rss = 0
        pss: int | None = 0
        pids = dict.fromkeys([self._me_pid, *self._pids()])
        for pid in pids:
            p = self._procs.get(pid)
            try:
                if p is None:
                    p = self._procs[pid] = self._process(pid)
                    # a process already running when sampling began counts from then; one that
                    # started later counts from its birth
                    self._cpu_start.setdefault(pid, self._cpu(p) if not self._begun else 0.0)
                self._cpu_last[pid] = self._cpu(p)
                try:
                    info = p.memory_full_info()
                    rss += info.rss
                    if pss is not None and hasattr(info, "pss"):
                        pss += info.pss
                    else:
                        pss = None
                except (self._psutil.AccessDenied, AttributeError):
                    rss += p.memory_info().rss
                    pss = None
            except self._psutil.Error:
                continue
        self._peak_rss = max(self._peak_rss, rss)
        if pss is not None:
            self._peak_pss = max(self._peak_pss or 0, pss)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._begun = True
        self._thread = threading.Thread(target=self._run, name="poolwise-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        cpu = sum(self._cpu_last[pid] - self._cpu_start.get(pid, 0.0) for pid in self._cpu_last)
        self.usage = Usage(max(0.0, cpu), self._peak_rss, self._peak_pss)
