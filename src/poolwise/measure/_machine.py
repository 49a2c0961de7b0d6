"""The facts about this machine and interpreter that a measurement depends on."""

from __future__ import annotations

import platform
import sys
import sysconfig
from typing import Any

from poolwise._cpus import usable_cpus
from poolwise._version import __version__


def gil_enabled() -> bool:
    """Whether the GIL is on: always before 3.13; a free-threaded build can run without it."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def machine_facts(*, start_method: str | None = None) -> dict[str, Any]:
    """Usable CPUs, Python version and build, GIL, start method, poolwise version, platform.

    ``start_method`` is the one the process pools used (the caller knows; None: not used).
    """
    return {
        "usable_cpus": usable_cpus(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "build": " ".join(platform.python_build()),
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": gil_enabled(),
        "start_method": start_method,
        "poolwise": __version__,
        "platform": platform.platform(),
    }
