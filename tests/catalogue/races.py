"""Races: small buggy functions and their locked twins (check_races must find each bug, and
flag no twin)."""

from __future__ import annotations

import threading
from typing import Any

# -- lost update on an attribute: counter.value += 1 --------------------------------------


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


counter = Counter()


def reset_counter() -> None:
    counter.value = 0


def read_counter() -> int:
    return counter.value


def bump(_: Any) -> None:
    counter.value += 1


def bump_locked(_: Any) -> None:
    with counter.lock:
        counter.value += 1


# -- lost update through a call: d[k] = d.get(k, 0) + 1 -----------------------------------

tally: dict[str, int] = {}
tally_lock = threading.Lock()


def reset_tally() -> None:
    tally.clear()


def read_tally() -> dict[str, int]:
    return dict(tally)


def count_word(word: str) -> None:
    tally[word] = tally.get(word, 0) + 1


def count_word_locked(word: str) -> None:
    with tally_lock:
        tally[word] = tally.get(word, 0) + 1


# -- check-then-act on a dict ---------------------------------------------------------------

cache: dict[int, list[int]] = {}
cache_lock = threading.Lock()


def reset_cache() -> None:
    cache.clear()


def add_once(k: int) -> int:
    if k not in cache:
        cache[k] = []
    cache[k].append(k)
    taken = cache.pop(k)  # the check-then-act: another thread may have popped it already
    return len(taken) > 0


def add_once_locked(k: int) -> int:
    with cache_lock:
        if k not in cache:
            cache[k] = []
        cache[k].append(k)
        taken = cache.pop(k)
    return len(taken) > 0


# -- a module-level scratch object reused by every call ---------------------------------------


class Scratch:
    x: int = 0


scratch = Scratch()
scratch_lock = threading.Lock()


def square_via_scratch(x: int) -> int:
    scratch.x = x
    y = scratch.x * scratch.x
    return y


def square_via_scratch_locked(x: int) -> int:
    with scratch_lock:
        scratch.x = x
        y = scratch.x * scratch.x
    return y


# -- the table that tests and bench/checks.py run ---------------------------------------------


class RaceCase:
    """A bug, its locked twin, and the check_races options and items that expose the bug."""

    def __init__(self, name: str, bug: Any, twin: Any, items: list[Any], **options: Any) -> None:
        self.name, self.bug, self.twin, self.items, self.options = name, bug, twin, items, options


RACE_CASES = [
    RaceCase(
        "lost update: counter.value += 1",
        bump,
        bump_locked,
        [0] * 50,
        setup=reset_counter,
        invariant=read_counter,
    ),
    RaceCase(
        "lost update: d[k] = d.get(k, 0) + 1",
        count_word,
        count_word_locked,
        ["a", "b"] * 25,
        setup=reset_tally,
        invariant=read_tally,
    ),
    RaceCase(
        "check-then-act on a dict", add_once, add_once_locked, list(range(20)), setup=reset_cache
    ),
    RaceCase(
        "module-level scratch object",
        square_via_scratch,
        square_via_scratch_locked,
        list(range(30)),
    ),
]
