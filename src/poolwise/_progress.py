"""``progress=True``: a progress bar (count, rate, ETA) on a terminal; nothing otherwise."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """Drawn with rich on stderr when it is a terminal; a silent no-op when it is not."""

    def __init__(self, total: int | None, description: str = "poolwise") -> None:
        self._bar: Any = None
        if not sys.stderr.isatty():
            return
        # rich loads only when a bar is drawn (start-up time)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import (
            Progress as RichProgress,
        )

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("[progress.data.speed]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, rate="")
        self._bar.start()

    @property
    def active(self) -> bool:
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        if self._bar is None:
            return
        self._bar.advance(self._task, n)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, rate=f"{speed:,.1f}/s" if speed else "")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
