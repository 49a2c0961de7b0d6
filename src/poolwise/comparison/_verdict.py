"""The verdict: which configuration wins, whether the win is real, and why, in plain words.

Pure: a function of the measurements (the tests feed it made-up ones).
"""

from __future__ import annotations

from collections.abc import Sequence

from poolwise.comparison._record import Measurement
from poolwise.measure._stats import differ

# in a tie the simpler wins; processes before interpreters: as fast, they can also stop a task
# (timeout) and survive a crash, and every extension module loads in them
_SIMPLER = {"serial": 0, "thread": 1, "process": 2, "interpreter": 3, "dask": 4}
_POOL = {"process": ("processes", "the pool"), "interpreter": ("interpreters", "the interpreters")}
TOO_LITTLE = 0.005  # seconds: a serial run this short is too little work for a pool to pay
FREE_THREADED = "the GIL is off (a free-threaded build): threads run Python in parallel"
BUSY = 0.5  # share of one CPU the serial run keeps busy, above which it computes (not waits)


def _code(m: Measurement, name: str) -> str:
    if m.backend == "serial":
        return f'poolwise.map({name}, items, backend="serial")'
    return f'poolwise.map({name}, items, backend="{m.backend}", workers={m.workers})'


def decide(
    measurements: Sequence[Measurement],
    n_items: int,
    name: str = "fn",
    *,
    gil_enabled: bool = True,
) -> tuple[str, tuple[str, ...], str, str]:
    """(best label or "", the labels not significantly different from it, the explanation,
    the line of code).

    The fastest configuration and every one not significantly slower form a group; the
    simplest of the group wins (serial, then threads, then processes; fewer workers), unless
    the fastest or the winner is noisy and the group spans backends: then it is too noisy to decide.
    The explanation only states what the numbers show (a GIL-bound function is one whose
    serial run keeps a CPU busy and which threads do not speed up); on a free-threaded build
    with the GIL off it says so, since threads then run Python in parallel.
    """
    fastest = min(measurements, key=lambda m: m.summary.median)
    ties = [m for m in measurements if m is not fastest and not differ(fastest.times, m.times)]
    # among configurations that are not significantly slower, the simplest one wins
    group = [fastest, *ties]
    best = min(group, key=lambda m: (_SIMPLER.get(m.backend, 9), m.workers, m.summary.median))
    serial = next(m for m in measurements if m.backend == "serial")
    threads = [m for m in measurements if m.backend == "thread"]
    backends_in_tie = {m.backend for m in group}
    if serial.summary.median < TOO_LITTLE:
        verdict = ("" if gil_enabled else FREE_THREADED + "; ") + (
            f"serial: the whole serial run takes {serial.summary.median * 1e3:.2f} ms, too "
            "little work for a pool to pay off (differences this small are mostly noise; "
            f"fastest measured: {fastest.label})."
        )
        tied = tuple(m.label for m in group if m is not serial)
        return "serial", tied, verdict, _code(serial, name)
    noisy = fastest.summary.noisy or best.summary.noisy
    if noisy and len(backends_in_tie) > 1 and best is not fastest:
        verdict = ("" if gil_enabled else FREE_THREADED + "; ") + (
            f"too noisy to decide: {', '.join(m.label for m in group)} are within each other's "
            f"spread ({fastest.summary.spread:.0%} for the fastest); run again on a quieter "
            "machine or with more repeats"
        )
        return "", tuple(m.label for m in group), verdict, _code(best, name)
    parts = [FREE_THREADED] if not gil_enabled else []
    if best.backend == "serial":
        ratio = serial.summary.median / fastest.summary.median
        parts.append(
            "serial is fastest: parallelism did not pay"
            if best is fastest
            else "serial is the right choice: nothing parallel was significantly faster "
            f"(best parallel: {fastest.label} at {ratio:.2f}x)"
        )
    else:
        parts.append(f"{best.label} is {best.speedup:.1f}x faster than serial")
    if threads:
        bt = max(threads, key=lambda m: m.speedup)
        busy = serial.cpu_seconds / serial.summary.median if serial.summary.median > 0 else 0.0
        if bt.speedup >= 1.2:
            why = (
                "the function releases the GIL or waits"
                if gil_enabled
                else "with the GIL off they run its Python in parallel"
            )
            parts.append(f"threads gave {bt.speedup:.1f}x ({bt.label}): {why}")
        elif busy >= BUSY and gil_enabled:
            parts.append(f"the function holds the GIL: threads gave {bt.speedup:.1f}x at best")
        else:
            parts.append(f"threads gave {bt.speedup:.1f}x at best")
    for kind, (plural, pool) in _POOL.items():
        parts += _startup_words(measurements, best, serial, n_items, kind, plural, pool)
    if ties and best is not fastest:
        parts.append(f"{fastest.label} measured faster but not significantly")
    elif ties:
        parts.append(f"as fast within the noise: {', '.join(m.label for m in ties)}")
    tied = tuple(m.label for m in group if m is not best)
    return best.label, tied, "; ".join(parts) + ".", _code(best, name)


def _startup_words(
    measurements: Sequence[Measurement],
    best: Measurement,
    serial: Measurement,
    n_items: int,
    kind: str,
    plural: str,
    pool: str,
) -> list[str]:
    """What starting processes (or interpreters) cost, and when it pays off."""
    mine = [m for m in measurements if m.backend == kind]
    if not mine:
        return []
    if best.backend == kind:
        gain = (serial.summary.median - best.summary.median) / n_items
        if gain <= 0:
            return []
        pays = int(best.startup / gain) + 1
        return [
            f"starting {pool} costs {best.startup * 1e3:.0f} ms, which pays off above about "
            f"{pays} items"
        ]
    top = max(mine, key=lambda m: m.speedup)
    return [
        f"{plural} gave {top.speedup:.1f}x ({top.label}) and cost {top.startup * 1e3:.0f} ms "
        "to start"
    ]
