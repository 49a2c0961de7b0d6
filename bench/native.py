"""Issue 19's native thread pools: 64 matrix products on threads and processes, with poolwise's
default limits and with the native pools sized by hand.

Each configuration runs in a fresh Python whose environment is set before numpy loads (which is
the only way to size a BLAS pool by hand): nothing set (poolwise's default: each worker's pool
gets its share of the CPUs), every ``*_NUM_THREADS`` variable at 1, and at the number of usable
CPUs (what numpy does unasked). Inside, poolwise threads and processes (2 workers each, warm)
run the products in alternating rounds; medians, and the median of five passes.

Goal: the default at least as fast as the better of the two set by hand (within 3%), on threads
and on processes; "within noise" when the default's passes and the better one's overlap (on this
shared machine the same setting moves by 5-8% from one run to the next).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import poolwise as pw
from poolwise.backends._native import VARIABLES

TITLE = "native: 64 matrix products (300 rows) on threads and processes, pools sized how"
ROOT = Path(__file__).parent.parent
NOISE = 1.03

CHILD = """
import json, statistics, sys, time
import numpy as np
import poolwise as pw

def product(i):
    a = np.random.default_rng(i).random((300, 300))
    for _ in range(6):
        a = (a @ a) / 300.0
    return float(a[0, 0])

def main(repeat):
    items = list(range(64))
    times = {"thread": [], "process": []}
    with pw.Executor(backend="thread", workers=2) as t, pw.Executor(backend="process", workers=2) as p:
        runners = {"thread": lambda: list(t.map(product, items, chunksize=1)),
                   "process": lambda: list(p.map(product, items, chunksize=1))}
        for r in runners.values():
            r()
        for _ in range(repeat):
            for name, r in runners.items():
                t0 = time.perf_counter()
                r()
                times[name].append(time.perf_counter() - t0)
    print(json.dumps({k: statistics.median(v) for k, v in times.items()}))

if __name__ == "__main__":
    main(int(sys.argv[1]))
"""


def _run_child(env_threads: int | None, repeat: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "POOLWISE_CPUS")}
    if env_threads is not None:
        env.update(dict.fromkeys(VARIABLES, str(env_threads)))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> list[dict[str, Any]]:
    repeat = 3 if quick else 11
    cpus = pw.usable_cpus()
    sized = {
        "default (poolwise sizes the pools)": None,
        "by hand: 1 thread per pool": 1,
        f"by hand: {cpus} threads per pool (numpy's own)": cpus,
    }
    # five passes, in turns and each in another order, so that a burst of load from another
    # program on this shared machine cannot fall on one setting alone; the median pass counts
    medians: dict[str, dict[str, list[float]]] = {k: {"thread": [], "process": []} for k in sized}
    labels = list(sized)
    for k in range(3 if quick else 5):
        for label in labels[k:] + labels[:k]:
            for backend, s in _run_child(sized[label], repeat).items():
                medians[label][backend].append(s)
    rows: list[dict[str, Any]] = []
    for backend in ("thread", "process"):
        passes = {label: m[backend] for label, m in medians.items()}
        got = {label: statistics.median(ts) for label, ts in passes.items()}
        default_label = "default (poolwise sizes the pools)"
        default = got[default_label]
        best_label = min((k for k in got if k.startswith("by hand")), key=got.__getitem__)
        best = got[best_label]
        for label, s in got.items():
            rows.append(
                {
                    "backend": f"{backend} x2",
                    "native pools": label,
                    "seconds": s,
                    "passes": f"{min(passes[label]):.3f}-{max(passes[label]):.3f}",
                    "x default": s / default,
                }
            )
        # a difference smaller than the passes' own ranges cannot be told from this machine's
        # noise: said so, not counted as a miss
        overlap = min(passes[default_label]) <= max(passes[best_label])
        met = "yes" if default <= NOISE * best else "within noise" if overlap else "NO"
        rows.append(
            {
                "backend": f"{backend} x2",
                "native pools": "goal: default <= the better by hand",
                "x default": best / default,
                "goal met": met,
            }
        )
    return rows
