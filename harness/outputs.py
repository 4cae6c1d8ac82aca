"""Output targets: the harness never replaces or writes into what it did not create.

Every folder the harness creates for output (a synthetic MPD, a split, a run folder) holds a
marker file, `.mpd-harness`, naming its kind. A `--out` may be a new path, an empty folder, or a
folder of the same kind that the harness wrote (the marker, or for folders written before the
marker existed, the kind's own file: `synthetic.json`, a split's `manifest.json`, `run.json`);
anything else is refused with one line, and nothing in it is touched. A file target (the HTML
report) may replace only a file the harness wrote (it says so in its first bytes), unless the
user asks with `--force`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.atomic import read_json, write_json
from harness.errors import UsageError
from harness.version import __version__

MARKER = ".mpd-harness"  # {"kind": "split" | "run" | "synthetic", "harness": version}
GENERATOR = "mpd-harness"  # <meta name="generator" content="mpd-harness ..."> in HTML we write


def mark(folder: Path, kind: str) -> None:
    """Record that the harness created `folder` for output of `kind` (creates the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    if marked_kind(folder) != kind:
        write_json(folder / MARKER, {"kind": kind, "harness": __version__})


def marked_kind(folder: Path) -> str | None:
    """The kind in `folder`'s marker (None: no readable marker)."""
    try:
        doc = read_json(folder / MARKER)
    except (OSError, ValueError):
        return None
    kind = doc.get("kind") if isinstance(doc, dict) else None
    return kind if isinstance(kind, str) else None


def check_folder_target(
    path: Path,
    kind: str,
    *,
    flag: str = "--out",
    legacy: Callable[[Path], bool] | None = None,
    hint: str = "choose a new or empty folder",
) -> None:
    """Refuse `path` as the output folder of `kind` unless it is absent, empty, or a `kind`
    folder the harness wrote (`legacy(path)`: recognised by its own files)."""
    shown = f"{flag} {path}" if flag else str(path)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir():
        raise UsageError(f"{shown}: exists and is not a folder; {hint}")
    if not any(path.iterdir()):
        return
    found = marked_kind(path)
    if found == kind:
        return
    if found is not None:
        raise UsageError(f"{shown}: holds a {found} that mpd-harness wrote, not a {kind}; {hint}")
    if legacy is not None and legacy(path):
        return
    raise UsageError(
        f"{shown}: a folder that is not empty and is not a {kind} that mpd-harness wrote (no "
        f"{MARKER} marker); nothing in it was changed; {hint}"
    )


def html_is_ours(path: Path) -> bool:
    """Whether an HTML file starts like the reports the harness writes (its generator meta)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}'.encode() in head


def check_file_target(
    path: Path, *, flag: str, ours: Callable[[Path], bool], force: bool = False
) -> None:
    """Refuse to replace an existing file that the harness did not write (`ours`), unless
    `force`; a folder is never a file target."""
    if path.is_dir():
        raise UsageError(f"{flag} {path}: a folder; give the file's name, e.g. {path}/report.html")
    if not path.exists() or force or ours(path):
        return
    raise UsageError(
        f"{flag} {path}: exists and was not written by mpd-harness; it was left as it is "
        "(give another name, or --force to replace it)"
    )
