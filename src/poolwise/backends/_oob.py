"""Out-of-band pickling: large buffers travel beside the pickle stream, not inside it.

Pickle protocol 5 hands every ``PickleBuffer`` an object makes (numpy arrays do, for their
data) to a ``buffer_callback``; the stream keeps only its place, and ``pickle.loads(stream,
buffers=...)`` rebuilds the object around whatever buffer it is given there. The process
backend puts those buffers in shared memory (``_arena``), so an array's bytes are copied once,
into memory the other side maps, instead of three times through a pipe.

``bytes``, ``bytearray`` and ``memoryview`` make no ``PickleBuffer`` of their own (the C pickler
writes ``bytes`` inline and never asks a reducer), so those above the threshold are swapped for
a small stand-in that reduces to one, where they are found cheaply: an item or result itself,
or inside a tuple, list or dict of up to ``_SCAN`` entries of one. They keep their types on the
other side; deeper ones travel inline, as before.

Small objects pay nothing: a batch whose first item is not large is pickled plainly, and only
a stream that comes out large is pickled again out of band; a job remembers which it needed.

Each buffer is tagged with what it becomes (``KINDS``), so the side that must own its copy
(the parent, reading results) makes exactly one copy of the right type.
"""

from __future__ import annotations

import mmap
import pickle
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

PROTOCOL = 5

# Below this a buffer stays in the pickle stream. A pipe moves ~0.6 GB/s and a copy into
# mapped memory several GB/s, but each batch out of band costs some bookkeeping and is never
# pipelined behind another: bench/transfer.py's size sweep (one array per task) finds the two
# within each other's noise from 16 to 128 KiB, shared memory 2-3x faster at 256 KiB and 8-10x
# at 1 MiB.
THRESHOLD = 64 * 1024

# containers larger than this are not searched for bytes (a list of a million floats must not
# cost a million type checks): their bytes travel inline
_SCAN = 64

BYTES, BYTEARRAY, VIEW, ARRAY, OTHER = b"b", b"a", b"m", b"r", b"n"
KINDS = (BYTES, BYTEARRAY, VIEW, ARRAY, OTHER)


def _rebuild_bytes(buf: Any) -> bytes:
    return buf if type(buf) is bytes else bytes(buf)


def _rebuild_bytearray(buf: Any) -> bytearray:
    return buf if type(buf) is bytearray else bytearray(buf)


def _rebuild_view(buf: Any, fmt: str, shape: tuple[int, ...]) -> memoryview:
    view = memoryview(buf)
    return view if fmt == "B" and len(shape) == 1 else view.cast(fmt, shape)  # type: ignore[call-overload]


class _Swapped:
    """Stands in for a large bytes, bytearray or memoryview: reduces to a PickleBuffer."""

    __slots__ = ("buffer", "kind", "obj")

    def __init__(self, obj: Any, kind: bytes) -> None:
        self.obj = obj
        self.kind = kind
        self.buffer = pickle.PickleBuffer(obj)

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.kind == BYTES:
            return _rebuild_bytes, (self.buffer,)
        if self.kind == BYTEARRAY:
            return _rebuild_bytearray, (self.buffer,)
        view = self.obj
        return _rebuild_view, (self.buffer, view.format, tuple(view.shape))


def _swap_one(x: Any, threshold: int, seen: dict[int, _Swapped]) -> Any:
    t = type(x)
    kind = None
    if t is bytes or t is bytearray:
        if len(x) >= threshold:
            kind = BYTES if t is bytes else BYTEARRAY
    # (a memoryview of a native one-letter format: the other side casts the bytes back to it;
    # of any size, since pickle refuses memoryviews: a small one stays in the stream, still a
    # memoryview, where cloudpickle's way would make it bytes)
    elif t is memoryview and x.c_contiguous and len(x.format) == 1:
        kind = VIEW
    if kind is None:
        return x
    # one stand-in per object: pickle's memo then sends an object given twice once, as it
    # does for the object itself
    stand_in = seen.get(id(x))
    if stand_in is None:
        stand_in = seen[id(x)] = _Swapped(x, kind)
    return stand_in


def _swap_in(x: Any, threshold: int, seen: dict[int, _Swapped]) -> Any:
    """``x`` with its large bytes-likes swapped, one container level deep; ``x`` itself when
    nothing was."""
    t = type(x)
    if t is tuple or t is list:
        if len(x) > _SCAN:
            return x
        swapped = [_swap_one(v, threshold, seen) for v in x]
        if all(a is b for a, b in zip(swapped, x)):
            return x
        return tuple(swapped) if t is tuple else swapped
    if t is dict:
        if len(x) > _SCAN:
            return x
        d = {k: _swap_one(v, threshold, seen) for k, v in x.items()}
        return x if all(d[k] is v for k, v in x.items()) else d
    return _swap_one(x, threshold, seen)


def swap(items: list[Any], threshold: int) -> list[Any]:
    """A batch's items (or results) with large bytes-likes swapped for stand-ins."""
    seen: dict[int, _Swapped] = {}
    out = [_swap_in(x, threshold, seen) for x in items]
    return items if all(a is b for a, b in zip(out, items)) else out


def _views_of(x: Any, owner: Any) -> bool:
    """Whether ``x`` is a read-only numpy array over ``owner`` (the worker's argument arena):
    an argument a task returned, or a view of one."""
    if type(x).__name__ != "ndarray" or x.flags.writeable:
        return False
    base = x.base
    while type(base).__name__ == "ndarray":
        base = base.base
    return type(base) is memoryview and base.obj is owner


def _own_one(x: Any, owner: Any, copies: dict[int, Any]) -> Any:
    if not _views_of(x, owner):
        return x
    # (one copy per array: an array returned twice still comes back as one object)
    copy = copies.get(id(x))
    if copy is None:
        copy = copies[id(x)] = x.copy(order="K")  # (its layout kept, as pickling does)
    return copy


def own_arguments(values: list[Any], owner: Any) -> list[Any]:
    """Results with the arrays that view their arguments' read-only shared memory copied, as
    far as ``swap`` looks: they come back writable, as through the pipe (where the argument
    was the worker's own). ``values`` itself when there are none."""
    out = values
    copies: dict[int, Any] = {}
    for i, x in enumerate(values):
        t = type(x)
        if t is tuple or t is list:
            y: Any = x
            if len(x) <= _SCAN and any(_views_of(v, owner) for v in x):
                y = t(_own_one(v, owner, copies) for v in x)
        elif t is dict:
            y = x
            if len(x) <= _SCAN and any(_views_of(v, owner) for v in x.values()):
                y = {k: _own_one(v, owner, copies) for k, v in x.items()}
        else:
            y = _own_one(x, owner, copies)
        if y is not x:
            if out is values:
                out = list(values)
            out[i] = y
    return out


class Packed:
    """A pickle stream and the buffers that travel beside it, with the kind of each."""

    __slots__ = ("buffers", "kinds", "nbytes", "stream")

    def __init__(self, stream: bytes, buffers: list[memoryview], kinds: bytes) -> None:
        self.stream = stream
        self.buffers = buffers
        self.kinds = kinds
        self.nbytes = sum(b.nbytes for b in buffers) if buffers else 0


_NO_BUFFERS: list[memoryview] = []


def _looks_big(x: Any, threshold: int) -> bool:
    """Whether ``x`` (or a member of a small tuple or list of them) is a large buffer: one
    look at a batch's first item, so that a job of small items pays nothing more."""
    t = type(x)
    if t is tuple or t is list:
        return len(x) <= 8 and any(_looks_big(v, threshold) for v in x)
    if t is bytes or t is bytearray:
        return len(x) >= threshold
    if t is int or t is str or t is float or t is dict:
        return False  # (the common types, without a lookup)
    try:
        nbytes = getattr(x, "nbytes", 0)
    except Exception:  # (a property of the user's that raises: not ours to report)
        return False
    return type(nbytes) is int and nbytes >= threshold


OUT_OF_BAND, PLAIN = "out of band", "plain"  # what a job's batches turned out to need


def dump(
    obj: Any,
    items: list[Any],
    rebuild: Callable[[list[Any]], Any],
    *,
    threshold: int = THRESHOLD,
    hint: str | None = None,
    dumps: Callable[..., bytes] | None = None,
) -> tuple[Packed, str | None]:
    """Pickle ``obj`` (which is ``rebuild(items)``) with buffers of ``threshold`` bytes or more
    out of band. Returns the packed stream and what the job turned out to need, which the
    caller passes back as ``hint`` for the job's next batch: ``OUT_OF_BAND`` (it goes straight
    to the out-of-band pickling), ``PLAIN`` (its stream was large but nothing in it could go
    out of band: the plain pickle, once) or None (small so far). A batch whose first item is
    not large is pickled plainly first, exactly as without shared memory, and again out of band
    only when that stream came out ``threshold`` or larger. ``dumps`` is the pickler
    (``pickle.dumps`` by default; cloudpickle's for objects the C pickler refuses). Raises what
    pickling raises."""
    pickler = dumps or pickle.dumps
    stream = None
    if hint != OUT_OF_BAND and not (items and _looks_big(items[0], threshold)):
        try:
            stream = pickler(obj, PROTOCOL)
        except Exception:  # (a memoryview cannot be pickled, but its stand-in can)
            pass
        else:
            if len(stream) < threshold:
                return Packed(stream, _NO_BUFFERS, b""), hint
            if hint == PLAIN:
                return Packed(stream, _NO_BUFFERS, b""), hint
    buffers: list[memoryview] = []
    kinds = bytearray()
    tags: dict[int, bytes] = {}

    def keep(pb: pickle.PickleBuffer) -> bool:
        try:
            raw = pb.raw()
        except BufferError:  # (not contiguous: it stays in the stream)
            return True
        if raw.nbytes < threshold:
            return True
        buffers.append(raw)
        kind = tags.get(id(pb))
        if kind is None:
            kind = ARRAY if type(raw.obj).__name__ == "ndarray" else OTHER
        kinds.extend(kind)
        return False

    swapped = swap(items, threshold)
    if swapped is not items:
        tags.update((id(s.buffer), s.kind) for s in _stand_ins(swapped))
        obj = rebuild(swapped)
    oob = pickler(obj, PROTOCOL, buffer_callback=keep)
    if buffers or swapped is not items or stream is None:
        return Packed(oob, buffers, bytes(kinds)), OUT_OF_BAND
    return Packed(stream, _NO_BUFFERS, b""), PLAIN


def _stand_ins(items: list[Any]) -> list[_Swapped]:
    out = []
    for x in items:
        if type(x) is _Swapped:
            out.append(x)
        elif type(x) is tuple or type(x) is list:
            out += [v for v in x if type(v) is _Swapped]
        elif type(x) is dict:
            out += [v for v in x.values() if type(v) is _Swapped]
    return out


def owned(view: memoryview, kind: int) -> Any:
    """A private copy of ``view`` of the type its kind rebuilds from without a second copy
    (the parent's side: results must not point into memory the worker will reuse)."""
    if kind == BYTES[0]:
        return bytes(view)
    return bytearray(view)


# A numpy array's or memoryview's buffer this large, coming back as a result, is copied into
# an anonymous mapping of its own whose pages the kernel populates in one call (MAP_POPULATE):
# new memory comes ~1.5x faster that way than through a bytearray's page faults one page at a
# time (bench/transfer.py). Mappings are recycled once nothing refers to them any more.
FRESH = 1 << 20
# the mappings ``Fresh`` remembers for reuse, at most this many bytes of them
KEEP = 64 << 20
_POPULATE = getattr(mmap, "MAP_POPULATE", 0)
_MAPPED = (ARRAY[0], VIEW[0])


def _references(held: deque[Any]) -> list[int]:
    """The reference count of each object in ``held``, as this interpreter counts them here."""
    return [sys.getrefcount(x) for x in held]


# (measured by the same code, whatever the interpreter's way of counting a loop's references)
_ONLY_HELD = _references(deque([object()]))[0] if hasattr(sys, "getrefcount") else 0


class Fresh:
    """The parent's copies of large result buffers (``owned`` otherwise).

    A mapping made for one comes back to be reused once only this object refers to it (the
    results over it are gone: an array or memoryview over it holds a reference to it), so a
    caller who drops each result as it goes reuses the same warm pages, as the allocator would
    give a bytearray, and one who keeps them gets new pages at the kernel's best speed. At most
    ``KEEP`` bytes of mappings are remembered, newest first; ``clear`` forgets them all (a
    mapping in use lives on with what uses it)."""

    def __init__(self) -> None:
        self._maps: deque[mmap.mmap] = deque()
        self._bytes = 0
        # (a reference count tells when a mapping is free again: CPython's, with its GIL)
        self.enabled = (
            bool(_POPULATE)
            and hasattr(sys, "getrefcount")
            and getattr(sys, "_is_gil_enabled", lambda: True)()
        )

    def owned(self, view: memoryview, kind: int) -> Any:
        n = view.nbytes
        if kind not in _MAPPED or n < FRESH or not self.enabled:
            return owned(view, kind)
        fresh = self._reuse(n)
        if fresh is None:
            try:
                fresh = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | _POPULATE)
            except OSError:  # (out of mappings or of memory: let the allocator try)
                return owned(view, kind)
            if n <= KEEP:
                self._remember(fresh)
        with memoryview(fresh) as into:
            into[:] = view
        return fresh

    def _reuse(self, n: int) -> mmap.mmap | None:
        # (anything built over a mapping holds a reference to it: one no more referred to
        # than an object only a deque holds is free)
        maps = self._maps  # (``clear`` from another thread replaces it: this one stays whole)
        for i, refs in enumerate(_references(maps)):
            m = maps[i]
            if len(m) == n and refs <= _ONLY_HELD:
                del maps[i]
                maps.append(m)  # (the newest again)
                return m
        return None

    def _remember(self, m: mmap.mmap) -> None:
        self._maps.append(m)
        self._bytes += len(m)
        while self._bytes > KEEP:
            self._bytes -= len(self._maps.popleft())

    def clear(self) -> None:
        self._maps = deque()
        self._bytes = 0


def loads(stream: bytes | memoryview, buffers: list[Any]) -> Any:
    return pickle.loads(stream, buffers=buffers)
