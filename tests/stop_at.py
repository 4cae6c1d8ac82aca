"""Run `mpd-harness ARGS` in this process, stopping it at a named point, so that a test can check
what a crash there leaves on disk (tests/test_crash_safety.py).

    python tests/stop_at.py kill|interrupt POINT ARGS...

`kill` sends SIGKILL to this process; `interrupt` sends SIGINT to its whole process group, as
Ctrl-C in a terminal does (parser workers included), so start it in its own session. Points:

- `replace:<name>`: just before `harness.atomic` renames a finished temporary onto the file or
  folder `<name>` (its first rename that touches `<name>`);
- `ingest:<slice file name>`: right after that slice is parsed and merged into the corpus.

The faults are injected by patching the product's functions here, so the product itself carries
no test hooks.
"""

from __future__ import annotations

import os
import signal
import sys
import types
from pathlib import Path
from typing import Any


def stop(how: str) -> None:
    """Stop this process as a crash (`kill`) or as Ctrl-C (`interrupt`) would."""
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    else:
        os.killpg(os.getpgrp(), signal.SIGINT)


def stop_before_replace(how: str, name: str) -> None:
    """`harness.atomic` sees an `os` whose `replace` stops first when it would touch `name`."""
    import harness.atomic as atomic

    real_replace = os.replace
    patched = types.ModuleType("os")
    patched.__dict__.update(vars(os))

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        if name in (Path(src).name, Path(dst).name):
            stop(how)
        real_replace(src, dst, **kwargs)

    patched.replace = replace  # type: ignore[attr-defined]
    atomic.os = patched  # type: ignore[attr-defined]


def stop_after_slice(how: str, name: str) -> None:
    """`Merger.add` stops once it has merged the slice file `name`."""
    from harness.data import merge

    real_add = merge.Merger.add

    def add(self: merge.Merger, r: merge.SliceResult) -> None:
        real_add(self, r)
        if r.name.rsplit("/", 1)[-1] == name:
            stop(how)

    merge.Merger.add = add  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    how, point, *args = argv
    assert how in ("kill", "interrupt"), how
    kind, _, name = point.partition(":")
    {"replace": stop_before_replace, "ingest": stop_after_slice}[kind](how, name)
    from harness.cli import main as harness_main

    return harness_main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
