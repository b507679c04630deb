"""rich progress bars that can be switched off (tests, CI logs, non-rank-0 processes)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class _NullProgress:
    """Same surface as :class:`rich.progress.Progress` for the calls this package makes."""

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        return 0

    def advance(self, task_id: int, advance: float = 1) -> None:
        pass

    def update(self, task_id: int, **_: Any) -> None:
        pass

    def remove_task(self, task_id: int) -> None:
        pass


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """Yield a live rich ``Progress`` (to stderr) when ``enabled``, else a no-op with the same methods."""
    if not enabled:
        yield _NullProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as prog:
        yield prog
