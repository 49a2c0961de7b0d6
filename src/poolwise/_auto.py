"""``backend="auto"``: the pilot runs the first items in the caller and decides; the rest runs
on the backend it chose. ``map``, ``imap`` and ``Executor`` all come through here."""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from poolwise._errors import Failure, WorkerInitError
from poolwise._options import Options
from poolwise.backends._base import TaskError

if TYPE_CHECKING:  # the advisor loads at the first auto run: `import poolwise` stays light
    from poolwise.advisor._advice import Advice
    from poolwise.advisor._pilot import Pilot


def _initialize(opts: Options) -> None:
    """The caller runs the first items, so it is initialized as a worker would be."""
    if opts.initializer is None:
        return
    try:
        opts.initializer(*opts.initargs)
    except Exception as exc:
        raise WorkerInitError(f"the initializer failed: {exc!r}") from exc


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def pilot_chunks(
    pilot: Pilot,
    on_error: str,
    raise_failure: Callable[[int, TaskError, int, int | None], None],
) -> Generator[list[Any], None, None]:
    """The pilot's outcomes as results (``Failure`` in place of exceptions with
    ``on_error="return"``; the first exception raised, as a loop would, with ``"raise"``)."""
    from poolwise.advisor._pilot import Raised  # (start-up time: see the imports)

    index = raised = 0
    for chunk in pilot.run():
        if pilot.raised != raised:
            raised = pilot.raised
            values: list[Any] = []
            for j, x in enumerate(chunk):
                if not isinstance(x, Raised):
                    values.append(x)
                elif on_error == "raise":
                    if values:
                        yield values
                    error = TaskError(x.exception, _traceback(x.exception))
                    raise_failure(index + j, error, index + j, pilot.n)
                else:
                    exc = x.exception
                    values.append(Failure(index + j, x.item, exc, _traceback(exc)))
            chunk = values
        index += len(chunk)
        yield chunk


def run_auto(
    fn: Callable[..., Any],
    items: Iterable[Any],
    opts: Options,
    *,
    user_workers: int | None,
    run_rest: Callable[[Iterable[Any], Options, int], Iterator[list[Any]]],
    raise_failure: Callable[[int, TaskError, int, int | None], None],
) -> Generator[list[Any], None, None]:
    """Results of ``fn`` over ``items``: the pilot's first, then ``run_rest(source, options,
    start)`` on the chosen backend for the items it left."""
    from poolwise.advisor._pilot import Pilot  # (start-up time: see the imports)

    _initialize(opts)
    pilot = Pilot(fn, items, reruns=opts.rerun, shared_memory=opts.shared_memory)
    yield from pilot_chunks(pilot, opts.on_error, raise_failure)
    advice = pilot.advice
    if advice is None or advice.backend == "serial":
        return  # the pilot ran everything, as the loop it replaces would
    run_opts = dataclasses.replace(
        opts, backend=advice.backend, workers=workers_for(advice, user_workers)
    )
    sequence = isinstance(items, (list, tuple, range))
    source = items if sequence else pilot.rest
    if sequence and pilot.consumed >= len(items):  # type: ignore[arg-type]
        return
    yield from run_rest(source, run_opts, pilot.consumed)


def workers_for(advice: Advice, user_workers: int | None) -> int:
    """Workers for the chosen backend: the user's count if given, else the advice's."""
    return 1 if advice.backend == "serial" else (user_workers or advice.workers)


def probe(
    fn: Callable[..., Any], items: list[Any], opts: Options
) -> tuple[Advice, list[tuple[bool, Any]], int]:
    """An Executor's first work decides its backend: the advice, the outcomes of the items it
    ran, ``(True, value)`` or ``(False, exception)``, and how many it ran."""
    from poolwise.advisor._pilot import Pilot, Raised  # (start-up time: see the imports)

    _initialize(opts)
    pilot = Pilot(fn, items, mode="probe", reruns=opts.rerun, shared_memory=opts.shared_memory)
    outcomes = [
        (False, x.exception) if isinstance(x, Raised) else (True, x)
        for chunk in pilot.run()
        for x in chunk
    ]
    assert pilot.advice is not None  # (a probe decides even on one item)
    return pilot.advice, outcomes, pilot.consumed
