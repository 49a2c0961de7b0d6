"""Backends: where batches run. One small interface (``_base.Backend``), one module each."""

from __future__ import annotations

from typing import Any

from poolwise.backends._base import Backend

BACKENDS = ("serial", "thread", "process", "interpreter", "dask")


def create_backend(name: str, workers: int, **options: Any) -> Backend:
    """Instantiate a backend; ``options`` not meaningful for it are ignored if None."""
    if name == "serial":
        # each backend's module loads when one is first made (`import poolwise` stays light)
        from poolwise.backends._serial import SerialBackend
        from poolwise.backends._thread import ThreadBackend

        return SerialBackend(
            initializer=options.get("initializer"),
            initargs=options["initargs"],
            # a task with a timeout runs on a thread, which can be abandoned when it hangs
            timeout_helper=lambda: ThreadBackend(1, thread_name_prefix="poolwise-serial-timeout"),
        )
    if name == "thread":
        from poolwise.backends._thread import ThreadBackend  # (see above)

        return ThreadBackend(
            workers,
            initializer=options.get("initializer"),
            initargs=options["initargs"],
            thread_name_prefix=options.get("thread_name_prefix") or "",
        )
    if name == "process":
        from poolwise.backends._process import ProcessBackend  # (see above)

        return ProcessBackend(
            workers,
            start_method=options.get("start_method"),
            initializer=options.get("initializer"),
            initargs=options["initargs"],
            max_tasks_per_child=options.get("max_tasks_per_child"),
            max_memory_per_child=options.get("max_memory_per_child"),
            shared_memory=options.get("shared_memory", True),
        )
    if name == "interpreter":
        from poolwise.backends._interpreter import InterpreterBackend  # (see above)

        return InterpreterBackend(
            workers,
            initializer=options.get("initializer"),
            initargs=options["initargs"],
            thread_name_prefix=options.get("thread_name_prefix") or "",
        )
    if name == "dask":
        from poolwise.backends._dask import DaskBackend  # (see above)

        return DaskBackend(
            workers,
            client=options.get("client"),
            address=options.get("address"),
            initializer=options.get("initializer"),
            initargs=options["initargs"],
        )
    raise ValueError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
