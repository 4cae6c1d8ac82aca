"""External submissions: a challenge-format file made elsewhere, verified against the run's
challenge set, scored on the run's split and stored as a run of the run folder, so that the
leaderboard, its intervals and paired tests, its exports and the HTML report treat it like a model.

    RUN_DIR/<NAME>/recs.npz          pids (n,), recs int32 (n, 500), backfilled (n,) zeros,
                                     missing bool (n,), extra_uris (m,) unicode; no pickle
    RUN_DIR/<NAME>/metrics.parquet   pid, category and one column per metric, as a model's
    RUN_DIR/<NAME>/manifest.json     "external": true, the file's path and full SHA-256, the
                                     verifier's result, and the data and split of run.json

The corpus is not loaded, so `recs` cannot use the corpus's track ids: an id `i` below the number
of rows `c` of the split's `track_artists.parquet` (every corpus track) is that row's
`track_uri`; `c + j` is `extra_uris[j]` (a recommended URI outside the catalogue, first-seen
order); -1 is an empty slot (a short row, or a playlist without a line). The rows are the file's
first 500 entries, so the stored recommendations are the file's, lossless. The metrics come from
`harness.challenge.scoring.score_submission`, exactly what `score` prints; a playlist without a
line scores as missing (r_precision 0, ndcg 0, clicks 51), and its pid is in the manifest.

A file that fails the verifier is refused with its messages, nothing stored, unless `force`.
The same NAME with the same file (SHA-256) on the same data and split is reused; another file
under that NAME replaces it. A NAME whose folder holds a model's run, or anything not written for
an external submission, is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from harness.atomic import read_json, write_json
from harness.challenge.metrics import METRICS, MISSING_SCORE
from harness.challenge.submission import N_TRACKS, Parsed, Report
from harness.errors import HarnessError, UsageError
from harness.progress import SILENT, Reporter
from harness.run.manifest import fingerprint, versions
from harness.run.rundir import (
    EXTERNAL_VERSION,
    is_external,
    read_run,
    resolve_split_dir,
    seal,
    why_not_current,
    write_metrics,
    write_npz,
)
from harness.types import IntArray

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
RESERVED = frozenset({"split", "plots"})  # folders of RUN_DIR that are not model runs
MAX_ISSUES = 50  # verifier messages kept in the manifest (with the counts of all)
RECS_NOTE = (
    "recs: ids into the split's track_artists.parquet rows (track_uri), then extra_uris "
    "(recommended URIs outside that catalogue, first-seen order); -1 an empty slot. "
    "The corpus was not loaded, so these are not the corpus's track ids."
)


@dataclass(frozen=True)
class ExternalSpec:
    """One `NAME=PATH`: the name in tables and the run folder, and the submission file."""

    name: str
    path: Path


@dataclass
class Scored:
    """A verified (or forced) submission, scored and mapped to ids; nothing written yet."""

    report: Report  # the verifier's
    split_dir: Path
    pids: NDArray[np.int64]  # (n,) ground-truth order
    categories: NDArray[np.int64]  # (n,)
    values: dict[str, NDArray[np.float64]]  # metric -> (n,), missing playlists as misses
    missing: NDArray[np.bool_]  # (n,) no line in the file
    extra_pids: list[int]  # pids of the file that the split lacks
    recs: IntArray  # (n, 500), see the module docstring
    extra_uris: NDArray[np.str_]  # (m,)
    n_catalogue: int  # rows of track_artists.parquet


@dataclass
class External:
    """What `add_external` did: the stored manifest, whether it was reused, the verifier's
    report (None when reused)."""

    name: str
    manifest: dict[str, Any]
    reused: bool
    report: Report | None = None


# ---------------------------------------------------------------------------- names


def check_name(name: str) -> None:
    """A NAME must be a safe folder name of RUN_DIR: letters, digits, `_`, `-`, `.`, not
    starting with `.` or `-`, and not a folder of the run that is not a model (`split`)."""
    if not NAME.fullmatch(name):
        raise UsageError(
            f"external submission name {name!r}: use letters, digits, '_', '-' and '.', "
            "starting with a letter, digit or '_' (e.g. team-x)"
        )
    if name in RESERVED:
        raise UsageError(
            f"external submission name {name!r}: a folder of the run folder; pick another"
        )


def parse_spec(text: str) -> ExternalSpec:
    """`"NAME=PATH"` -> ExternalSpec, the name checked (the file is checked when added)."""
    name, eq, path = text.partition("=")
    if not eq or not name.strip() or not path.strip():
        raise UsageError(
            f"--submission {text!r}: expected NAME=PATH, e.g. --submission mine=sub.csv.gz"
        )
    check_name(name.strip())
    return ExternalSpec(name.strip(), Path(path.strip()))


def parse_specs(texts: Iterable[str], taken: Iterable[str] = ()) -> list[ExternalSpec]:
    """Every `NAME=PATH`, refusing a NAME given twice or one of `taken` (the models run too)."""
    specs = [parse_spec(t) for t in texts]
    seen: set[str] = set()
    models = set(taken)
    for s in specs:
        if s.name in seen:
            raise UsageError(f"--submission {s.name}=...: the name {s.name!r} is given twice")
        if s.name in models:
            raise UsageError(
                f"--submission {s.name}=...: {s.name!r} is a model of this run; give the "
                "submission another name"
            )
        seen.add(s.name)
    return specs


# ---------------------------------------------------------------------------- the folder


def sha256(path: Path) -> str:
    """The full hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest_of(model_dir: Path) -> dict[str, Any] | None:
    try:
        doc = read_json(model_dir / "manifest.json")
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def check_folder(model_dir: Path, name: str) -> None:
    """Refuse a NAME whose folder holds a model's run or anything not written for an external
    submission (nothing the harness did not write is overwritten)."""
    if not model_dir.exists():
        return
    manifest = _manifest_of(model_dir) if model_dir.is_dir() else None
    if manifest is not None and is_external(manifest):
        return
    if manifest is not None and "model" in manifest:
        raise UsageError(
            f"external submission {name!r}: {model_dir} holds the run of the model "
            f"{manifest['model']!r}; give the submission another name"
        )
    if not model_dir.is_dir() or any(model_dir.iterdir()):
        raise UsageError(
            f"external submission {name!r}: {model_dir} exists and was not written for an "
            "external submission; give the submission another name"
        )


def _key_fields(name: str, digest: str, run: dict[str, Any]) -> dict[str, Any]:
    """What an external run's key is computed from (stored as its manifest's key_fields)."""
    return {
        "external": EXTERNAL_VERSION,
        "model": name,
        "sha256": digest,
        "data_fingerprint": run["data"].get("fingerprint"),
        "split_fingerprint": run["split"].get("fingerprint"),
    }


def _key(name: str, digest: str, run: dict[str, Any]) -> str:
    return fingerprint(_key_fields(name, digest, run))


def _stored(model_dir: Path, key: str) -> dict[str, Any] | None:
    """The stored manifest when it is complete, matches `key`, its file verified and it is
    provably current (key fields and file hashes, harness/run/provenance.py)."""
    manifest = _manifest_of(model_dir)
    if manifest is None or not is_external(manifest) or manifest.get("key") != key:
        return None
    if why_not_current(model_dir, manifest) is not None:
        return None
    return manifest if manifest.get("verification", {}).get("ok") is True else None


# ---------------------------------------------------------------------------- adding one


def add_external(
    run_dir: str | Path,
    name: str,
    path: str | Path,
    *,
    force: bool = False,
    reporter: Reporter = SILENT,
) -> External:
    """Verify, score and store the submission `path` as the run `name` of `run_dir`.

    Raises HarnessError with the verifier's messages when the file does not verify (nothing is
    stored) unless `force`, which scores it as it stands with missing playlists as misses and
    also redoes a stored one. See the module docstring for the files written.
    """
    run_dir, path = Path(run_dir), Path(path)
    check_name(name)
    if not path.is_file():
        raise UsageError(f"external submission {name!r}: {path}: no such file")
    run = read_run(run_dir, "external submissions")
    if run.get("k", N_TRACKS) != N_TRACKS:
        raise UsageError(
            f"{run_dir}: a run with k {run.get('k')}; a submission holds {N_TRACKS} tracks per "
            f"playlist, so it can join only a run with k {N_TRACKS}"
        )
    model_dir = run_dir / name
    check_folder(model_dir, name)
    digest = sha256(path)
    key = _key(name, digest, run)
    stored = None if force else _stored(model_dir, key)
    if stored is not None:
        reporter.note(f"{name}: reusing {model_dir} (same file, SHA-256 {digest[:16]})")
        return External(name, stored, reused=True)
    with reporter.step(f"{name}: verify and score {path}"):
        scored = _score(run_dir, run, path, force)
    _tell(reporter, name, scored)
    manifest = _manifest(run, name, path, digest, key, scored, model_dir, force)
    manifest = _write(model_dir, manifest, scored, _key_fields(name, digest, run))
    return External(name, manifest, reused=False, report=scored.report)


def _score(run_dir: Path, run: dict[str, Any], path: Path, force: bool) -> Scored:
    """Verify against the split's challenge set, score, and map the rows to ids (nothing
    written)."""
    from harness.challenge.scoring import (
        load_ground_truth,
        load_track_artists,
        score_submission,
        training_uris,
    )
    from harness.challenge.submission import load_challenge_seeds, parse_submission, verify_parsed

    split_dir = resolve_split_dir(run_dir, run["split"])
    challenge = split_dir / "challenge_set.json"
    parsed = parse_submission(path)
    catalogue = load_track_artists(split_dir / "track_artists.parquet")
    tracks = catalogue.column("track_uri").combine_chunks()
    known = training_uris(catalogue)
    report = verify_parsed(
        parsed, load_challenge_seeds(challenge), known, str(path), "the training data"
    )
    if not report.ok and not force:
        raise HarnessError(
            f"{path} does not verify against {challenge} (add it anyway with --force; "
            f"playlists without a line then count as misses):\n{report}"
        )
    scored = score_submission(path, split_dir, verify=False)
    gt = load_ground_truth(split_dir / "ground_truth.json")
    n_queries = run["split"].get("n_queries")
    if not np.array_equal(gt.pids, scored.pids) or len(gt.pids) != n_queries:
        raise HarnessError(
            f"{split_dir}: {len(gt.pids)} test playlists, but {run_dir / 'run.json'} says "
            f"{n_queries}; is the split folder the run's?"
        )
    values = {m: np.array(scored.per_playlist[m], dtype=np.float64) for m in METRICS}
    for m in METRICS:  # as `aggregate` counts them, so the leaderboard and `score` agree
        values[m][scored.missing] = MISSING_SCORE[m]
    recs, extra = recommendation_ids(parsed, scored.pids, tracks)
    return Scored(
        report=report,
        split_dir=split_dir,
        pids=scored.pids,
        categories=gt.categories,
        values=values,
        missing=scored.missing,
        extra_pids=scored.extra_pids,
        recs=recs,
        extra_uris=extra,
        n_catalogue=len(tracks),
    )


def recommendation_ids(
    parsed: Parsed, pids: NDArray[np.int64], catalogue: pa.Array
) -> tuple[IntArray, NDArray[np.str_]]:
    """(recs (n, 500) int32, extra_uris (m,)): each pid's first 500 URIs as ids into
    `catalogue` then into `extra_uris` (see the module docstring); -1 where nothing is.

    The rows' pids must be distinct integers (`score_submission` has refused them otherwise).
    """
    rows = {int(pid): tracks[:N_TRACKS] for _, pid, tracks in parsed.rows}
    ordered = [rows.get(int(pid), []) for pid in pids]
    lengths = np.array([len(r) for r in ordered], dtype=np.int64)  # (n,)
    flat = pc.dictionary_encode(pa.array([u for r in ordered for u in r], pa.string()))
    distinct = flat.dictionary  # first-seen order
    ids = np.asarray(
        pc.fill_null(pc.index_in(distinct, value_set=catalogue), -1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )  # (d,)
    outside = np.flatnonzero(ids < 0)
    ids[outside] = len(catalogue) + np.arange(len(outside))
    flat_ids = ids[np.asarray(flat.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    recs = np.full((len(pids), N_TRACKS), -1, dtype=np.int32)  # (n, 500)
    row_of = np.repeat(np.arange(len(pids)), lengths)
    col_of = np.arange(len(flat_ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    recs[row_of, col_of] = flat_ids
    extra = distinct.take(pa.array(outside, pa.int64())).to_pylist()
    return recs, np.array(extra, dtype=np.str_) if extra else np.zeros(0, dtype="<U1")


def _tell(reporter: Reporter, name: str, scored: Scored) -> None:
    """The verifier's warnings (and, when forced, its errors), pids outside the split."""
    report = scored.report
    if report.errors:
        n = int(scored.missing.sum())
        reporter.warn(
            f"{name}: scored although it does not verify (--force); {n} playlist(s) without "
            f"a line count as misses\n{report.format()}"
        )
    elif report.warnings:
        reporter.note(report.format())
    if scored.extra_pids:
        reporter.warn(
            f"{name}: {len(scored.extra_pids)} pid(s) of the submission are not in the "
            f"split and were ignored (e.g. {scored.extra_pids[:3]})"
        )


def _issues(issues: list[Any]) -> list[str]:
    return [str(i) for i in issues[:MAX_ISSUES]]


def _manifest(
    run: dict[str, Any],
    name: str,
    path: Path,
    digest: str,
    key: str,
    scored: Scored,
    model_dir: Path,
    force: bool,
) -> dict[str, Any]:
    """The external run's manifest: what a model's has where it applies, the rest empty."""
    report = scored.report
    team = report.team_info
    missing = scored.pids[scored.missing]
    return {
        "model": name,
        "external": True,
        "key": key,
        "mode": "split",
        "k": N_TRACKS,
        "params": {},
        "source": {
            "path": str(path),
            "resolved": str(path.resolve()),
            "sha256": digest,
            "bytes": path.stat().st_size,
            "team_info": team._asdict() if team is not None else None,
        },
        "verification": {
            "ok": report.ok,
            "forced": bool(force and not report.ok),
            "challenge_set": str(scored.split_dir / "challenge_set.json"),
            "n_playlists": report.n_playlists,
            "n_errors": len(report.errors),
            "n_warnings": len(report.warnings),
            "errors": _issues(report.errors),
            "warnings": _issues(report.warnings),
        },
        "missing_pids": [int(p) for p in missing],
        "extra_pids": [int(p) for p in scored.extra_pids],
        "versions": versions(),
        "data": run["data"],
        "split": run["split"],
        "fit_s": None,
        "recommend_s": None,
        "peak_rss_mb": None,
        "cold_start": None,
        "backfill": {"slots": 0, "queries": 0, "max": 0},
        "files": {"recs": "recs.npz", "metrics": "metrics.parquet"},
        "recs_ids": RECS_NOTE,
        "n_catalogue": scored.n_catalogue,
        # as a model's: relative to the model folder, so the report finds it for its curve
        "submission": os.path.relpath(path.resolve(), model_dir.resolve()),
        "submission_sha256": digest[:16],
    }


def _write(
    model_dir: Path, manifest: dict[str, Any], scored: Scored, key_fields: dict[str, Any]
) -> dict[str, Any]:
    """recs.npz and metrics.parquet, then the manifest, which marks the run complete. A
    placeholder manifest first claims the folder and keeps an old manifest from vouching for
    the new files if this is interrupted (no "model" key: no leaderboard reads it)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    write_json(model_dir / "manifest.json", {"external": True, "complete": False})
    pids = scored.pids
    write_npz(
        model_dir / "recs.npz",
        pids=pids.astype(np.int64),
        recs=scored.recs,
        backfilled=np.zeros(len(pids), dtype=np.int32),
        missing=scored.missing.astype(bool),
        extra_uris=scored.extra_uris,
    )
    write_metrics(model_dir / "metrics.parquet", pids, scored.categories, scored.values)
    manifest = seal(model_dir, manifest, key_fields)
    write_json(model_dir / "manifest.json", manifest)
    return manifest


def add_externals(
    run_dir: str | Path,
    specs: Iterable[ExternalSpec],
    *,
    force: bool = False,
    reporter: Reporter = SILENT,
) -> list[External]:
    """`add_external` for each spec in turn."""
    return [add_external(run_dir, s.name, s.path, force=force, reporter=reporter) for s in specs]
