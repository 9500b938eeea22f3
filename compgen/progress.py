"""Rich progress bars that stay out of the way.

Bars go to stderr, only when stderr is a terminal and ``--quiet`` is off, and only
appear after ``delay`` seconds so quick jobs print nothing extra.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

_QUIET = False


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = bool(quiet)


def enabled() -> bool:
    return not _QUIET and sys.stderr.isatty()


@contextmanager
def progress_bar(description: str, total: int | None, unit: str = "B", delay: float = 1.0) -> Iterator[Callable[[int], None]]:
    """Yields ``advance(n)``; shows a rich bar (with rate) once the work passes ``delay`` s."""
    if not enabled():
        yield lambda n=1: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeRemainingColumn, TransferSpeedColumn)

    columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), MofNCompleteColumn()]
    columns += [TransferSpeedColumn()] if unit == "B" else []
    columns += [TimeRemainingColumn()]
    bar = Progress(*columns, transient=True, refresh_per_second=8)
    task = bar.add_task(description, total=total)
    start = time.monotonic()
    started = False

    def advance(n: int = 1) -> None:
        nonlocal started
        if not started and time.monotonic() - start >= delay:
            bar.start()
            started = True
        bar.advance(task, n)

    try:
        yield advance
    finally:
        if started:
            bar.stop()
