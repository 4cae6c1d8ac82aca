"""Whether a stored run is provably what its manifest says: nothing is reused or ranked on trust.

A run's manifest stores `key` (the fingerprint a reuse must match), `key_fields` (what that
fingerprint was computed from: runner version, model, params, mode, k, data and split
fingerprints; for an external submission its file's SHA-256) and `files_sha256` (the SHA-256 of
`recs.npz` and `metrics.parquet` as written). A run is current when

- `key_fields` hash to `key` and agree with the manifest's own fields (model, params, data and
  split fingerprints, ...) and with the code's versions (`claims`), and
- each file's SHA-256 equals the stored one.

A manifest edited by hand, a file replaced or damaged, or a run of an older version without these
fields fails, with the reason in words. `evaluate` then recomputes the model; `leaderboard` and
`report` refuse the run (harness/run/rundir.py, harness/report/leaderboard.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.run.manifest import fingerprint, jsonable


def sha256_of(path: Path) -> str:
    """The full hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digests(model_dir: Path, names: Sequence[str]) -> dict[str, str]:
    """`files_sha256` of a run: name -> SHA-256 of each of `names` in `model_dir`."""
    return {name: sha256_of(model_dir / name) for name in names}


def key_problem(manifest: Mapping[str, Any], claims: Mapping[str, Any]) -> str | None:
    """Why the manifest's key is not backed by its own fields (None: it is).

    `claims`: key field -> the value the manifest (or the code) says it has now."""
    fields = manifest.get("key_fields")
    if not isinstance(fields, dict):
        return "its manifest has no key_fields (a run of an older mpd-harness)"
    if fingerprint(fields) != manifest.get("key"):
        return "its manifest's key does not match its key_fields (manifest.json was edited)"
    for name, value in claims.items():
        if name in fields and fields[name] != jsonable(value):
            return (
                f"its manifest says {name} {jsonable(value)!r} but was stored for "
                f"{fields[name]!r} (manifest.json was edited, or the code changed)"
            )
    return None


def files_problem(model_dir: Path, manifest: Mapping[str, Any], names: Sequence[str]) -> str | None:
    """Why the run's files are not the ones written with the manifest (None: they are)."""
    stored = manifest.get("files_sha256")
    if not isinstance(stored, dict):
        return "its manifest has no files_sha256 (a run of an older mpd-harness)"
    for name in names:
        path = model_dir / name
        if not path.is_file():
            return f"{path} is missing"
        if sha256_of(path) != stored.get(name):
            return f"{path} changed since the run was stored (SHA-256 differs)"
    return None
