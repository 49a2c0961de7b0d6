"""The demo's conclusions follow its numbers: fabricated numbers on each side of every claim
choose the matching verdict; every text exists in English and Korean with the same fields."""

from __future__ import annotations

import re
import string
from typing import Any

import pytest

from poolwise.demo import _text, _verdicts
from poolwise.demo._verdicts import choose, guide, guide_keys, verdict

S1 = {"thread_ms": 0.2, "tjoin_ms": 0.02, "pjoin_ms": 3.0, "method": "fork"}
S2 = {"cpus": 4, "gil": True}
S3 = {"n": 64, "tw": 16, "best_proc": 3.0, "pw": 16, "pstart_ms": 40.0, "cpus": 4}
S4 = {"cpus": 4, "gil": True}
S5 = {"big": "10 MB", "thread_ms": 0.01, "pipe_ms": 40.0, "pipe_gbps": 0.5, "shm_gbps": 4.0}
S6 = {"n": 8, "thread_ms": 1.0, "proc_ms": 60.0}
S7 = {"n": 10, "code": -11, "error": ""}
CHECKS_OK = {"plain": "found", "dict": "found", "locked": "missed"}
S10 = {
    "available": True,
    "python": "3.14",
    "cpus": 2,
    "gil": True,
    "thread": 1.0,
    "proc": 1.9,
    "first_thread_ms": 1.0,
    "first_proc_ms": 12.0,
    "first_interp_ms": 140.0,
    "method": "fork",
    "big": "10 MB",
    "move_thread_ms": 0.01,
    "move_proc_ms": 15.0,
    "move_interp_ms": 6.0,
}
S8 = {"total": 160, "dict_lost": 40, "locked_lost": 0, "parent": 0, "gil": True}


def _s8(**over: Any) -> dict[str, Any]:
    return {**S8, "plain_lost": 0, "checks": dict(CHECKS_OK), **over}


@pytest.mark.parametrize(
    ("key", "numbers", "want"),
    [
        # 1. processes cost more to start
        ("s1", {**S1, "proc_ms": 6.0, "ratio": 30.0}, ["v1"]),
        ("s1", {**S1, "proc_ms": 0.25, "ratio": 1.2}, ["v1_not"]),
        # 2. pure Python: processes scale, threads do not (unless there is no GIL)
        ("s2", {**S2, "proc": 3.5, "thread": 1.0}, ["v2"]),
        ("s2", {**S2, "proc": 1.1, "thread": 1.0}, ["v2_no_proc"]),
        ("s2", {**S2, "proc": 3.5, "thread": 2.0}, ["v2_threads"]),
        ("s2", {**S2, "proc": 3.5, "thread": 3.2, "gil": False}, ["v2_free"]),
        ("s2", {**S2, "proc": 1.0, "thread": 1.0, "cpus": 1}, ["v2_one_cpu"]),
        ("s2", {**S2, "proc": 1.9, "thread": 1.1, "gil": False}, ["v2_free_not"]),
        # 3. waits overlap on threads
        ("s3", {**S3, "best_thread": 12.0}, ["v3", "v3_overlap"]),
        ("s3", {**S3, "best_thread": 3.0, "tw": 4}, ["v3"]),
        ("s3", {**S3, "best_thread": 1.4}, ["v3_not"]),
        # 4. native code that releases the GIL scales on threads (issue 18: 1.02x said it did)
        ("s4", {**S4, "thread": 3.1, "proc": 2.5}, ["v4"]),
        ("s4", {**S4, "thread": 1.02, "proc": 2.5}, ["v4_not"]),
        ("s4", {**S4, "thread": 1.0, "proc": 1.0, "cpus": 1}, ["v4_one_cpu"]),
        # 5. moving data to a process costs more
        ("s5", {**S5, "proc_ms": 9.0, "ratio": 900.0, "gain": 4.4}, ["v5", "v5_shm"]),
        ("s5", {**S5, "proc_ms": 0.012, "ratio": 1.2, "gain": 1.6}, ["v5_not", "v5_shm"]),
        # ... and shared memory, the default, against the pipe
        ("s5", {**S5, "proc_ms": 38.0, "ratio": 3800.0, "gain": 1.05}, ["v5", "v5_shm_not"]),
        # 6. processes have memory of their own
        ("s6", {**S6, "proc_mb": 80.0, "thread_mb": 0.1}, ["v6"]),
        ("s6", {**S6, "proc_mb": 0.0, "thread_mb": 0.1}, ["v6_not"]),
        # 7. a crash in a process fails one task; in a thread, the program
        ("s7", {**S7, "ok": 9, "failed": 1, "thread_survived": False}, ["v7_proc", "v7_thread"]),
        (
            "s7",
            {**S7, "ok": 7, "failed": 3, "thread_survived": False},
            ["v7_proc_more", "v7_thread"],
        ),
        (
            "s7",
            {**S7, "ok": 9, "failed": 1, "thread_survived": True},
            ["v7_proc", "v7_thread_survived"],
        ),
        # 8. races: lost by chance, found by check_races, none in processes
        ("s8", _s8(), ["v8_lost", "v8_lucky", "v8_checks", "v8_procs"]),
        ("s8", _s8(plain_lost=3), ["v8_lost", "v8_checks", "v8_procs"]),
        ("s8", _s8(plain_lost=0, gil=False), ["v8_lost", "v8_checks", "v8_procs"]),
        (
            "s8",
            _s8(checks={"plain": "missed", "dict": "found", "locked": "found"}, parent=5),
            ["v8_lost", "v8_lucky", "v8_missed:plain", "v8_false", "v8_procs_shared"],
        ),
        (
            "s8",
            _s8(checks={"plain": "found", "dict": "failed: KeyError: 'x'", "locked": "missed"}),
            ["v8_lost", "v8_lucky", "v8_failed:dict", "v8_procs"],
        ),
        # 10. interpreters: parallel inside one process; their start-up and data, either way
        (
            "s10",
            {**S10, "interp": 1.9, "start_ratio": 11.7, "move_ratio": 2.5},
            ["v11", "v11_start_dearer", "v11_data"],
        ),
        (
            "s10",
            {**S10, "interp": 1.1, "start_ratio": 0.8, "move_ratio": 1.1},
            ["v11_not", "v11_start_cheaper", "v11_data_not"],
        ),
        ("s10", {"available": False, "python": "3.11"}, ["v11_absent"]),
        # 9. lock_order finds the inversion
        ("s9", {"status": "found", "error": ""}, ["v9"]),
        ("s9", {"status": "missed", "error": ""}, ["v9_missed"]),
        (
            "s9",
            {"status": "failed: RuntimeError: boom", "error": "RuntimeError: boom"},
            ["v9_failed"],
        ),
    ],
)
def test_each_verdict_follows_the_numbers(
    key: str, numbers: dict[str, Any], want: list[str]
) -> None:
    assert choose(key, numbers) == want
    for lang in ("en", "ko"):
        assert verdict(key, numbers, lang)  # every chosen template formats with these numbers


def test_a_failed_check_says_so_with_its_error() -> None:
    n = _s8(checks={"plain": "found", "dict": "failed: KeyError: 'x'", "locked": "missed"})
    assert "check_races failed on d[k] = d.get(k, 0) + 1: KeyError: 'x'" in verdict("s8", n, "en")
    n9 = {"status": "failed: RuntimeError: boom", "error": "RuntimeError: boom"}
    assert verdict("s9", n9, "en") == "The lock_order check failed: RuntimeError: boom"


def test_the_native_verdict_no_longer_claims_scaling_at_1x() -> None:
    text = verdict("s4", {**S4, "thread": 1.02, "proc": 2.5}, "en")
    assert "scaled on threads" not in text and "did not scale" in text and "1.02x" in text


NUMBERS = {
    "s2": {"proc": 3.5, "thread": 1.0, "cpus": 4, "gil": True},
    "s3": {**S3, "best_thread": 12.0},
    "s4": {**S4, "thread": 3.0, "proc": 2.0},
    "s5": {**S5, "proc_ms": 9.0, "ratio": 900.0, "gain": 4.4},
    "s7": {**S7, "ok": 9, "failed": 1, "thread_survived": False},
    "s8": _s8(),
    "s10": {**S10, "interp": 1.9, "start_ratio": 11.7, "move_ratio": 2.5},
}


@pytest.mark.parametrize(
    ("section", "over", "want"),
    [
        ("s2", {}, "g_cpu"),
        ("s2", {"proc": 1.0}, "g_cpu_none"),
        ("s2", {"thread": 3.0, "gil": False}, "g_cpu_free"),
        ("s2", {"thread": 1.1, "gil": False}, "g_cpu_free_not"),
        ("s3", {}, "g_io"),
        ("s3", {"best_thread": 1.2}, "g_io_none"),
        ("s4", {}, "g_native"),
        ("s4", {"thread": 1.0, "proc": 2.0}, "g_native_proc"),
        ("s4", {"thread": 1.0, "proc": 1.0}, "g_native_none"),
        ("s5", {}, "g_data"),
        ("s5", {"proc_ms": 0.012, "ratio": 1.2}, "g_data_cheap"),
        ("s7", {}, "g_crash"),
        ("s7", {"failed": 4, "ok": 6}, "g_crash_unclear"),
        ("s8", {}, "g_shared"),
        ("s8", {"checks": {**CHECKS_OK, "locked": "found"}}, "g_shared_unclear"),
        ("s10", {}, "g_interp_data"),
        ("s10", {"move_ratio": 1.1}, "g_interp"),
        ("s10", {"interp": 1.1}, "g_interp_none"),
        ("s10", {"available": False}, "g_interp_absent"),
    ],
)
def test_each_recommendation_follows_its_section(
    section: str, over: dict[str, Any], want: str
) -> None:
    numbers = {**NUMBERS, section: {**NUMBERS[section], **over}}
    keys = dict((sec, k) for k, sec in guide_keys(numbers))
    assert keys[section] == want
    assert len(guide(numbers, "ko")) == len(guide(numbers, "en")) == 8


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


@pytest.mark.parametrize("table", [_text.TEXT, _verdicts.V, _verdicts.G], ids=["text", "v", "g"])
def test_every_text_has_both_languages_with_the_same_fields(
    table: dict[str, dict[str, str]],
) -> None:
    for key, texts in table.items():
        assert set(texts) == {"en", "ko"}, key
        assert _fields(texts["en"]) == _fields(texts["ko"]), key
        if key not in ("ms", "dash", "col_check_races", "col_lock_order"):
            assert re.search("[가-힣]", texts["ko"]), f"{key}: no Korean in {texts['ko']!r}"
