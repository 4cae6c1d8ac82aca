"""How library code tells the user what it is doing, without printing.

Library functions take a `Reporter` and call it; the CLI passes one that draws Rich status lines,
spinners and progress bars (`harness/cli/console.py`); the Python API and the tests pass the
silent default (or their own, to record the events). A leaf module: imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Advance(Protocol):
    """What `Reporter.step` yields: `advance(n)` after n more units of work are done;
    `total=` sets (or changes) how many there are, `label=` renames the step ("fit, epoch 3")."""

    def __call__(
        self, n: int = 1, *, total: int | None = None, label: str | None = None
    ) -> None: ...


class Reporter:
    """Silent reporter, and the interface a CLI reporter implements.

    - `note(text)`: one line of status ("split: reusing runs/x/split").
    - `warn(text)`: a warning the user should read (goes to stderr in the CLI).
    - `step(description, total)`: a context manager around a slow step; it yields an `Advance`,
      to be called as work units finish (`total=None`: a spinner, no count, until a call gives
      one).
    - `result(text)`: a line of the command's result (stdout in the CLI, not stderr).
    """

    def note(self, text: str) -> None:
        """A status line."""

    def warn(self, text: str) -> None:
        """A warning line."""

    def result(self, text: str) -> None:
        """A line of the command's result."""

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        """Wrap a slow step; call the yielded function with the number of units just done."""
        yield _ignore


def _ignore(n: int = 1, *, total: int | None = None, label: str | None = None) -> None:
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
    def step(self, description: str, total: int | None = None) -> Iterator[Advance]:
        self.events.append(("step", description))

        def advance(n: int = 1, *, total: int | None = None, label: str | None = None) -> None:
            if total is not None or label is not None:
                self.events.append(("progress", f"{label or description}: total {total}"))

        yield advance

    def texts(self, kind: str) -> list[str]:
        """The texts of one kind of event, in order."""
        return [text for k, text in self.events if k == kind]
