"""mpd-harness: reproduce the RecSys Challenge 2018 protocol on the Million Playlist Dataset.

The public API (`load`, `make_split`, `evaluate`, `score`; see docs/api.md) is imported on first
use, so `import harness` and the data commands stay fast and load no model library.
"""

from __future__ import annotations

from typing import Any

from harness.version import __version__

__all__ = ["__version__", "evaluate", "load", "make_split", "score"]
_API = ("evaluate", "load", "make_split", "score")


def __getattr__(name: str) -> Any:
    if name in _API:
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
