"""Assertions shared by the fault-injection tests."""

from __future__ import annotations

from typing import Any

import poolwise as pw


def assert_exactly_once(results: list[Any], n: int, failed: dict[int, type[BaseException]]) -> None:
    """Each of the n tasks is its own result, or (for `failed`) a Failure of the given type."""
    assert len(results) == n
    for i, r in enumerate(results):
        if i in failed:
            assert isinstance(r, pw.Failure), (i, r)
            assert r.index == i and isinstance(r.exception, failed[i]), (i, r)
        else:
            assert r == i, (i, r)
