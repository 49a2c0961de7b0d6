"""The worker counts ``compare`` tries for each backend when the caller names none."""

from __future__ import annotations


def ladder(backend: str, cpus: int) -> list[int]:
    """1, 2, 4, ... and the CPU count: up to 2x the CPUs for processes and interpreters (more
    only queue up on the same CPUs), up to 32 or 2x the CPUs for threads (they pay off when the
    function waits, so the useful count is not bounded by the CPUs)."""
    if backend == "serial":
        return [1]
    top = 2 * cpus if backend in ("process", "interpreter", "dask") else max(32, 2 * cpus)
    out = {cpus}
    k = 1
    while k <= top:
        out.add(k)
        k *= 2
    return sorted(x for x in out if x <= top)
