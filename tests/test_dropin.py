"""Code written for concurrent.futures works unchanged with poolwise's drop-in classes."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from typing import Any

import pytest

import poolwise as pw
from tests import helpers


def stdlib_style_program(executor_cls: Any, **kwargs: Any) -> dict[str, Any]:
    """A program as written against the standard library."""
    out: dict[str, Any] = {}
    with executor_cls(max_workers=2, **kwargs) as executor:
        futures = {executor.submit(pow, 2, i): i for i in range(10)}
        out["as_completed"] = sorted(f.result() for f in cf.as_completed(futures))
        out["map"] = list(executor.map(str, range(5)))
        out["map2"] = list(executor.map(pow, [2, 3], [4, 5], timeout=30, chunksize=1))
        done, not_done = cf.wait([executor.submit(helpers.add, 1, 2)], timeout=30)
        out["wait"] = [f.result() for f in done]
        failing = executor.submit(helpers.boom, 1)
        out["exception"] = type(failing.exception()).__name__
    return out


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (pw.ThreadPoolExecutor, cf.ThreadPoolExecutor),
        (pw.ProcessPoolExecutor, cf.ProcessPoolExecutor),
    ],
)
def test_same_program_same_results(ours: Any, theirs: Any) -> None:
    # the standard library's pool forks by default on 3.11 whatever threads the test runner
    # has left running (it hung once so, in a full run): both get a forkserver here
    kwargs = (
        {"mp_context": multiprocessing.get_context("forkserver")}
        if ours is pw.ProcessPoolExecutor
        else {}
    )
    assert stdlib_style_program(ours, **kwargs) == stdlib_style_program(theirs, **kwargs)


def test_drop_ins_are_executors() -> None:
    with pw.ThreadPoolExecutor() as a, pw.ProcessPoolExecutor() as b:
        assert isinstance(a, cf.Executor) and isinstance(b, cf.Executor)


def test_thread_name_prefix_and_initializer() -> None:
    with pw.ThreadPoolExecutor(
        max_workers=2,
        thread_name_prefix="mypool",
        initializer=helpers.set_initialized,
        initargs=("yes",),
    ) as ex:
        assert ex.submit(helpers.thread_name, 0).result().startswith("mypool")
        assert ex.submit(helpers.get_initialized, 0).result() == "yes"


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_mp_context_chooses_the_start_method(method: str) -> None:
    ctx = multiprocessing.get_context(method)
    with pw.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as ex:
        assert ex.submit(helpers.double, 21).result() == 42
        assert ex._backend.start_methods_used == {method}  # type: ignore[attr-defined]


def test_max_tasks_per_child_replaces_workers() -> None:
    with pw.ProcessPoolExecutor(max_workers=1, max_tasks_per_child=2) as ex:
        pids = [ex.submit(helpers.pid_of, i).result() for i in range(6)]
    assert len(set(pids)) == 3


def test_drop_in_map_batches_adaptively_without_chunksize() -> None:
    with pw.ProcessPoolExecutor(max_workers=2) as ex:
        assert list(ex.map(helpers.double, range(20_000))) == [2 * x for x in range(20_000)]
