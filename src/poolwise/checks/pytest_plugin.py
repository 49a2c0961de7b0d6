"""pytest plugin: run poolwise's thread checks inside your own tests.

Fixtures:
    lock_order: the test body runs under ``poolwise.lock_order``; a lock-order cycle (or a
        deadlock caught as it formed) fails the test, with the stacks of each edge. The fixture
        value is the LockOrderGraph, for tests that want to look at it themselves.
    check_races: ``check_races(fn, items, **options)`` runs ``poolwise.check_races`` and fails
        the test with the report when a race is found; otherwise it returns the report.

Marker:
    ``@pytest.mark.poolwise_lock_order`` does what the ``lock_order`` fixture does, for a test
    that does not otherwise need the graph; ``poolwise_lock_order(raise_on_exit=False)`` only
    records. Use the marker or the fixture on a test, not both (blocks do not nest).

Enable it with ``-p poolwise.checks.pytest_plugin`` or ``pytest_plugins =
["poolwise.checks.pytest_plugin"]`` in your top-level conftest (or through the ``pytest11``
entry point, when the installed package declares it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import pytest

from poolwise.checks._lockorder import LockOrderGraph
from poolwise.checks._lockorder import lock_order as _lock_order
from poolwise.checks._races import RaceReport
from poolwise.checks._races import check_races as _check_races


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "poolwise_lock_order(raise_on_exit=True): run the test under poolwise.lock_order and "
        "fail it on a potential deadlock (a lock-order cycle)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    marker = item.get_closest_marker("poolwise_lock_order")
    if marker is None:
        return (yield)
    with _lock_order(raise_on_exit=False) as graph:
        result = yield  # a failing test raises here, and keeps its own failure
    if marker.kwargs.get("raise_on_exit", True) and graph.found:
        # the test passed, but the order of its locks can deadlock another time
        pytest.fail(graph.report(), pytrace=False)
    return result


@pytest.fixture
def lock_order() -> Iterator[LockOrderGraph]:
    """The test runs under ``poolwise.lock_order``; a lock-order cycle fails it."""
    with _lock_order(raise_on_exit=False) as graph:
        yield graph
    if graph.found:
        pytest.fail(graph.report(), pytrace=False)


@pytest.fixture
def check_races() -> Callable[..., RaceReport]:
    """``check_races(fn, items, **options)``: fails the test if poolwise finds a race."""

    def run(fn: Callable[[Any], Any], items: Iterable[Any], **options: Any) -> RaceReport:
        report = _check_races(fn, items, **options)
        if report.found:
            pytest.fail(str(report), pytrace=False)
        return report

    return run
