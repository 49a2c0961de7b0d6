"""Shared-memory arenas: where out-of-band buffers (``_oob``) cross between the parent and a
worker at memory speed.

Each direction of each worker has its own arena, written by one side and mapped read-only by
the other: the parent's for a worker's arguments, the worker's two (alternating, for the two
batches a worker may hold) for its results. An arena is one segment, reused batch after batch
and replaced by a larger one when a message needs more (never one segment per task).

A segment is an anonymous ``memfd`` (Linux): it has no name in ``/dev/shm`` or anywhere else,
and its memory is freed by the kernel when the last process mapping it exits or unmaps it,
however it ends (a normal end, a crash, SIGKILL of the parent or a worker): nothing can leak.
Elsewhere a file in ``/dev/shm`` is created and unlinked at once (the same guarantee, after a
window of microseconds). Its file descriptor crosses the worker's own Unix socket
(``SCM_RIGHTS``) just before the first message that uses it.

Pages are reserved when a segment is made (``posix_fallocate``): a full ``/dev/shm`` or memory
limit then fails the allocation (the batch takes the pipe, with one warning) instead of
killing the writer with SIGBUS halfway through a copy.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import sys
import weakref
from typing import Any

# a message's buffers start on cache-line boundaries
_ALIGN = 64
# segments grow in steps of at least this (and to twice the last size), so a job's batches
# settle on one segment quickly
_MIN_SEGMENT = 1 << 20
# never reserve more than this share of physical memory for one segment: past it, the pipe
_MAX_SHARE = 0.25

# kind, arena index, generation, size; followed on the socket by the descriptor itself
SEGMENT = struct.Struct("<BIQ")
# per buffer: offset, length
PLACE = struct.Struct("<QQ")

NAME = "poolwise"


class Unavailable(Exception):
    """No segment large enough could be had (the batch or result takes the pipe)."""


def supported() -> bool:
    """Whether this platform can make a segment (memfd, or a file in /dev/shm) and pass it to
    a worker (Unix sockets with SCM_RIGHTS)."""
    return (
        sys.platform != "win32"
        and hasattr(socket, "send_fds")
        and (hasattr(os, "memfd_create") or os.path.isdir("/dev/shm"))
    )


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def create_segment(size: int) -> int:
    """A file descriptor of ``size`` bytes of reserved shared memory. Raises OSError (ENOSPC,
    ENOMEM...) when it cannot be had."""
    if size > _MAX_SHARE * _physical_memory():
        raise OSError(f"{size / 1e6:.0f} MB is more than a quarter of this machine's memory")
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(NAME, os.MFD_CLOEXEC)
    else:  # (macOS and others: a file in /dev/shm, unlinked before anything can leak it)
        import tempfile  # (off Linux only)

        fd, path = tempfile.mkstemp(prefix=f"{NAME}-", dir="/dev/shm")
        os.unlink(path)
    try:
        os.ftruncate(fd, size)
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fd, 0, size)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Writer:
    """The writing side of one arena: copies a message's buffers into its segment, making a
    larger one first when they do not fit (its descriptor must then be sent, see ``fresh``)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.generation = 0
        self.size = 0
        self.fd = -1
        self._map: mmap.mmap | None = None
        self._view: memoryview | None = None

    def reserve(self, need: int) -> bool:
        """Room for ``need`` bytes; True when a new segment was made for it (send ``fd``
        then ``close_fd``). Raises Unavailable when no segment that large can be had."""
        if need <= self.size:
            return False
        try:
            self._grow(need)
        except OSError as exc:
            raise Unavailable(str(exc)) from exc
        return True

    def _grow(self, need: int) -> None:
        size = max(_MIN_SEGMENT, 2 * self.size, -(-need // _MIN_SEGMENT) * _MIN_SEGMENT)
        if size > need and size > _MAX_SHARE * _physical_memory():
            size = -(-need // _MIN_SEGMENT) * _MIN_SEGMENT
        fd = create_segment(size)
        try:
            new_map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self.close()
        self.fd, self._map, self.size = fd, new_map, size
        self._view = memoryview(new_map)
        self.generation += 1

    def close_fd(self) -> None:
        """The descriptor has been sent: the mapping alone keeps the segment here."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, buffers: list[memoryview]) -> None:
        """Copy ``buffers`` in (after ``reserve``), at the places ``layout`` gives."""
        view = self._view
        assert view is not None
        for b, (offset, n) in zip(buffers, layout(buffers)):
            view[offset : offset + n] = b

    def close(self) -> None:
        self.close_fd()
        if self._view is not None:
            self._view.release()
            self._view = None
        if self._map is not None:
            self._map.close()
            self._map = None
        self.size = 0


def layout(buffers: list[memoryview]) -> list[tuple[int, int]]:
    """Where ``Writer.write`` puts each buffer: (offset, length), on cache-line boundaries."""
    places = []
    offset = 0
    for b in buffers:
        n = b.nbytes
        places.append((offset, n))
        offset += -(-n // _ALIGN) * _ALIGN
    return places


def room(buffers: list[memoryview]) -> int:
    """The bytes ``Writer.write`` needs for ``buffers``."""
    return sum(-(-b.nbytes // _ALIGN) * _ALIGN for b in buffers)


class Reader:
    """The reading side of one arena: the segment the writer sent last, mapped read-only."""

    def __init__(self) -> None:
        self.generation = 0
        self._map: mmap.mmap | None = None

    def attach(self, fd: int, size: int, generation: int) -> None:
        """Map the segment ``fd`` (closed here: the mapping keeps it) in place of the last."""
        try:
            new_map = mmap.mmap(fd, size, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.close()
        self._map = new_map
        self.generation = generation

    def slices(self, places: list[tuple[int, int]]) -> list[memoryview]:
        """Views of the buffers at ``places``, through a view made for them alone: whatever
        is built on them keeps the mapping's export count up until it is gone (``in_use``)."""
        assert self._map is not None
        base = memoryview(self._map)
        out = [base[o : o + n] for o, n in places]
        base.release()  # (the slices hold the mapping on their own)
        return out

    @property
    def mapping(self) -> mmap.mmap | None:
        """The segment mapped now (what the views ``slices`` gives point into)."""
        return self._map

    def in_use(self) -> bool:
        """Whether anything still points into the segment (a task kept an argument, or a view
        of one). numpy's arrays hold a memoryview of their own that ``release`` on ours does
        not see, so this asks the mapping itself: a read-only ``mmap`` refuses ``resize``
        with BufferError while any buffer of it is exported, and with TypeError otherwise,
        changing nothing either way."""
        if self._map is None:
            return False
        try:
            self._map.resize(len(self._map))
        except BufferError:
            return True
        except (TypeError, OSError, SystemError):
            return False
        return False  # (not reached: the mapping is read-only)

    def close(self) -> None:
        """Unmap, unless something still points into the segment (a task kept an argument):
        then the mapping lives on with that object, and is unmapped when it goes."""
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:
                pass
            self._map = None


def release(views: list[memoryview]) -> None:
    """Release the views a message was read through."""
    for v in views:
        try:
            v.release()
        except BufferError:  # (exported by a task's object: ``Reader.in_use`` tells)
            pass


def send_fd(conn: Any, fd: int) -> None:
    """Send a descriptor over the connection's Unix socket, right after a message that
    announces it (one byte of payload carries it)."""
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        socket.send_fds(sock, [b"F"], [fd])


def recv_fd(conn: Any) -> int:
    """The descriptor announced by the message just received."""
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        _, fds, _, _ = socket.recv_fds(sock, 1, 1)
    if not fds:
        raise OSError("the shared-memory segment did not arrive with its message")
    return fds[0]


def pack_places(places: list[tuple[int, int]], kinds: bytes) -> bytes:
    """``count`` (u32), then each buffer's place and kind."""
    return struct.pack("<I", len(places)) + b"".join(PLACE.pack(o, n) for o, n in places) + kinds


def unpack_places(buf: memoryview, at: int) -> tuple[list[tuple[int, int]], bytes, int]:
    """Places and kinds read from ``buf`` at ``at``; and where the pickle stream starts."""
    (count,) = struct.unpack_from("<I", buf, at)
    at += 4
    places = [PLACE.unpack_from(buf, at + i * PLACE.size) for i in range(count)]
    at += count * PLACE.size
    kinds = bytes(buf[at : at + count])
    return places, kinds, at + count


# message kinds of the transport (either direction), beside ``_worker``'s
NEW_SEGMENT = b"M"  # SEGMENT header, then the descriptor
PINNED = b"K"  # worker -> parent: a task kept an argument; write the next into a new segment
FELL_BACK = b"W"  # worker -> parent: a result took the pipe (text: why)


def announce(conn: Any, writer: Writer) -> None:
    """Send ``writer``'s new segment: its header, then its descriptor (closed after)."""
    conn.send_bytes(NEW_SEGMENT + SEGMENT.pack(writer.index, writer.generation, writer.size))
    send_fd(conn, writer.fd)
    writer.close_fd()


def receive(conn: Any, buf: bytes, readers: list[Reader]) -> None:
    """A NEW_SEGMENT message: take its descriptor from the socket and map it."""
    index, generation, size = SEGMENT.unpack_from(buf, 1)
    readers[index].attach(recv_fd(conn), size, generation)


class Link:
    """The parent's arenas for one worker: the one it writes arguments into (index 0) and
    the two the worker writes results into (1 and 2, alternately)."""

    __slots__ = ("__weakref__", "pinned", "readers", "writer")

    def __init__(self) -> None:
        self.writer = Writer(0)
        self.readers = [Reader(), Reader(), Reader()]  # (index 0 unused: the parent writes it)
        self.pinned = False
        _LINKS.add(self)

    def ship(self, conn: Any, buffers: list[memoryview]) -> None:
        """Copy ``buffers`` into the worker's argument arena (sending a new segment first when
        it is too small, or pinned by a task that kept its argument). Raises Unavailable when
        no segment can be had, OSError when the worker's socket is closed."""
        if self.pinned:
            self.writer.close()
            self.pinned = False
        if self.writer.reserve(room(buffers)):
            announce(conn, self.writer)
        self.writer.write(buffers)

    def close(self) -> None:
        self.writer.close()
        for r in self.readers:
            r.close()


# Every Link alive in this process. A forked child (a worker replacing one that crashed, or the
# workers of a second pool) inherits the parent's mappings of every other worker's segments,
# and would keep them alive as long as it lives, after their own workers and pools ended.
_LINKS: weakref.WeakSet[Link] = weakref.WeakSet()


def _drop_inherited() -> None:
    """In a forked child: unmap the segments of the parent's links (the parent keeps its own
    mappings; the child never uses these links). A descriptor is closed only if it still is a
    segment: another thread of the parent may have closed it and reused its number just
    before the fork."""
    for link in list(_LINKS):
        writer = link.writer
        if writer.fd >= 0 and not _is_segment(writer.fd):
            writer.fd = -1
        parts: list[Writer | Reader] = [writer, *link.readers]
        for part in parts:
            try:
                part.close()
            except (BufferError, OSError):  # (a buffer of it exported when the parent forked)
                pass
    _LINKS.clear()


def _is_segment(fd: int) -> bool:
    try:
        return NAME in os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited)
