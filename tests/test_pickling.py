"""Arguments and results that cannot cross to a process fail their own task, clearly."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

import poolwise as pw
from tests import crashers
from tests.outcomes import assert_exactly_once


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("bad", "type_name"), [(threading.Lock, "_thread.lock"), (_generator, "generator")]
)
@pytest.mark.parametrize("chunksize", [1, 3, None])
def test_an_unpicklable_argument_fails_its_task_naming_the_type(
    chunksize: int | None, bad: Callable[[], object], type_name: str
) -> None:
    items = [0, 1, bad(), 3, 4]
    out = pw.map(
        crashers.identity,
        items,
        backend="process",
        workers=2,
        chunksize=chunksize,
        on_error="return",
    )
    assert [out[i] for i in (0, 1, 3, 4)] == [0, 1, 3, 4]
    failure = out[2]
    assert isinstance(failure, pw.Failure) and isinstance(failure.exception, pw.PicklingError)
    message = str(failure.exception)
    assert type_name in message and "argument (item 2)" in message
    assert 'backend="thread"' in message


@pytest.mark.parametrize("n", [1, 3])
def test_a_map_of_nothing_but_unpicklable_arguments_fails_each(n: int) -> None:
    # nothing reaches a worker: the run once saw nothing in flight and called itself a bug
    items = [threading.Lock() for _ in range(n)]
    out = pw.map(crashers.identity, items, backend="process", workers=2, on_error="return")
    assert [type(f.exception) for f in out] == [pw.PicklingError] * n
    with pytest.raises(pw.PicklingError, match="argument \\(item 0\\)"):
        pw.map(crashers.identity, items, backend="process", workers=2)


@pytest.mark.parametrize("chunksize", [1, None])
def test_an_unpicklable_result_fails_its_task(chunksize: int | None) -> None:
    out = pw.map(
        crashers.return_a_lock,
        range(5),
        backend="process",
        workers=2,
        chunksize=chunksize,
        on_error="return",
    )
    assert_exactly_once(out, 5, {2: pw.PicklingError})
    assert "result" in str(out[2].exception) and "lock" in str(out[2].exception)


def test_an_argument_that_cannot_be_unpickled_in_the_worker() -> None:
    items = [0, 1, crashers.RaiseWhenUnpickled(), 3]
    out = pw.map(
        crashers.identity, items, backend="process", workers=2, chunksize=4, on_error="return"
    )
    assert [out[i] for i in (0, 1, 3)] == [0, 1, 3]
    assert isinstance(out[2].exception, pw.PicklingError)
    assert "cannot unpickle the arguments in the worker" in str(out[2].exception)


def test_a_result_that_cannot_be_unpickled_in_the_parent() -> None:
    out = pw.map(
        crashers.return_raise_when_unpickled,
        range(5),
        backend="process",
        workers=2,
        chunksize=5,
        on_error="return",
    )
    assert_exactly_once(out, 5, {2: pw.PicklingError})
    assert "cannot unpickle the result in the parent" in str(out[2].exception)


def test_crash_while_unpickling_an_argument() -> None:
    items = [0, 1, crashers.ExitWhenUnpickled(), 3]
    out = pw.map(
        crashers.identity, items, backend="process", workers=2, chunksize=4, on_error="return"
    )
    assert [out[i] for i in (0, 1, 3)] == [0, 1, 3]
    assert isinstance(out[2].exception, pw.WorkerCrashed)
    assert "while unpickling its arguments" in str(out[2].exception)


def test_crash_while_pickling_a_result() -> None:
    out = pw.map(
        crashers.return_exit_when_pickled,
        range(5),
        backend="process",
        workers=2,
        chunksize=5,
        on_error="return",
    )
    assert_exactly_once(out, 5, {2: pw.WorkerCrashed})
    assert "while pickling its result" in str(out[2].exception)


def test_an_exception_that_cannot_be_pickled_becomes_remote_error() -> None:
    out = pw.map(
        crashers.raise_unpicklable, range(4), backend="process", workers=2, on_error="return"
    )
    assert_exactly_once(out, 4, {2: pw.RemoteError})
    assert "UnpicklableError" in str(out[2].exception)
    assert "raise_unpicklable" in out[2].traceback


@pytest.mark.parametrize("fn", [crashers.raise_system_exit, crashers.raise_keyboard_interrupt])
def test_system_exit_and_keyboard_interrupt_in_a_task_fail_it_and_replace_the_worker(
    fn: object,
) -> None:
    with pw.Executor(backend="process", workers=1) as ex:
        before = ex.worker_pids() or [ex.submit(crashers.pid_and_value, 0).result()[0]]
        futures = [ex.submit(fn, i) for i in range(4)]  # type: ignore[arg-type]
        assert isinstance(futures[2].exception(), (SystemExit, KeyboardInterrupt))
        assert [futures[i].result() for i in (0, 1, 3)] == [0, 1, 3]
        after = ex.submit(crashers.pid_and_value, 9).result()[0]
    assert after != before[0]
