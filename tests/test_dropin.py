"""Code written for concurrent.futures works unchanged with poolwise's drop-in classes."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import sys
from collections.abc import Iterator
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


# -- Python 3.14's defaults and additions (offered on every version) ---------------------------


def test_the_drop_in_follows_the_running_pythons_start_method() -> None:
    with pw.ProcessPoolExecutor(max_workers=1) as ex:
        assert ex.submit(helpers.double, 1).result() == 2
        used = ex._backend.start_methods_used  # type: ignore[attr-defined]
    if sys.version_info >= (3, 14):  # 3.14 left fork: forkserver on Linux
        assert used == {multiprocessing.get_context().get_start_method()}
    else:  # fork while single-threaded (the older default where it is safe), else forkserver
        assert used <= {"fork", "forkserver"}


@pytest.mark.parametrize("backend", ["thread", "process"])
def test_map_buffersize_takes_the_input_lazily_and_boundedly(backend: str) -> None:
    taken = itertools.count(1)
    seen = [0]

    def source() -> Iterator[int]:
        for x in itertools.count():
            seen[0] = next(taken)
            yield x

    with pw.Executor(backend=backend, workers=2) as ex:
        results = ex.map(helpers.double, source(), buffersize=4)
        for i in range(50):
            assert next(results) == 2 * i
            assert seen[0] <= i + 1 + 4  # handed out so far, plus the buffer
        results.close()
        assert list(ex.map(pow, [2, 3, 4], [2, 2, 2], buffersize=1)) == [4, 9, 16]
        assert list(ex.map(helpers.double, [], buffersize=2)) == []


def test_map_buffersize_raises_a_failed_task_when_reached() -> None:
    with pw.ThreadPoolExecutor(max_workers=2) as ex:
        results = ex.map(helpers.fail_on(2), iter(range(5)), buffersize=2)
        assert [next(results), next(results)] == [0, 1]
        with pytest.raises(ValueError, match="item 2 is bad"):
            next(results)


def test_map_buffersize_is_checked_as_the_standard_library_does() -> None:
    with pw.ThreadPoolExecutor() as ex:
        with pytest.raises(TypeError, match="buffersize must be an integer or None"):
            ex.map(str, [1], buffersize=2.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="buffersize must be None or > 0"):
            ex.map(str, [1], buffersize=0)


@pytest.mark.parametrize(("stop", "code"), [("terminate_workers", -15), ("kill_workers", -9)])
def test_terminate_and_kill_workers_signal_them_and_stop_the_pool(stop: str, code: int) -> None:
    ex = pw.ProcessPoolExecutor(max_workers=2)
    ex.start()
    processes = dict(ex._processes)
    hold = [ex.submit(helpers.wait_for_file, "/nonexistent/poolwise-never") for _ in range(2)]
    getattr(ex, stop)()
    for p in processes.values():
        p.join(30)
    assert all(not p.is_alive() for p in processes.values())
    assert all(f.done() for f in hold)
    with pytest.raises(RuntimeError):
        ex.submit(helpers.double, 1)


def test_shutdown_ends_an_endless_lazy_map_which_then_says_so() -> None:
    ex = pw.ThreadPoolExecutor(max_workers=2)
    results = ex.map(helpers.double, itertools.count(), buffersize=3)
    assert next(results) == 0
    ex.shutdown(wait=True)  # returns: the map takes no more input
    rest = []
    with pytest.raises(pw.ShutdownError, match="after shutdown"):
        rest.extend(results)
    assert rest == [2 * x for x in range(1, len(rest) + 1)] and len(rest) <= 3


def test_map_of_no_iterable_is_empty_as_in_the_standard_library() -> None:
    with pw.ThreadPoolExecutor() as ex:
        assert list(ex.map(str)) == []
        assert next(ex.map(str, buffersize=2), None) is None


def test_force_shutdown_refuses_an_unknown_operation() -> None:
    with (
        pw.ProcessPoolExecutor(max_workers=1) as ex,
        pytest.raises(ValueError, match="Unsupported operation"),
    ):
        ex._force_shutdown(operation="pause")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7])
def test_an_auto_executor_maps_short_inputs_lazily_or_not(n: int) -> None:
    # the probe may take the whole first buffer, and the input end there
    with pw.Executor(workers=2) as ex:
        assert list(ex.map(helpers.double, iter(range(n)), buffersize=2)) == [
            2 * x for x in range(n)
        ]
        assert list(ex.map(helpers.double, range(n))) == [2 * x for x in range(n)]
