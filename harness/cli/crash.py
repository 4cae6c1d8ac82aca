"""The last line of defence: an unexpected exception becomes one line and a log file.

Every failure a user can cause has its own message (HarnessError, raised where the file is
known). Anything else is our bug or the machine's trouble; a traceback on the terminal helps no
one, so `internal_error` writes it, with the command line and versions, to a log file and
returns `internal error: <type>: <message>; details in <log path>`.

Logs go to `$MPD_HARNESS_LOG_DIR`, else `logs/` in the corpus cache folder (`$MPD_HARNESS_CACHE`
or `.cache/mpd-harness`), else the system's temporary folder when neither can be written.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

from harness.version import __version__

EXIT_INTERNAL = 70  # sysexits' EX_SOFTWARE: not the user's input (2) nor the system's (1)
LOG_ENV = "MPD_HARNESS_LOG_DIR"
# exception types that say more in words than in their name
KINDS = {
    RecursionError: "nested too deeply to process (RecursionError)",
    MemoryError: "out of memory (MemoryError)",
}


def log_dirs() -> list[Path]:
    """Where a crash log may go, in order of preference."""
    dirs = []
    if os.environ.get(LOG_ENV):
        dirs.append(Path(os.environ[LOG_ENV]))
    cache = os.environ.get("MPD_HARNESS_CACHE")
    dirs.append((Path(cache) if cache else Path(".cache") / "mpd-harness") / "logs")
    dirs.append(Path(tempfile.gettempdir()) / "mpd-harness-logs")
    return dirs


def write_log(error: BaseException, argv: list[str]) -> Path | None:
    """The traceback, command line and versions in a new log file; None if none can be written."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = (
        f"mpd-harness {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: mpd-harness {' '.join(argv)}\n"
        f"cwd: {os.getcwd()}\n\n"
        + "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )
    for folder in log_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path.resolve()
        except OSError:
            continue
    return None


def internal_error(error: BaseException, argv: list[str] | None = None) -> str:
    """One line for an unexpected exception, its traceback written to a log file."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))  # formatting needs a sane stack
    log = write_log(error, list(sys.argv[1:] if argv is None else argv))
    message = " ".join(str(error).split())[:300] or "(no message)"
    kind = next((text for t, text in KINDS.items() if isinstance(error, t)), None)
    what = f"{kind}: {message}" if kind else f"{type(error).__name__}: {message}"
    where = f"details in {log}" if log else "no log could be written"
    return f"internal error: {what}; {where}"
