"""The memory of ``backend="auto"``: profiles kept from one call to the next.

``backend="auto"`` measures a function once (its first items, run for real) and remembers what
it found, keyed by the function's code and the type and rough size of its items. A later call
with the same function pays microseconds to decide: it runs its first item, checks that the
time per item still matches the profile (within ``DRIFT``), and reuses the profile; when the
work has changed, it measures afresh. ``remembered()`` lists what is kept, ``forget()`` drops it.
Kept light (no dataclasses at import): a job too short to decide anything only looks it up.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poolwise.advisor._profile import Profile, Remembered

DRIFT = 4.0  # a time per item this many times off the profile's means the work changed
CAPACITY = 256  # profiles kept, least recently used dropped first

_lock = threading.Lock()
_memory: OrderedDict[tuple[Any, ...], Remembered] = OrderedDict()


def _target(fn: Any) -> Any:
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # bound methods: their function
    return getattr(fn, "__code__", fn)


def size_class(item: Any) -> int:
    """log4 of the item's size in memory (one level deep for short tuples and lists)."""
    try:
        n = sys.getsizeof(item, 0)
        if isinstance(item, (tuple, list)) and len(item) <= 16:
            n += sum(sys.getsizeof(x, 0) for x in item)
    except Exception:
        return -1
    return n.bit_length() // 2


def key_of(fn: Any, item: Any) -> tuple[Any, ...] | None:
    """The memory's key for ``fn`` called on items like ``item``; None if it cannot have one."""
    target = _target(fn)
    try:
        hash(target)
    except TypeError:
        return None
    return (target, type(item), size_class(item))


def recall(key: tuple[Any, ...] | None) -> Remembered | None:
    if key is None:
        return None
    with _lock:
        entry = _memory.get(key)
        if entry is not None:
            _memory.move_to_end(key)
        return entry


def remember(
    key: tuple[Any, ...] | None, fn: Any, item: Any, profile: Profile, decision: str
) -> None:
    from poolwise.advisor._profile import Remembered  # (a decision was made: see the header)

    if key is None:
        return
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None) or ""
    size = key[2]
    with _lock:
        old = _memory.get(key)
        _memory[key] = Remembered(
            function=f"{module}.{name}" if module else name,
            item_type=type(item).__qualname__,
            item_size=f"{4**size // 2}-{2 * 4**size} bytes" if size >= 0 else "unknown",
            profile=profile,
            decision=decision,
            uses=(old.uses if old else 0) + 1,
            last_used=time.time(),
        )
        _memory.move_to_end(key)
        while len(_memory) > CAPACITY:
            _memory.popitem(last=False)


def drop(key: tuple[Any, ...] | None) -> None:
    if key is not None:
        with _lock:
            _memory.pop(key, None)


def remembered() -> list[Remembered]:
    """What ``backend="auto"`` remembers, most recently used last."""
    with _lock:
        return list(_memory.values())


def forget(fn: Any = None) -> int:
    """Forget what ``backend="auto"`` measured of ``fn`` (of every function when None), so the
    next call measures afresh. Returns how many entries were dropped."""
    with _lock:
        if fn is None:
            count = len(_memory)
            _memory.clear()
            return count
        target = _target(fn)
        keys = [k for k in _memory if k[0] is target or k[0] == target]
        for k in keys:
            del _memory[k]
        return len(keys)
