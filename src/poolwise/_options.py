"""Validating what the user passed, before any work starts, with errors that name the fix."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from poolwise import _transport
from poolwise._cpus import usable_cpus
from poolwise._errors import FallbackWarning, PicklingError
from poolwise.backends import BACKENDS
from poolwise.backends._start import check_start_method

OnError = Literal["raise", "return"]
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}


@dataclass(frozen=True)
class Options:
    backend: str
    workers: int
    chunksize: int | None
    timeout: float | None
    on_error: OnError
    retries: int
    initializer: Callable[..., Any] | None
    initargs: tuple[Any, ...]
    start_method: str | None
    max_tasks_per_child: int | None
    max_memory_per_child: int | None
    thread_name_prefix: str = ""
    client: Any = None
    address: str | None = None
    rerun: bool = True
    shared_memory: bool = True

    def backend_options(self) -> dict[str, Any]:
        return {
            "initializer": self.initializer,
            "initargs": self.initargs,
            "start_method": self.start_method,
            "max_tasks_per_child": self.max_tasks_per_child,
            "max_memory_per_child": self.max_memory_per_child,
            "shared_memory": self.shared_memory,
            "thread_name_prefix": self.thread_name_prefix,
            "client": self.client,
            "address": self.address,
        }


def default_workers(backend: str) -> int:
    """Processes: one per usable CPU. Threads: as ThreadPoolExecutor, CPUs + 4, at most 32."""
    cpus = usable_cpus()
    if backend == "serial":
        return 1
    if backend == "thread":
        return min(32, cpus + 4)
    return cpus


def parse_size(value: int | str | None, name: str) -> int | None:
    """Bytes from an int or a string such as ``"500MB"`` or ``"1.5GiB"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a size such as 500_000_000 or '500MB', not a bool")
    if isinstance(value, int):
        n = value
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else ""
        if not m or unit not in _UNITS:
            raise ValueError(
                f"{name}={value!r} is not a size; write e.g. '500MB', '2GiB' or a number of bytes"
            )
        n = int(float(m.group(1)) * _UNITS[unit])
    if n <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return n


def _positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


_OTHER = {"process": "process", "dask": "process", "interpreter": "interpreter"}


def check_function(fn: Any, backend: str) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__} {fn!r}")
    if backend in ("process", "interpreter", "dask"):
        try:
            _transport.dumps_function(fn)
        except Exception as exc:
            raise PicklingError(
                f"cannot pickle the function {fn!r} for the {backend} backend: {exc}. It "
                f"captures something that cannot cross to another {_OTHER[backend]} (a lock, a "
                "file, a connection...); define it at module level taking that as an argument, "
                'or use backend="thread"'
            ) from exc


TIMEOUT_FALLBACK = (
    'backend="interpreter" cannot stop a running task (an interpreter cannot be interrupted '
    'from outside), so timeout= runs this work on backend="process", where a task past its '
    "timeout is killed; leave timeout out to run on interpreters"
)


def _interpreter_backend(backend: str, timeout: float | None) -> str:
    """backend="interpreter": an error before 3.14; with a timeout, processes (a warning)."""
    if backend != "interpreter":
        return backend
    # (the backend's module loads when it is asked for: `import poolwise` stays light)
    from poolwise.backends._interpreter import available, unavailable_message

    if not available():
        raise ValueError(unavailable_message())
    if timeout is not None:
        warnings.warn(TIMEOUT_FALLBACK, FallbackWarning, stacklevel=4)
        return "process"
    return backend


def resolve(
    *,
    backend: str,
    workers: int | None,
    chunksize: int | None = None,
    timeout: float | None = None,
    on_error: str = "raise",
    retries: int = 0,
    initializer: Callable[..., Any] | None = None,
    initargs: tuple[Any, ...] = (),
    start_method: str | None = None,
    max_tasks_per_child: int | None = None,
    max_memory_per_child: int | str | None = None,
    thread_name_prefix: str = "",
    client: Any = None,
    address: str | None = None,
    rerun: bool = True,
    shared_memory: bool = True,
) -> Options:
    if backend not in (*BACKENDS, "auto"):
        raise ValueError(f"unknown backend {backend!r}; use one of auto, {', '.join(BACKENDS)}")
    if backend == "auto" and (
        start_method or max_tasks_per_child or max_memory_per_child or timeout is not None
    ):
        # options that only processes have (a timeout: only a process can stop a running task;
        # the caller's thread, where auto runs its first items, cannot): no need to ask
        backend = "process"
    backend = _interpreter_backend(backend, timeout)
    if not isinstance(rerun, bool):
        raise TypeError(f"rerun must be True or False, got {rerun!r}")
    if not isinstance(shared_memory, bool):
        raise TypeError(f"shared_memory must be True or False, got {shared_memory!r}")
    if workers is None:
        workers = default_workers("process" if backend == "auto" else backend)
    _positive_int(workers, "workers")
    if backend == "serial" and workers != 1:
        raise ValueError(
            f'backend="serial" runs one task at a time; workers={workers} makes no '
            'sense (leave it out, or use backend="thread" or "process")'
        )
    if chunksize is not None:
        _positive_int(chunksize, "chunksize")
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
    _positive_int(retries, "retries", minimum=0)
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be callable, got {type(initializer).__name__}")
    if max_tasks_per_child is not None:
        _positive_int(max_tasks_per_child, "max_tasks_per_child")
    check_start_method(start_method)
    if (client is not None or address is not None) and backend != "dask":
        raise ValueError(f'client= and address= are for backend="dask", not {backend!r}')
    if client is not None and address is not None:
        raise ValueError("give client= or address=, not both")
    if backend in ("process", "interpreter", "dask") and initializer is not None:
        check_function(initializer, backend)
    return Options(
        backend=backend,
        workers=workers,
        chunksize=chunksize,
        timeout=timeout,
        on_error=on_error,  # type: ignore[arg-type]
        retries=retries,
        initializer=initializer,
        initargs=tuple(initargs),
        start_method=start_method,
        max_tasks_per_child=max_tasks_per_child,
        max_memory_per_child=parse_size(max_memory_per_child, "max_memory_per_child"),
        thread_name_prefix=thread_name_prefix,
        client=client,
        address=address,
        rerun=rerun,
        shared_memory=shared_memory,
    )
