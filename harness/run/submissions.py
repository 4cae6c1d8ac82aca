"""The submissions of a run: `submissions/<run folder name>/<model>.csv.gz`, checked by the
verifier as they are written, and which run folder owns each submissions folder."""

from __future__ import annotations

import re
from collections.abc import Container
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from harness.atomic import read_json, write_json
from harness.errors import HarnessError, UsageError

SUBMISSIONS_ROOT = Path("submissions")
OWNERS = "owners.json"  # in SUBMISSIONS_ROOT: {"<run folder name>": "<resolved run folder>"}


NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def submissions_folder(
    run_dir: Path, root: Path = SUBMISSIONS_ROOT, name: str | None = None
) -> Path:
    """`<root>/<name>`: `submissions/<run folder name>` unless `evaluate --name` or
    `--submissions DIR` say otherwise."""
    if name is not None and (not NAME.fullmatch(name) or name in (".", "..")):
        raise UsageError(
            f"--name {name!r}: use letters, digits, '_', '-' and '.', starting with a letter, "
            "digit or '_' (it names the run's folder of submissions)"
        )
    return root / (name if name is not None else run_dir.name)


def _owners(root: Path) -> dict[str, str]:
    try:
        doc = read_json(root / OWNERS)
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def check_submissions_owner(folder: Path, run_dir: Path) -> None:
    """Refuse a submissions folder that another run folder of the same name has written: they
    would overwrite each other's files. The owners are kept beside the folders, in
    `submissions/owners.json`, so that a folder holds nothing but submissions; a folder with no
    owner there is adopted."""
    other = _owners(folder.parent).get(folder.name)
    owner = str(run_dir.resolve())
    if other is not None and other != owner and Path(other).exists():
        raise UsageError(
            f"{folder} holds the submissions of run {other}, not of {owner}; give this run its "
            f"own folder there with --name NAME (or --submissions DIR), or remove {folder} "
            f"(and its line in {folder.parent / OWNERS})"
        )


def mark_submissions_owner(folder: Path, run_dir: Path) -> None:
    """Record in `submissions/owners.json` which run folder writes into `folder`."""
    owners = _owners(folder.parent)
    owner = str(run_dir.resolve())
    if owners.get(folder.name) != owner:
        owners[folder.name] = owner
        write_json(folder.parent / OWNERS, dict(sorted(owners.items())))


def first_line(path: Path) -> str | None:
    """The first line of a plain or gzip submission (None: unreadable), to tell whether its
    header is still the one the run would write."""
    import gzip

    try:
        with open(path, "rb") as probe:
            is_gzip = probe.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if is_gzip else open(path, "rb") as f:
            return f.readline(4096).decode("utf-8", "replace").rstrip("\r\n")
    except (OSError, EOFError):
        return None


def write_and_verify_submission(
    path: Path,
    run_dir: Path,
    pids: NDArray[np.int64],
    uris: NDArray[np.object_],
    *,
    team: str,
    email: str,
    challenge_path: Path,
    known_uris: Container[str] | None,
    team_format: str = "aicrowd",
) -> None:
    """The challenge-format file for `uris` (n, 500) with the header of `team_format`, checked
    by that generation's verifier rules (our bug if it fails)."""
    from harness.challenge.submission import verify_submission, write_submission

    mark_submissions_owner(path.parent, run_dir)
    write_submission(path, pids, uris, team, email, team_format)
    report = verify_submission(path, challenge_path, known_uris=known_uris, fmt=team_format)
    if not report.ok:
        raise HarnessError(f"{path}: the written submission does not verify:\n{report}")
