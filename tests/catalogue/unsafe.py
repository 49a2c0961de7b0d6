"""Functions correct serially and wrong on threads (backend="auto" must never hand back their
threaded results), and one whose results vary by nature (which must not pass for unsafe)."""

from __future__ import annotations

import random
import time
import types

_scratch = types.SimpleNamespace(value=0)
claims: dict[str, int] = {}


def scratch_cpu(x: int) -> int:
    """Reuses a module-level scratch object around about a millisecond of pure Python."""
    _scratch.value = x
    total = 0
    for i in range(20_000):
        total += i
    return _scratch.value + 1


def scratch_wait(x: int) -> int:
    _scratch.value = x
    time.sleep(0.005)  # the workload: it waits
    return _scratch.value + 1


def check_then_act(x: int) -> int:
    """Claims a module-level slot if it is free; serially it always is."""
    if "owner" not in claims:
        claims["owner"] = x
        time.sleep(0.002)  # the workload
        return claims.pop("owner") * 2
    return -1


def noisy_wait(_: int) -> float:
    time.sleep(0.005)
    return random.random()
