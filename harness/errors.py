"""User-facing errors: the CLI prints their message (no traceback) and exits non-zero."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem with the user's input or environment, explained in the message.

    The message names the file, line or pid and field where that applies.
    """

    exit_code = 2


class DataError(HarnessError):
    """Malformed MPD or challenge data."""


class UsageError(HarnessError):
    """Bad command-line arguments or parameters."""


class ParameterError(UsageError, ValueError):
    """A model hyperparameter out of range: one line from the CLI, and still a ValueError for
    callers used to scikit-learn's convention."""
