"""The advisor's answer: a frozen record with the reasons in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Advice:
    """What to run, how sure we are, and why.

    Attributes:
        backend, workers, chunksize: the configuration to use.
        expected_speedup: predicted speed-up over running serially.
        confidence: "high", "medium" or "low" (noisy or short measurements, close calls).
        reasons: plain sentences with the measured numbers.
        predictions: predicted seconds per configuration, ``{"process x2": 1.2, ...}``.
        measured: the probe's raw figures (per-task wall and CPU time, sizes, start-up...).
    """

    backend: str
    workers: int
    chunksize: int
    expected_speedup: float
    confidence: str
    reasons: tuple[str, ...]
    predictions: dict[str, float]
    measured: dict[str, Any]

    @property
    def code(self) -> str:
        """The line of code that runs the advised configuration."""
        if self.backend == "serial":
            return 'poolwise.map(fn, items, backend="serial")'
        return (
            f'poolwise.map(fn, items, backend="{self.backend}", workers={self.workers}, '
            f"chunksize={self.chunksize})"
        )

    def __str__(self) -> str:
        head = (
            f"use {self.backend}"
            + (f" x{self.workers}" if self.backend != "serial" else "")
            + f": expected {self.expected_speedup:.1f}x the serial speed "
            f"({self.confidence} confidence)"
        )
        lines = [head, *(f"  - {r}" for r in self.reasons), f"  {self.code}"]
        return "\n".join(lines)
