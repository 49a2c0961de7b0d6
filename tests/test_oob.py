"""Out-of-band pickling (backends/_oob.py): what goes beside the stream, and what comes back."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from poolwise.backends import _oob

BIG = _oob.THRESHOLD


def _round_trip(items: list[Any], *, owned: bool = False) -> list[Any]:
    packed, _ = _oob.dump(items, items, list)
    if owned:  # (as the parent reads a result: private copies of the right type)
        buffers = [_oob.owned(b, k) for b, k in zip(packed.buffers, packed.kinds)]
    else:  # (as a worker reads its arguments: read-only views of the arena)
        buffers = [b.toreadonly() for b in packed.buffers]
    out: list[Any] = _oob.loads(packed.stream, buffers)
    return out


def test_small_objects_pickle_exactly_as_before() -> None:
    items = [1, "two", b"x" * 1000, (3.0, [4]), {"k": bytearray(10)}]
    packed, hint = _oob.dump(items, items, list)
    assert packed.stream == pickle.dumps(items, 5)
    assert packed.buffers == [] and hint is None


@pytest.mark.parametrize("owned", [False, True])
def test_large_bytes_likes_go_beside_the_stream_and_keep_their_types(owned: bool) -> None:
    data = bytes(range(256)) * (BIG // 256 + 1)
    view = memoryview(bytearray(data[: 8 * (len(data) // 8)])).cast("d")
    items = [data, bytearray(data), view, (data, 1), {"k": data}, b"small"]
    packed, hint = _oob.dump(items, items, list)
    # (``data`` is there three times and travels once)
    assert hint == _oob.OUT_OF_BAND and len(packed.buffers) == 3 and len(packed.stream) < 1000
    assert packed.kinds == b"bam"
    out = _round_trip(items, owned=owned)
    assert [type(x) for x in out] == [bytes, bytearray, memoryview, tuple, dict, bytes]
    assert out[0] == data and out[1] == data and out[3] == (data, 1) and out[4] == {"k": data}
    assert out[2].format == "d" and out[2].shape == view.shape
    assert out[2].tobytes() == view.tobytes()  # (NaNs among the doubles: bytes, not ==)
    assert out[2].readonly is not owned


def test_a_memoryview_pickles_though_pickle_refuses_one() -> None:
    view = memoryview(bytes(BIG))
    with pytest.raises(TypeError):
        pickle.dumps(view, 5)
    assert _round_trip([view])[0] == view


def test_bytes_deep_in_a_large_container_stay_in_the_stream_and_the_job_says_plain() -> None:
    items = [[*range(100), bytes(BIG)]]
    packed, hint = _oob.dump(items, items, list)
    assert packed.buffers == [] and hint == _oob.PLAIN
    assert _oob.loads(packed.stream, []) == items
    # (the job's next batch is pickled once, plainly)
    calls: list[int] = []

    def counting(obj: Any, protocol: int, **kw: Any) -> bytes:
        calls.append(1)
        return pickle.dumps(obj, protocol, **kw)

    again, still = _oob.dump(items, items, list, hint=hint, dumps=counting)
    assert len(calls) == 1 and again.stream == packed.stream and still == _oob.PLAIN


def test_a_job_that_had_bytes_goes_out_of_band_at_once_next_time() -> None:
    items = [1, bytes(BIG)]  # (the first item says nothing: found by the stream's size)
    packed, hint = _oob.dump(items, items, list)
    assert hint == _oob.OUT_OF_BAND and len(packed.buffers) == 1
    again, still = _oob.dump(items, items, list, hint=hint)
    assert still == hint and len(again.buffers) == 1 and again.stream == packed.stream


def test_numpy_arrays_arrive_as_read_only_views_or_writable_copies() -> None:
    np = pytest.importorskip("numpy")
    a = np.arange(BIG, dtype=np.float64)
    small = np.arange(10)
    strided = a[::2]  # (not contiguous: numpy pickles it in the stream)
    items = [a, small, strided]
    packed, _ = _oob.dump(items, items, list)
    assert len(packed.buffers) == 1 and packed.kinds == b"r"
    view, small2, strided2 = _round_trip(items)
    assert not view.flags.writeable and (view == a).all()
    assert (small2 == small).all() and (strided2 == strided).all()
    copy = _round_trip(items, owned=True)[0]
    assert copy.flags.writeable and (copy == a).all()


def test_cloudpickle_carries_buffers_too() -> None:
    np = pytest.importorskip("numpy")
    import cloudpickle

    items = [(lambda: 1, np.ones(BIG))]
    packed, _ = _oob.dump(items, items, list, dumps=cloudpickle.dumps)
    assert len(packed.buffers) == 1
    fn, arr = _oob.loads(packed.stream, packed.buffers)[0]
    assert fn() == 1 and arr.sum() == BIG


def test_an_object_given_twice_travels_once() -> None:
    data = bytes(BIG)
    items = [data, data, (data,)]
    packed, _ = _oob.dump(items, items, list)
    assert len(packed.buffers) == 1
    out = _oob.loads(packed.stream, packed.buffers)
    assert out[0] is out[1] is out[2][0] and out[0] == data


class _Lazy:
    @property
    def nbytes(self) -> int:
        raise RuntimeError("not loaded")


def test_an_nbytes_that_raises_is_not_our_error() -> None:
    items = [_Lazy(), 1]
    packed, hint = _oob.dump(items, items, list)
    assert packed.buffers == [] and hint is None


def _owner(x: Any) -> Any:
    """What owns an array's (or memoryview's) memory at the end of its chain of bases."""
    base = x
    while type(base).__name__ == "ndarray" and base.base is not None:
        base = base.base
    return getattr(base, "obj", base)


def test_large_result_arrays_are_copied_into_mappings_reused_once_free() -> None:
    np = pytest.importorskip("numpy")
    fresh = _oob.Fresh()
    if not fresh.enabled:
        pytest.skip("no MAP_POPULATE or no reference counts here")
    a = np.arange(_oob.FRESH // 8, dtype=np.float64)
    packed, _ = _oob.dump([a], [a], list)
    assert packed.kinds == _oob.ARRAY

    def read() -> Any:
        buffers = [fresh.owned(b, k) for b, k in zip(packed.buffers, packed.kinds)]
        return _oob.loads(packed.stream, buffers)[0]

    first = read()
    assert first.flags.writeable and (first == a).all()
    assert type(_owner(first)).__name__ == "mmap"
    first[:] = -1.0
    second = read()  # (the first still lives: a mapping of its own)
    assert _owner(second) is not _owner(first)
    assert (first == -1.0).all() and (second == a).all()
    mapping = id(_owner(first))
    del first
    third = read()  # (the first is gone: its mapping again, all of it rewritten)
    assert id(_owner(third)) == mapping and (third == a).all() and (second == a).all()


def test_only_array_and_memoryview_buffers_go_to_mappings_and_types_are_kept() -> None:
    fresh = _oob.Fresh()
    big = memoryview(bytes(range(256)) * (_oob.FRESH // 256))
    assert type(fresh.owned(big, _oob.BYTES[0])) is bytes
    assert type(fresh.owned(big, _oob.BYTEARRAY[0])) is bytearray
    assert type(fresh.owned(big, _oob.OTHER[0])) is bytearray  # (as pickle would make it)
    assert type(fresh.owned(big[:1000], _oob.ARRAY[0])) is bytearray  # (small: the allocator)
    items = [big.cast("i")]
    packed, _ = _oob.dump(items, items, list)
    assert packed.kinds == _oob.VIEW
    buffers = [fresh.owned(b, k) for b, k in zip(packed.buffers, packed.kinds)]
    (view,) = _oob.loads(packed.stream, buffers)
    assert type(view) is memoryview and view.format == "i" and view == big.cast("i")
    assert type(view.obj).__name__ == ("mmap" if fresh.enabled else "bytearray")


def test_fresh_remembers_a_bounded_number_of_mappings_and_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fresh = _oob.Fresh()
    if not fresh.enabled:
        pytest.skip("no MAP_POPULATE or no reference counts here")
    monkeypatch.setattr(_oob, "KEEP", 2 * _oob.FRESH)
    big = memoryview(bytearray(b"x" * _oob.FRESH))
    held = [fresh.owned(big, _oob.ARRAY[0]) for _ in range(5)]
    assert all(bytes(h[:1]) == b"x" for h in held)
    assert fresh._bytes <= _oob.KEEP and len(fresh._maps) == 2
    fresh.clear()
    assert not fresh._maps

    def no_mapping(*args: Any, **kwargs: Any) -> Any:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(_oob.mmap, "mmap", no_mapping)
    copy = fresh.owned(big, _oob.ARRAY[0])
    assert type(copy) is bytearray and copy == big
