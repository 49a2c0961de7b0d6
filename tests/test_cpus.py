from __future__ import annotations

import os
from pathlib import Path

import pytest

from poolwise._cpus import usable_cpus


def affinity() -> int:
    return len(os.sched_getaffinity(0))


def test_no_quota_means_the_affinity_mask(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == affinity()


@pytest.mark.parametrize(("quota", "expected"), [("50000 100000", 1), ("150000 100000", 2)])
def test_cgroup_v2_quota_caps_the_count(tmp_path: Path, quota: str, expected: int) -> None:
    (tmp_path / "cpu.max").write_text(quota + "\n")
    assert usable_cpus(tmp_path) == min(affinity(), expected)


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path) == 1
