"""Test hooks: stop the own process at a named point, so tests can check what a crash leaves.

`MPD_HARNESS_TEST_KILL_AT=<point>` sends SIGKILL to this process when it reaches `<point>`;
`MPD_HARNESS_TEST_INTERRUPT_AT=<point>` sends SIGINT to the whole process group, as Ctrl-C in a
terminal does (worker processes included), so start such a process in its own session. Points:
`replace:<file or folder name>` just before an atomic write renames its result into place
(harness/atomic.py), and `ingest:<slice name>` after a slice is parsed and merged
(harness/data.py). Unset (always, outside tests), `kill_point` is one comparison with None.
"""

from __future__ import annotations

import os
import signal

_KILL_AT = os.environ.get("MPD_HARNESS_TEST_KILL_AT") or None
_INTERRUPT_AT = os.environ.get("MPD_HARNESS_TEST_INTERRUPT_AT") or None


def kill_point(name: str) -> None:
    """Signal this process if a test asked to stop at `name`; nothing otherwise."""
    if _KILL_AT is None and _INTERRUPT_AT is None:
        return
    if name == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)
    if name == _INTERRUPT_AT:
        os.killpg(os.getpgrp(), signal.SIGINT)
