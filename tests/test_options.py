"""Bad input: clear errors, raised before any work starts."""

from __future__ import annotations

import threading

import pytest

import poolwise as pw
from poolwise._options import default_workers, parse_size
from tests import helpers


def test_unknown_backend_lists_the_valid_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown backend 'procss'; use one of auto, serial, thread"
    ):
        pw.map(helpers.double, [1], backend="procss")


@pytest.mark.parametrize("workers", [0, -1])
def test_workers_below_one(workers: int) -> None:
    with pytest.raises(ValueError, match="workers must be at least 1"):
        pw.map(helpers.double, [1], backend="thread", workers=workers)


def test_workers_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="workers must be an int"):
        pw.map(helpers.double, [1], workers=2.5)  # type: ignore[arg-type]


def test_fn_must_be_callable() -> None:
    with pytest.raises(TypeError, match="fn must be callable, got int"):
        pw.map(3, [1])  # type: ignore[arg-type]


def test_unpicklable_function_names_the_fix() -> None:
    lock = threading.Lock()

    def uses_lock(x: int) -> int:
        with lock:
            return x

    with pytest.raises(pw.PicklingError, match='backend="thread"'):
        pw.map(uses_lock, [1], backend="process")
    # the same function runs on threads, where nothing is pickled
    assert pw.map(uses_lock, [1, 2], backend="thread") == [1, 2]


def test_errors_come_before_any_work() -> None:
    ran = []
    with pytest.raises(ValueError, match="on_error"):
        pw.imap(ran.append, [1], backend="thread", on_error="ignore")
    assert ran == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("chunksize", 0, "chunksize must be at least 1"),
        ("timeout", 0, "timeout must be a positive"),
        ("timeout", -1.0, "timeout must be a positive"),
        ("retries", -1, "retries must be at least 0"),
        ("max_tasks_per_child", 0, "max_tasks_per_child must be at least 1"),
        ("max_memory_per_child", "lots", "is not a size"),
        ("start_method", "clone", "unknown start_method"),
        ("initializer", 5, "initializer must be callable"),
        ("address", "tcp://x:1", 'for backend="dask"'),
    ],
)
def test_bad_options(option: str, value: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        pw.map(helpers.double, [1], **{option: value})  # type: ignore[arg-type]


def test_serial_with_workers_is_an_error() -> None:
    with pytest.raises(ValueError, match="one task at a time"):
        pw.Executor(backend="serial", workers=4)


def test_auto_is_the_default_backend() -> None:
    assert pw.map(helpers.double, [1, 2]) == [2, 4]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("500MB", 500_000_000), ("1.5GiB", int(1.5 * 2**30)), (1024, 1024), ("64 kb", 64_000)],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text, "x") == expected


def test_default_workers_follow_usable_cpus() -> None:
    cpus = pw.usable_cpus()
    assert default_workers("process") == cpus
    assert default_workers("thread") == min(32, cpus + 4)
    assert default_workers("serial") == 1
