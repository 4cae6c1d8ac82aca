"""Helpers for run manifests: library versions, peak memory of a stage, and stable fingerprints.

Peak memory has two meanings, both recorded:
- `RssSampler` samples this process's resident set size (RSS) in a background thread while a
  stage runs and reports the stage's peak. It includes everything already in memory (the corpus,
  the split), so it is the memory a machine needs to run that stage, not the model's increment;
  `start_mb` gives the baseline so the increment can be read off.
- `ru_maxrss_mb()` is the kernel's high-water mark for the whole process (`getrusage`): it only
  ever grows, so after several models it is the peak of the worst stage so far.
"""

from __future__ import annotations

import hashlib
import os
import platform
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import orjson

from harness.version import __version__

# distribution names whose versions go into every manifest, keyed by how we call them
LIBRARIES = {
    "numpy": "numpy",
    "scipy": "scipy",
    "torch": "torch",
    "gensim": "gensim",
    "sklearn": "scikit-learn",
    "pandas": "pandas",
    "pyarrow": "pyarrow",
}


def versions() -> dict[str, str | None]:
    """Versions of Python, the harness and the numeric libraries (None when not installed).

    Read from package metadata, so nothing heavy (torch) is imported just to ask.
    """
    out: dict[str, str | None] = {
        "python": platform.python_version(),
        "harness": __version__,
    }
    for key, dist in LIBRARIES.items():
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


def machine() -> dict[str, Any]:
    """Where the run happened: platform, CPU count, and the hash seed (gensim needs it fixed)."""
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
    }


def jsonable(obj: Any) -> Any:
    """A JSON-safe copy: numpy scalars and arrays become Python values, tuples become lists.

    Anything else that JSON cannot hold becomes its `repr`, so a manifest never fails to write.
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    return repr(obj)


def fingerprint(obj: Any) -> str:
    """A short stable hash of a JSON-able object (keys sorted), for comparing settings."""
    blob = orjson.dumps(jsonable(obj), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


def _page_size() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4096


_PAGE = _page_size()


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (Linux /proc; falls back to ru_maxrss)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except OSError:
        return ru_maxrss_mb()


def ru_maxrss_mb() -> float:
    """The process's peak RSS so far in MiB (monotonic; kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


@dataclass
class RssSampler:
    """Context manager: wall time and peak RSS of the block, sampled every `interval` seconds.

    A sampling thread cannot see a spike shorter than `interval`; the peak is therefore a lower
    bound, but unlike ru_maxrss it belongs to this stage alone.
    """

    interval: float = 0.05
    start_mb: float = 0.0
    peak_mb: float = 0.0
    seconds: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _t0: float = field(default=0.0, repr=False)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, current_rss_mb())

    def __enter__(self) -> RssSampler:
        self.start_mb = self.peak_mb = current_rss_mb()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._t0
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, current_rss_mb())


def file_sha256(path: Path) -> str:
    """The first 16 hex digits of a file's SHA-256 (submissions and challenge sets)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
