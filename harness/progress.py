"""How library code tells the user what it is doing, without printing.

Library functions take a `Reporter` and call it; the CLI passes one that draws Rich status lines,
spinners and progress bars (`harness/cli/console.py`); the Python API and the tests pass the
silent default (or their own, to record the events). A leaf module: imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Reporter:
    """Silent reporter, and the interface a CLI reporter implements.

    - `note(text)`: one line of status ("split: reusing runs/x/split").
    - `warn(text)`: a warning the user should read (goes to stderr in the CLI).
    - `step(description, total)`: a context manager around a slow step; it yields `advance(n)`,
      to be called as work units finish (`total=None`: a spinner, no count).
    - `result(text)`: a line of the command's result (stdout in the CLI, not stderr).
    """

    def note(self, text: str) -> None:
        """A status line."""

    def warn(self, text: str) -> None:
        """A warning line."""

    def result(self, text: str) -> None:
        """A line of the command's result."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """Wrap a slow step; call the yielded function with the number of units just done."""
        yield _ignore


def _ignore(n: int = 1) -> None:
    """`advance` of the silent reporter."""


SILENT = Reporter()


class Recorder(Reporter):
    """Keeps every event as `(kind, text)`: for tests and for API callers who want a log."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def warn(self, text: str) -> None:
        self.events.append(("warn", text))

    def result(self, text: str) -> None:
        self.events.append(("result", text))

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        self.events.append(("step", description))
        yield _ignore

    def texts(self, kind: str) -> list[str]:
        """The texts of one kind of event, in order."""
        return [text for k, text in self.events if k == kind]
