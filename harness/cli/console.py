"""Rich consoles for tables: full width in a terminal, and wide enough to keep every column when
the output goes to a file or a pipe (nox and CI logs), where Rich would assume 80 columns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from harness.progress import Advance, Reporter

PIPED_WIDTH = 160  # the widest leaderboard (all columns, a long caption) fits


def metrics_help() -> str:
    """The `--help` epilog of commands that show scores: each metric key with its label, so
    the two R-precisions are never confused (docs/metrics.md)."""
    from harness.challenge.metrics import REGISTRY

    keys = "; ".join(f"{m.name} = {m.label}" for m in REGISTRY)
    return f"metrics: {keys} (docs/metrics.md; JSON outputs carry metric_definitions)"


def table_console(*, stderr: bool = False) -> Console:
    """A console that does not squeeze tables when not writing to a terminal."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH)
    return console


class ConsoleReporter(Reporter):
    """The CLI's Reporter: status and warnings on stderr, results on stdout, Rich progress bars
    (a spinner where the total is unknown) on stderr, removed when the step ends."""

    def __init__(self, err: Console | None = None, out: Console | None = None) -> None:
        self.err = err or table_console(stderr=True)
        self.out = out or table_console()

    def note(self, text: str) -> None:
        self.err.print(text, highlight=False, markup=False, soft_wrap=True, emoji=False)

    def warn(self, text: str) -> None:
        self.err.print(
            f"warning: {text}", highlight=False, markup=False, soft_wrap=True, emoji=False
        )

    def result(self, text: str) -> None:
        self.out.print(text, highlight=False, markup=False, soft_wrap=True, emoji=False)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        columns += [
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        ]
        # off a terminal (logs, pipes) Rich would leave a blank line per step: draw nothing
        with Progress(
            *columns, console=self.err, transient=True, disable=not self.err.is_terminal
        ) as bar:
            task = bar.add_task(description, total=total)

            def advance(n: int = 1, *, total: int | None = None, label: str | None = None) -> None:
                bar.update(task, advance=n, total=total, description=label or description)

            yield advance
