"""Turning `pkg.mod:name` strings and input files into Python objects, with one-line errors."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from poolwise.cli import UsageError


def load_object(spec: str, *, what: str = "object") -> Any:
    """Import ``pkg.mod:name`` (dotted attributes allowed after the colon)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"{what} {spec!r} is not of the form 'pkg.module:name'")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"cannot import module {module_name!r} ({exc}); is it on PYTHONPATH?"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def load_function(spec: str) -> Callable[..., Any]:
    fn = load_object(spec, what="function")
    if not callable(fn):
        raise UsageError(f"{spec!r} is a {type(fn).__name__}, not a function")
    return fn  # type: ignore[no-any-return]


def iter_jsonl(path: str | Path) -> Iterator[Any]:
    """Yield one JSON value per non-blank line; a bad line is a UsageError naming it."""
    p = Path(path)
    try:
        fh = p.open(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read items file {str(p)!r}: {exc.strerror}") from exc
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(
                    f"{p}:{lineno}: not a JSON line ({exc.msg}); expected one JSON value per line"
                ) from None


def load_items(items: str | None, items_file: str | None, range_n: int | None) -> list[Any]:
    """The input of compare/advise/check: exactly one of --items, --items-file, --range."""
    given = [x is not None for x in (items, items_file, range_n)]
    if sum(given) != 1:
        raise UsageError("give exactly one of --items pkg.mod:NAME, --items-file FILE, --range N")
    if items is not None:
        obj = load_object(items, what="items")
        if callable(obj):
            obj = obj()
        try:
            result = list(obj)
        except TypeError:
            raise UsageError(f"items {items!r} is a {type(obj).__name__}, not iterable") from None
    elif items_file is not None:
        result = list(iter_jsonl(items_file))
    else:
        assert range_n is not None
        if range_n < 1:
            raise UsageError(f"--range must be at least 1, got {range_n}")
        result = list(range(range_n))
    if not result:
        raise UsageError("the input is empty: there is nothing to run")
    return result
