"""Issue 16's correctness goal: under the default, every result is what the function returns
for that item alone, for functions correct serially and wrong on threads: 100 of 100 runs.

Each run forgets what auto remembered, so each one measures (and checks threads) afresh; the
functions are those of the issue (a module-level scratch object around 1 ms of pure Python, the
same around a 5 ms sleep) and a check-then-act on a module-level dict. A function whose
results vary by nature (random) must not be judged unsafe in any run.

Twice: on the machine as it is, then beside two processes busy-looping (one per CPU of a
2-core machine) the whole time: on a busy machine a trial's threads can take turns instead of
running together, and a check that did not see them run together must not pass for one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import poolwise as pw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.catalogue
from tests.catalogue.unsafe import check_then_act, noisy_wait, scratch_cpu, scratch_wait

TITLE = "auto safety: wrong results under the default, 100 runs each (forgetting between runs)"
RUNS = 100


BUSY = "while True:\n    pass\n"


def run(quick: bool) -> list[dict[str, Any]]:
    rows = _suite(quick, "as it is")
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        rows += _suite(quick, "busy")
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return rows


def _suite(quick: bool, load: str) -> list[dict[str, Any]]:
    runs = 10 if quick else RUNS
    rows = []
    for fn, n in ((scratch_cpu, 400), (scratch_wait, 200), (check_then_act, 150)):
        expected = [fn(x) for x in range(n)]
        bad_runs = wrong = 0
        decisions: dict[str, int] = {}
        t0 = time.perf_counter()
        for _ in range(runs):
            pw.forget()
            out = pw.map(fn, range(n))
            miss = sum(a != b for a, b in zip(out, expected)) + abs(len(out) - n)
            wrong += miss
            bad_runs += miss > 0
            for r in pw.remembered():
                decisions[r.decision] = decisions.get(r.decision, 0) + 1
        rows.append(
            {
                "machine": load,
                "function": fn.__name__,
                "items": n,
                "runs": runs,
                "runs_with_a_wrong_result": bad_runs,
                "wrong_results": wrong,
                "decisions": ", ".join(f"{k}: {v}" for k, v in sorted(decisions.items())),
                "seconds_per_run": (time.perf_counter() - t0) / runs,
            }
        )
    verdicts: dict[str, int] = {}
    for _ in range(runs):
        pw.forget()
        a = pw.advise(noisy_wait, range(100))
        verdicts[a.measured["thread_safety"]] = verdicts.get(a.measured["thread_safety"], 0) + 1
    rows.append(
        {
            "machine": load,
            "function": "noisy_wait (random results)",
            "items": 100,
            "runs": runs,
            "runs_with_a_wrong_result": None,
            "wrong_results": None,
            "decisions": "thread safety: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(verdicts.items())),
            "seconds_per_run": None,
        }
    )
    return rows
