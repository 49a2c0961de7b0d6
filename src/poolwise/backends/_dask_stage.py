"""Staging for the dask backend: batches on their way to the cluster.

``submit`` stages a batch (its items pickled once, in the parent); ``flush`` sends every staged
batch in one ``client.map`` call. What a batch task needs besides its items, the job and the
initializer, is sent once and reused: a small job inline with each batch, a large one as a Dask
task of its own (see the module ``_dask``).

So is a large argument that many tasks share (``pw.map(fit, [(data, p) for p in params])``):
a buffer of a megabyte or more (bytes, a numpy array...) that a job's batches give again after
one batch carried it inline becomes a Dask task of its own (``identity(obj)``, pickled into the
graph once); later batches name it in their pickled items and take it as a dependency, so Dask
moves it to each worker once, and computes it again if every worker holding it dies (as with
the job; scattered data would be lost).
"""

from __future__ import annotations

import io
import itertools
import pickle
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from poolwise import _transport
from poolwise.backends._base import Batch, Job
from poolwise.backends._dask_client import DaskClient
from poolwise.backends._dask_worker import RemoteInit, RemoteJob, identity, run_batch

_MAX_JOBS = 256  # jobs kept on the cluster for an Executor's repeated submits
_INLINE_JOB = 64 * 1024  # bytes: a job this small travels with each batch
_GRAPH_BYTES = 4 << 20  # pickled items sent to the scheduler in one graph, at most (see flush)
_SHARE_MIN = 1 << 20  # bytes: a buffer this large, given again by a later batch, is shared
_RECENT = 8  # large objects of a job's recent batches remembered, to see one come again
_PROTOCOL = 5


def release(arg: Any) -> None:
    """Let Dask drop what a job or initializer future holds (an inline job holds nothing)."""
    if not isinstance(arg, RemoteJob):
        arg.release()


class Stager:
    """Pickles batches, keeps the job and initializer arguments, and sends graphs.

    ``in_flight`` gives the batches sent and not yet collected (their jobs are kept)."""

    def __init__(
        self,
        token: str,
        topic: str,
        init_blob: bytes | None,
        batch_floor: float,
        in_flight: Callable[[], Iterable[Batch]],
    ) -> None:
        self._token = token
        self._topic = topic
        self._init_blob = init_blob
        self._batch_floor = batch_floor
        self._in_flight = in_flight
        self._client: DaskClient | None = None
        self._init_future: Any = None
        # job id -> its RemoteJob (small: sent inline) or the future of a task that holds it
        self._jobs: OrderedDict[int, Any] = OrderedDict()
        # batches staged since the last flush: (batch, key, its job argument, pickled items,
        # the futures of the shared objects its items name)
        self._staged: list[tuple[Batch, str, Any, bytes, dict[str, Any]]] = []
        # per job: large objects of recent batches (held, so their ids stay theirs), and the
        # shared ones by id: (key, future, the object, a copy of its bytes when it is mutable)
        self._recent: dict[int, OrderedDict[int, Any]] = {}
        self._shared: dict[int, dict[int, tuple[str, Any, Any, bytes | None]]] = {}
        # per job: objects that changed after they were shared (a buffer a generator refills),
        # by id: never shared again; and the futures of what they were, released with the job
        # (a batch staged before the change may still name one)
        self._changed: dict[int, dict[int, Any]] = {}
        self._stale: dict[int, list[Any]] = {}
        # jobs a large batch of which had no large buffer at all: their next large batches are
        # pickled once (the pass that looks for buffers calls Python for every object: it cost
        # five times the pickling itself on a batch of small records), unless one shows a
        # large buffer at a glance (``_looks_large``)
        self._plain: set[int] = set()
        self._shared_keys = itertools.count()
        self.full_batches = False  # whether the batch staged last had its full size

    def __len__(self) -> int:
        return len(self._staged)

    def connect(self, client: DaskClient) -> None:
        """Use ``client`` from now on; the initializer, if any, becomes a task of its own."""
        self._client = client
        if self._init_blob is not None:
            init = RemoteInit(self._token, self._init_blob)
            self._init_future = client.submit(
                identity, init, key=f"poolwise-init-{self._token}", pure=False
            )

    @property
    def client(self) -> DaskClient:
        assert self._client is not None, "the stager is not connected"
        return self._client

    def stage(self, batch: Batch, suffix: str = "") -> str | None:
        """Pickle the batch's items and keep it for the next flush: its Dask key, or None if
        its items cannot be pickled (nothing is staged)."""
        try:
            payload = _transport.dumps(batch.items)
        except Exception:
            return None
        refs: dict[str, Any] = {}
        if len(payload) >= _SHARE_MIN and (
            batch.job.id not in self._plain or _looks_large(batch.items)
        ):
            payload, refs = self._share(batch, payload)
        name = getattr(batch.job.fn, "__name__", "fn").replace("<", "").replace(">", "")
        key = f"poolwise-{name}-{self._token}-{batch.seq}{suffix}"
        self._staged.append((batch, key, self._job_arg(batch.job), payload, refs))
        per_item = batch.job.per_item
        self.full_batches = per_item is not None and len(batch) * per_item >= self._batch_floor / 2
        return key

    def _share(self, batch: Batch, payload: bytes) -> tuple[bytes, dict[str, Any]]:
        """The batch's items pickled again, naming the large objects an earlier batch of the
        job carried (each now a Dask task of its own); and those tasks' futures by name."""
        recent = self._recent.setdefault(batch.job.id, OrderedDict())
        shared = self._shared.setdefault(batch.job.id, {})
        changed = self._changed.setdefault(batch.job.id, {})
        stale = self._stale.setdefault(batch.job.id, [])
        refs: dict[str, Any] = {}
        stager = self
        large = [False]

        class Naming(pickle.Pickler):
            def persistent_id(self, obj: Any) -> str | None:
                if _size(obj) < _SHARE_MIN:
                    return None
                large[0] = True
                known = shared.get(id(obj))
                if known is not None and not _unchanged(obj, known[3]):
                    # its task holds the bytes it had then: from now on it travels inline
                    del shared[id(obj)]
                    stale.append(known[1])
                    changed[id(obj)] = obj
                    return None
                if known is None:
                    if changed.get(id(obj)) is obj:
                        return None
                    if recent.get(id(obj)) is not obj:  # (first seen: it travels inline)
                        recent[id(obj)] = obj
                        while len(recent) > _RECENT:
                            recent.popitem(last=False)
                        return None
                    readable, copy = _snapshot(obj)
                    if not readable:  # (a change could not be seen later: it travels inline)
                        return None
                    key = f"poolwise-data-{stager._token}-{next(stager._shared_keys)}"
                    future = stager.client.submit(identity, obj, key=key, pure=False)
                    known = (key, future, obj, copy)
                    shared[id(obj)] = known
                    del recent[id(obj)]
                refs[known[0]] = known[1]
                return known[0]

        out = io.BytesIO()
        try:
            Naming(out, _PROTOCOL).dump(batch.items)
        except Exception:  # (what only cloudpickle pickles: it travels inline, as before)
            return payload, {}
        if large[0]:
            self._plain.discard(batch.job.id)
        else:
            self._plain.add(batch.job.id)
        return (out.getvalue(), refs) if refs else (payload, {})

    def flush(self, track: Callable[[str, Batch, Any], None]) -> None:
        """Send the staged batches as one graph: one ``update_graph`` on the scheduler for
        them all, as ``client.map`` does (a graph per batch cost the parent's event loop
        a fifth of its time). Large items go in several graphs of up to 4 MiB each (Dask
        warns of graphs over 10 MB). ``track(key, batch, future)`` is called for each sent."""
        while self._staged:
            size, n = 0, 0
            for _, _, _, payload, _ in self._staged:
                if n and size + len(payload) > _GRAPH_BYTES:
                    break
                size, n = size + len(payload), n + 1
            group = self._staged[:n]
            futures = self.client.map(
                run_batch,
                [arg for _, _, arg, _, _ in group],
                [self._init_future] * n,
                [payload for _, _, _, payload, _ in group],
                [batch.seq for batch, _, _, _, _ in group],
                [self._topic] * n,
                [refs for _, _, _, _, refs in group],
                key=[key for _, key, _, _, _ in group],
                pure=False,
            )
            del self._staged[:n]
            for (batch, key, _, _, _), future in zip(group, futures, strict=True):
                track(key, batch, future)

    def _job_arg(self, job: Job) -> Any:
        """What a batch task gets as its job: the job itself, or the future of its task."""
        arg = self._jobs.get(job.id)
        if arg is not None:
            self._jobs.move_to_end(job.id)
            return arg
        remote = RemoteJob(_transport.dumps_function((job.fn, job.mode, job.timeout is not None)))
        if len(remote.blob) <= _INLINE_JOB:
            # inline: tasks without dependencies go to whichever worker is free. (A task that
            # depends on the job's is placed by data locality, and Dask's memory manager soon
            # drops the job's replicas: the batches then pile up on one worker.)
            arg = remote
        else:
            key = f"poolwise-job-{self._token}-{job.id}"
            arg = self.client.submit(identity, remote, key=key, pure=False)
        self._jobs[job.id] = arg
        if len(self._jobs) > _MAX_JOBS:
            used = {b.job.id for b in self._in_flight()}
            used.update(s[0].job.id for s in self._staged)
            for old in [j for j in self._jobs if j not in used and j != job.id][:32]:
                release(self._jobs.pop(old))
        return arg

    def forget(self, job: Job) -> None:
        arg = self._jobs.pop(job.id, None)
        if arg is not None:
            release(arg)
        self._recent.pop(job.id, None)
        self._changed.pop(job.id, None)
        self._plain.discard(job.id)
        for future in self._stale.pop(job.id, []):
            future.release()
        for _, future, _, _ in self._shared.pop(job.id, {}).values():
            future.release()

    def cancel(self, owner: Any) -> list[Batch]:
        """Unstage the batches of ``owner``'s run (they were never sent)."""
        staged = [s[0] for s in self._staged if s[0].owner is owner]
        self._staged = [s for s in self._staged if s[0].owner is not owner]
        return staged

    def drop(self) -> None:
        """Forget the staged batches (at shutdown)."""
        self._staged.clear()

    def release_all(self) -> None:
        """Let Dask drop every job and the initializer (at shutdown)."""
        for arg in [*self._jobs.values(), self._init_future]:
            if arg is not None:
                release(arg)
        self._jobs.clear()
        for job in list(self._shared):
            for _, future, _, _ in self._shared.pop(job).values():
                future.release()
        for job in list(self._stale):
            for future in self._stale.pop(job):
                future.release()
        self._recent.clear()
        self._changed.clear()
        self._plain.clear()


def _snapshot(obj: Any) -> tuple[bool, bytes | None]:
    """What tells later whether ``obj`` changed: (True, None) for ``bytes`` (it cannot), else
    (True, a copy of its bytes); (False, None) when they cannot be read (it is not shared)."""
    if type(obj) is bytes:
        return True, None
    try:
        with memoryview(obj) as view:
            return True, view.tobytes()
    except Exception:  # (no buffer: an object with an nbytes of its own)
        return False, None


def _unchanged(obj: Any, copy: bytes | None) -> bool:
    """Whether ``obj`` still has the bytes it had when it was shared (a copy is a memcmp of
    a fresh copy: a fraction of a millisecond per megabyte, less than sending it again)."""
    if copy is None:
        return True
    try:
        with memoryview(obj) as view:
            return view.tobytes() == copy
    except Exception:
        return False


def _looks_large(items: list[Any]) -> bool:
    """Whether the first item, or a member of it (a small tuple or list), is a large buffer:
    one look, so that a batch of small records pays nothing more."""
    if not items:
        return False
    x = items[0]
    if type(x) is tuple or type(x) is list:
        return len(x) <= 64 and any(_size(v) >= _SHARE_MIN for v in x)
    return _size(x) >= _SHARE_MIN


def _size(obj: Any) -> int:
    """The bytes of a buffer worth sharing (bytes, bytearray, a numpy array...), else 0."""
    t = type(obj)
    if t is bytes or t is bytearray:
        return len(obj)
    if t is int or t is str or t is float or t is tuple or t is list or t is dict:
        return 0  # (the common types, answered without a lookup)
    try:
        nbytes = getattr(obj, "nbytes", 0)
    except Exception:  # (a property of the user's that raises: not ours to report)
        return 0
    return nbytes if type(nbytes) is int else 0
