"""The cluster and the client the dask backend talks to.

:class:`DaskClient` and :class:`DaskFuture` name the part of ``distributed.Client`` and
``distributed.Future`` that the backend uses: ``DaskBackend(workers, client=...)`` takes any
object that has it, a real client or a test's fake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

INSTALL_HINT = 'pip install "poolwise[dask]"'


class DaskFuture(Protocol):
    """What the backend asks of a ``distributed.Future``."""

    @property
    def key(self) -> Any: ...

    @property
    def status(self) -> str: ...

    def add_done_callback(self, fn: Callable[[Any], None]) -> None: ...

    def result(self) -> Any: ...

    def exception(self, timeout: float | None = None) -> BaseException | None: ...

    def release(self) -> None: ...


class DaskClient(Protocol):
    """What the backend asks of a ``distributed.Client``."""

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, pure: bool) -> Any: ...

    def map(
        self, fn: Callable[..., Any], *iterables: list[Any], key: list[str], pure: bool
    ) -> Sequence[Any]: ...

    def gather(self, futures: list[Any]) -> Any: ...

    def cancel(self, futures: list[Any]) -> Any: ...

    def nthreads(self) -> dict[str, int]: ...

    def subscribe_topic(self, topic: str, handler: Callable[[Any], None]) -> Any: ...

    def unsubscribe_topic(self, topic: str) -> Any: ...

    def run_on_scheduler(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def run(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def wait_for_workers(self, n_workers: int) -> Any: ...

    def close(self) -> Any: ...


def require_distributed() -> Any:
    """The ``distributed`` module, or an ImportError that says how to install it."""
    try:
        import distributed  # (an optional extra, and heavy: loaded on first use)
    except ImportError as exc:
        raise ImportError(
            f'backend="dask" needs dask.distributed, which is not installed: {INSTALL_HINT}'
        ) from exc
    return distributed


# Dask settings for the cluster poolwise starts by itself: fewer background chores. Dask's
# periodic callbacks (event-loop health ticks every 20 ms, system and memory monitors, the
# statistical profiler every 10 ms) run in each worker's event-loop thread, which takes the GIL
# from the running task, and in the parent, which shares the cores with the workers.
QUIET_CLUSTER: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,  # it slows pure-Python tasks by a few percent
    "distributed.admin.tick.interval": "200ms",  # only times event-loop stalls, for warnings
    "distributed.admin.system-monitor.interval": "2s",  # the dashboard's CPU/memory graphs
    # the nanny still stops a worker that outgrows its memory limit, within half a second
    "distributed.worker.memory.monitor-interval": "500ms",
}


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes, with the quieter
    settings of :data:`QUIET_CLUSTER` (they apply to this cluster only)."""
    import dask  # (as above)

    dd = require_distributed()
    # the scheduler, the nannies and the workers read the configuration as they are created,
    # inside this call
    with dask.config.set(QUIET_CLUSTER):
        return dd.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
