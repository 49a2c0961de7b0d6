"""Forcing thread switches at chosen bytecode instructions inside the code under test.

Why: CPython (3.10 and newer) switches threads only at calls and backward jumps, when the
switch interval has passed. A read-modify-write with no call in between, such as
``counter.value += 1``, is then almost never interrupted halfway: measured here, 8 threads with
the switch interval forced to 1 us lost no update in 160,000. Real programs still lose them
(one switch at the wrong instruction suffices, and free-threaded builds run them truly in
parallel), so waiting for luck is not a test. This module installs an opcode-level trace in
the checked threads that yields the GIL (``time.sleep(0)``) before a random fraction of the
instructions of the user's own code (not the standard library, site-packages or poolwise),
which exposes such interleavings in nearly every run. A seed replays the same choice of
preemption points (the OS scheduler still varies, so a replay is likely, not certain, to
interleave the same way).

``sys.settrace`` with ``f_trace_opcodes`` works on every supported version; on 3.12 and newer
CPython implements it on top of ``sys.monitoring``. It only affects the checked threads, and
only frames of the user's code pay for the opcode events.

Free-threaded builds (3.13t and newer, GIL disabled): threads run truly in parallel, so races
show up more often even without help; ``time.sleep(0)`` then still widens the window between a
read and its write, so the same method applies. Built-in containers lock themselves per object
there, so a single ``d[k] = v`` stays atomic, but ``d[k] = d.get(k, 0) + 1`` is still two
operations and still loses updates.
"""

from __future__ import annotations

import random
import sys
import sysconfig
import time
from types import CodeType, FrameType
from typing import Any

_SKIP = tuple(
    p
    for p in {
        sysconfig.get_paths().get("stdlib"),
        sysconfig.get_paths().get("platstdlib"),
        sysconfig.get_paths().get("purelib"),
        sysconfig.get_paths().get("platlib"),
        __file__.rsplit("/", 2)[0],  # poolwise itself
    }
    if p
)


def is_user_code(code: CodeType, cache: dict[CodeType, bool]) -> bool:
    hit = cache.get(code)
    if hit is None:
        name = code.co_filename
        hit = not (name.startswith(_SKIP) or name.startswith("<frozen"))
        cache[code] = hit
    return hit


class Preempter:
    """A trace function for one thread: yields before a fraction ``rate`` of the opcodes."""

    def __init__(self, seed: int, rate: float = 0.3, *, include: str = "") -> None:
        self._rng = random.Random(seed)
        self._rate = rate
        # the function under test is the user's code even when it is installed in site-packages
        self._cache: dict[CodeType, bool] = {}
        self._include = include

    def install(self) -> None:
        sys.settrace(self._call)

    @staticmethod
    def uninstall() -> None:
        sys.settrace(None)

    def _call(self, frame: FrameType, event: str, arg: Any) -> Any:
        code = frame.f_code
        if event == "call" and (
            code.co_filename == self._include or is_user_code(code, self._cache)
        ):
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return self._opcode
        return None

    def _opcode(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and self._rng.random() < self._rate:
            time.sleep(0)
        return self._opcode
