"""How many CPUs this process may really use: affinity and the cgroup quota, not the total."""

from __future__ import annotations

import math
import os

# set in a worker process to the CPUs it was given (backends/_native.py): a pool started inside
# a task sizes itself to those, not to the machine
CPUS_VARIABLE = "POOLWISE_CPUS"


def _read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def _cgroup_quota(root: str = "/sys/fs/cgroup") -> float | None:
    root = str(root)
    try:  # cgroup v2
        quota, period = _read(os.path.join(root, "cpu.max")).split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        q = int(_read(os.path.join(root, "cpu", "cpu.cfs_quota_us")))
        p = int(_read(os.path.join(root, "cpu", "cpu.cfs_period_us")))
        return q / p if q > 0 and p > 0 else None
    except (OSError, ValueError):
        return None


def usable_cpus(cgroup_root: str | os.PathLike[str] | None = None) -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup CPU quota, and
    inside a poolwise worker by the CPUs the worker was given."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_quota(os.fspath(cgroup_root)) if cgroup_root else _cgroup_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    given = os.environ.get(CPUS_VARIABLE, "")
    if given.isdigit() and int(given) > 0:
        n = min(n, int(given))
    return max(1, n)
