"""Pickling across the process boundary: the fast C pickler first, cloudpickle when it fails.

Functions always go through cloudpickle (lambdas, closures and functions defined in
``__main__`` or inside other functions then work); items and results go through ``pickle``
(protocol 5) and fall back to cloudpickle only for what ``pickle`` refuses, so the common case
pays nothing. Failures name the offending object's type and what to do about it.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

PROTOCOL = 5


def dumps(obj: Any) -> bytes:
    """Pickle ``obj``; objects the standard pickler refuses go through cloudpickle."""
    try:
        return pickle.dumps(obj, PROTOCOL)
    except Exception:
        import cloudpickle  # (only when the C pickler refused: it is not cheap)

        return cloudpickle.dumps(obj, PROTOCOL)  # type: ignore[no-any-return]


def dumps_function(fn: Any) -> bytes:
    """Pickle a callable (with its arguments, when it is a tuple of them). What lives in an
    importable module goes by reference through the C pickler; lambdas, closures and anything
    from ``__main__`` go by value through cloudpickle (imported only then: it is not cheap)."""
    if not _mentions_main(fn):
        try:
            return pickle.dumps(fn, PROTOCOL)
        except Exception:
            pass
    import cloudpickle  # (only for what must go by value: it is not cheap)

    return cloudpickle.dumps(fn, PROTOCOL)  # type: ignore[no-any-return]


def _mentions_main(obj: Any) -> bool:
    """Whether ``obj`` (or a member of a tuple of them) is defined in ``__main__``, which a
    worker started by forkserver or spawn cannot import by name."""
    if isinstance(obj, tuple):
        return any(_mentions_main(x) for x in obj)
    module = getattr(obj, "__module__", None) or getattr(type(obj), "__module__", None)
    return module in ("__main__", "__mp_main__")


def loads(data: bytes | memoryview) -> Any:
    return pickle.loads(data)


def describe(obj: Any) -> str:
    """``'an object of type module.Qualname'`` for error messages."""
    t = type(obj)
    mod = t.__module__
    name = t.__qualname__ if mod == "builtins" else f"{mod}.{t.__qualname__}"
    return f"an object of type {name}"


def unpicklable_positions(objs: Sequence[Any]) -> dict[int, BaseException]:
    """Which of ``objs`` cannot be pickled even by cloudpickle, and why (a ``SystemExit``
    raised while pickling one counts: it is that object's doing)."""
    bad: dict[int, BaseException] = {}
    for i, obj in enumerate(objs):
        try:
            dumps(obj)
        except (Exception, SystemExit) as exc:
            bad[i] = exc
    return bad


def pickling_message(what: str, obj: Any, exc: BaseException, *, index: int | None) -> str:
    where = f" (item {index})" if index is not None else ""
    return (
        f"cannot pickle the {what}{where}, {describe(obj)}: {exc}. Processes and "
        "interpreters receive their arguments and return their results pickled: pass "
        'picklable data (or use backend="thread", where nothing is pickled)'
    )
