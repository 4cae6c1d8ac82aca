"""One `evaluate` at a time per run folder: an exclusive lock on the folder itself.

Two processes writing one run folder would interleave their manifests, recommendations and
submissions. `RunLock` takes an advisory lock (`flock`) on the run folder's own file
descriptor, so no lock file can be left behind: the kernel releases it when the process ends,
however it ends. While it is held, `.evaluate-lock.json` in the folder says who holds it (pid,
host, start, command line), so a second `evaluate` refuses at once with one line naming the
holder. Within one process the lock is re-entrant (a caller may prepare the same run folder
twice). Where `fcntl` is missing (Windows) there is no lock.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType

import orjson

from harness.atomic import read_json
from harness.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]

HOLDER = ".evaluate-lock.json"
_HELD: dict[str, tuple[int, int]] = {}  # resolved run folder -> (fd, count) in this process


class RunLock:
    """The lock of one run folder (created if absent); `release()` or a `with` block ends it."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.key = str(self.run_dir.resolve())
        self.released = False
        if self.key in _HELD:
            fd, count = _HELD[self.key]
            _HELD[self.key] = (fd, count + 1)
            return
        fd = os.open(self.run_dir, os.O_RDONLY)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UsageError(
                    f"{self.run_dir}: another evaluate is writing this run folder "
                    f"({self._holder()}); wait for it to finish, or give this one another --out"
                ) from None
        _HELD[self.key] = (fd, 1)
        self._write_holder()

    def _holder(self) -> str:
        """Who holds the lock, as its holder file says."""
        try:
            doc = read_json(self.run_dir / HOLDER)
        except (OSError, ValueError):
            return "holder unknown"
        if not isinstance(doc, dict):
            return "holder unknown"
        return (
            f"pid {doc.get('pid')} on {doc.get('host')} since {doc.get('started')}: "
            f"{doc.get('command')}"
        )

    def _write_holder(self) -> None:
        """Best effort: a full disk must not stop the run here (the lock itself holds)."""
        doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": "mpd-harness " + " ".join(sys.argv[1:]),
        }
        try:  # a plain write: the holder file is removed on release, never half-read as data
            (self.run_dir / HOLDER).write_bytes(orjson.dumps(doc) + b"\n")
        except OSError:
            pass

    def release(self) -> None:
        """Give the lock up (once; the last holder in this process unlocks the folder)."""
        if self.released or self.key not in _HELD:
            return
        self.released = True
        fd, count = _HELD[self.key]
        if count > 1:
            _HELD[self.key] = (fd, count - 1)
            return
        del _HELD[self.key]
        (self.run_dir / HOLDER).unlink(missing_ok=True)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
