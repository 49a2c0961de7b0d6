"""A function's measured profile: what one item costs, and whether threads are safe for it."""

from __future__ import annotations

from dataclasses import dataclass

from poolwise.advisor._measure import UNCHECKED


@dataclass(frozen=True)
class Profile:
    """What one item of a function costs, as measured on this machine.

    Attributes:
        wall, cpu: seconds per item (CPU of the running thread and the processes it waited on).
        gil: share of the wall time the work holds the GIL (None: not measured).
        spread: coefficient of variation of the timed groups' per-item times.
        samples: timed groups behind ``wall``.
        arg_bytes, result_bytes, serialize: pickled sizes, and seconds per item the caller
            would spend pickling and moving them to and from processes (None: not measured).
        serialize_copied: ``serialize`` with the bytes copied in memory rather than sent
            through a pipe: what interpreters pay (None: not measured).
        picklable: whether the function and an item pickle (None: not checked).
        transport: how an item and its result would cross to processes: ``"pipe"``, or
            ``"shared memory"`` for large buffers (None: not measured).
        safety: ``"unchecked"``, ``"safe"``, ``"unsafe"`` or ``"varies"``; ``safety_note`` the
            numbers behind it.
        trial: (threads, seconds per item) measured when items ran on threads, else None.
        busy_others: CPUs that other programs kept busy while measuring.
    """

    wall: float
    cpu: float
    gil: float | None
    spread: float
    samples: int
    arg_bytes: float | None = None
    result_bytes: float | None = None
    serialize: float | None = None
    picklable: bool | None = None
    serialize_copied: float | None = None
    safety: str = UNCHECKED
    safety_note: str = ""
    trial: tuple[int, float] | None = None
    busy_others: float = 0.0
    transport: str | None = None


@dataclass(frozen=True)
class Remembered:
    """One entry of ``poolwise.remembered()``."""

    function: str
    item_type: str
    item_size: str  # the size class, as a range of bytes
    profile: Profile
    decision: str  # the configuration chosen the last time, e.g. "thread x16"
    uses: int
    last_used: float  # time.time()
