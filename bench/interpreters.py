"""Threads, processes and interpreters (Python 3.14's subinterpreters) side by side, in one run.

Five measurements, each for ``backend="thread"``, ``"process"`` and ``"interpreter"`` on 2
workers (and the standard library's ``InterpreterPoolExecutor`` where it compares):

- first result from a new pool, in a fresh program (imports done, the clock around the pool);
- memory per worker: what starting 4 workers adds to the proportional set size (PSS: pages
  shared by n processes count 1/n in each) of the parent and its worker processes;
- tiny-task throughput: 100,000 ``x * 2`` through a started pool;
- 64 x 25 ms of pure Python: parallel efficiency (serial / (2 x time)), aim 0.9 or better;
- 32 x 8 MB ``bytes`` arguments, each read in full by the task: what moving big buffers costs.

It runs on 3.14: this interpreter when it is one, else the one ``make pytest314`` fetched into
``.py314`` (a child runs the measurements and hands back the rows as JSON). Without one, a
single row says so. ``python -m bench interpreters``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TITLE = "interpreters: threads, processes and subinterpreters (Python 3.14), 2 workers"
W = 2
ROOT = Path(__file__).resolve().parent.parent
PY314 = ROOT / ".py314" / "root" / "usr" / "bin" / "python3.14"
SITE314 = ROOT / ".py314" / "site"
BACKENDS = ("thread", "process", "interpreter")
_SPIN = 1


def set_spin(n: int) -> None:
    global _SPIN
    _SPIN = n


def spin(_: int) -> int:
    total = 0
    for i in range(_SPIN):
        total += i * i
    return total


def tiny(x: int) -> int:
    return x * 2


def checksum(b: bytes) -> int:
    """Reads the whole buffer (at memory speed), as a task using its argument would."""
    return b.count(0)


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def calibrate(target: float = 0.025) -> int:
    n = 100_000
    while True:
        set_spin(n)
        t = min(_timed(lambda: spin(0)) for _ in range(3))
        if t > 0.005:
            return max(1, int(n * target / t))
        n *= 4


# -- the measurements (on 3.14) ----------------------------------------------------------------

FIRST = {
    "poolwise.map([x], thread)": "poolwise.map(abs, [-1], backend='thread', workers=2)",
    "poolwise.map([x], process)": "poolwise.map(abs, [-1], backend='process', workers=2)",
    "poolwise.map([x], interpreter)": "poolwise.map(abs, [-1], backend='interpreter', workers=2)",
    "cf.InterpreterPoolExecutor": (
        "with concurrent.futures.InterpreterPoolExecutor(2) as ex:\n    ex.submit(abs, -1).result()"
    ),
}


def first_result(repeat: int) -> list[dict[str, Any]]:
    """Each in a fresh program, in turns (drift moves every contender alike)."""
    codes = {
        name: (
            "import time, poolwise, concurrent.futures, multiprocessing.pool\n"
            "t0 = time.perf_counter()\n" + body + "\nprint(time.perf_counter() - t0)\n"
        )
        for name, body in FIRST.items()
    }
    times: dict[str, list[float]] = {name: [] for name in codes}
    for _ in range(repeat * 3):
        for name, code in codes.items():
            out = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout
            times[name].append(float(out))
    return [
        {
            "benchmark": "first result from a new pool",
            "runner": name,
            "seconds": statistics.median(ts),
        }
        for name, ts in times.items()
    ]


MEMORY = """
import json, poolwise, psutil
me = psutil.Process()
def pss(p):
    return p.memory_full_info().pss
base = pss(me)
with poolwise.Executor(backend={backend!r}, workers=4) as ex:
    ex.start()
    ex.submit(abs, -1).result()
    total = pss(me) - base + sum(pss(psutil.Process(pid)) for pid in ex.worker_pids())
print(json.dumps(total / 4))
"""


def memory(repeat: int) -> list[dict[str, Any]]:
    rows = []
    for backend in BACKENDS:
        sizes = []
        for _ in range(repeat):
            out = subprocess.run(
                [sys.executable, "-c", MEMORY.format(backend=backend)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            sizes.append(float(out))
        rows.append(
            {
                "benchmark": "memory per worker (PSS, 4 workers)",
                "runner": backend,
                "MB": statistics.median(sizes) / 1e6,
            }
        )
    return rows


def throughput(repeat: int) -> list[dict[str, Any]]:
    import poolwise as pw

    items = list(range(100_000))
    rows = []
    loop = statistics.median(_timed(lambda: [tiny(x) for x in items]) for _ in range(repeat))
    rows.append(
        {"benchmark": "100,000 tiny tasks", "runner": "plain loop", "tasks_per_s": 1e5 / loop}
    )
    for backend in BACKENDS:
        with pw.Executor(backend=backend, workers=W) as ex:
            ex.start()
            list(ex.map(tiny, range(100)))
            t = statistics.median(_timed(lambda: list(ex.map(tiny, items))) for _ in range(repeat))
        rows.append({"benchmark": "100,000 tiny tasks", "runner": backend, "tasks_per_s": 1e5 / t})
    return rows


def cpu(repeat: int) -> list[dict[str, Any]]:
    """64 x 25 ms on started pools, in turns with the plain loop; each round's efficiency is
    its own serial time over 2 x its time (the machine's speed drifts between rounds)."""
    import poolwise as pw

    items = list(range(64))
    pools: dict[str, Any] = {
        b: pw.Executor(backend=b, workers=W, initializer=set_spin, initargs=(_SPIN,))
        for b in BACKENDS
    }
    try:
        for ex in pools.values():
            ex.start()
            list(ex.map(spin, range(4)))
        runners: dict[str, Callable[[], Any]] = {"plain loop": lambda: [spin(x) for x in items]}
        for b, ex in pools.items():
            runners[b] = lambda ex=ex: list(ex.map(spin, items))  # type: ignore[misc]
        # the standard library's pools beside them: what the machine gives anyone
        import concurrent.futures as cf

        # (not the standard library's InterpreterPoolExecutor: its workers did not keep what
        # the initializer set, and ran 64 tasks in 5 ms)
        peers: dict[str, Any] = {"cf.ProcessPoolExecutor": cf.ProcessPoolExecutor}
        for name, cls in peers.items():
            peer = cls(W, initializer=set_spin, initargs=(_SPIN,))
            list(peer.map(spin, range(4)))
            pools[name] = peer  # (shut down with the others)
            runners[name] = lambda peer=peer: list(peer.map(spin, items))
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(2 * repeat + 1):
            for name, fn in runners.items():
                times[name].append(_timed(fn))
    finally:
        for ex in pools.values():
            ex.shutdown()
    base = times["plain loop"]
    return [
        {
            "benchmark": "64 x 25 ms pure Python",
            "runner": name,
            "seconds": statistics.median(ts),
            "efficiency": statistics.median(s / (W * t) for s, t in zip(base, ts)),
        }
        for name, ts in times.items()
    ]


def buffers(repeat: int) -> list[dict[str, Any]]:
    import poolwise as pw

    items = [bytes([i]) * (8 << 20) for i in range(32)]
    rows = [
        {
            "benchmark": "32 x 8 MB bytes",
            "runner": "plain loop",
            "seconds": statistics.median(
                _timed(lambda: [checksum(b) for b in items]) for _ in range(repeat)
            ),
        }
    ]
    for backend in BACKENDS:
        with pw.Executor(backend=backend, workers=W) as ex:
            ex.start()
            list(ex.map(checksum, items[:2]))
            t = statistics.median(
                _timed(lambda: list(ex.map(checksum, items))) for _ in range(repeat)
            )
        rows.append({"benchmark": "32 x 8 MB bytes", "runner": backend, "seconds": t})
    return rows


def measure(quick: bool) -> list[dict[str, Any]]:
    repeat = 2 if quick else 5
    set_spin(calibrate())
    rows: list[dict[str, Any]] = []
    for part in (first_result, memory, throughput, cpu, buffers):
        rows.extend(part(repeat))
    return rows


# -- from another Python -----------------------------------------------------------------------


def run(quick: bool) -> list[dict[str, Any]]:
    if sys.version_info >= (3, 14):
        return measure(quick)
    if not PY314.exists():
        return [{"skipped": "no Python 3.14: `make pytest314` fetches one into .py314"}]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (SITE314, ROOT / "src", ROOT)))}
    argv = [str(PY314), "-m", "bench.interpreters", *(["--quick"] if quick else [])]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    rows: list[dict[str, Any]] = json.loads(out.stdout)
    return rows


if __name__ == "__main__":
    print(json.dumps(measure("--quick" in sys.argv)))
