"""Rich consoles for tables: full width in a terminal, and wide enough to keep every column when
the output goes to a file or a pipe (nox and CI logs), where Rich would assume 80 columns."""

from __future__ import annotations

from rich.console import Console

PIPED_WIDTH = 160  # the widest leaderboard (all columns, a long caption) fits


def table_console(*, stderr: bool = False) -> Console:
    """A console that does not squeeze tables when not writing to a terminal."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=PIPED_WIDTH)
    return console
