"""Score aggregation (overall and per category), Borda ranking, and scoring a submission file.

`aggregate` turns per-playlist metric values into means overall and per challenge category;
`borda` ranks several scored systems the way the challenge leaderboard did (mpd-facts §4).
`validation_metrics` and `score_validation` score recommendations (track ids) for a
validation split (`harness.types.Validation`, drawn from the training playlists) in memory.
`score` (what the command `score SUBMISSION --split SPLIT_DIR [--json] [--no-verify]` prints,
harness/cli/score.py) and `score_submission` (the same, with per-playlist values) score any
challenge-format submission, ours or another tool's, against a split's ground truth. They need no
corpus: track and artist URIs get ids from a vocabulary built on the spot from the split's files
(a recommended URI outside it can neither hit nor earn artist credit).

A submission that fails the verifier is refused (HarnessError with its errors) unless
`verify=False` (`--no-verify`) is given; then malformed rows are scored as they stand (the first
500 entries), and every ground-truth playlist absent from the file counts as missing:
r_precision 0, ndcg 0, clicks 51.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import ArrayLike, NDArray
from rich import box
from rich.table import Table

from harness.atomic import read_json
from harness.challenge.metrics import (
    HIGHER_IS_BETTER,
    METRICS,
    MISSING_SCORE,
    RANKED,
    compute_metrics,
)
from harness.challenge.submission import (
    N_TRACKS,
    Parsed,
    Report,
    load_challenge_seeds,
    parse_submission,
    verify_parsed,
)
from harness.errors import DataError, HarnessError
from harness.progress import SILENT, Reporter
from harness.types import Validation

BORDA_METRICS: tuple[str, ...] = tuple(m.name for m in RANKED)  # the leaderboard's three
# Score of a playlist missing from a submission (the organisers' helper gave clicks 0: a trap).

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------- aggregation


def _summary(
    values: Mapping[str, FloatArray], rows: NDArray[np.bool_], missing: NDArray[np.bool_]
) -> dict[str, Any]:
    out: dict[str, Any] = {m: float(values[m][rows].mean()) for m in METRICS}
    out["n"] = int(rows.sum())
    out["missing"] = int(missing[rows].sum())
    return out


def aggregate(
    per_playlist: Mapping[str, ArrayLike], categories: ArrayLike, missing: ArrayLike
) -> dict[str, Any]:
    """Mean of each metric overall and per category.

    Parameters
    ----------
    per_playlist : metric name -> (n,) values, for every name of `METRICS`.
    categories : (n,) challenge category 1..10 of each playlist (0: none; overall only).
    missing : (n,) bool, playlists absent from the submission; they score `MISSING_SCORE`
        whatever `per_playlist` says.

    Returns
    -------
    ``{"overall": {metric: mean, ..., "n": int, "missing": int}, "categories": {"1": {...}, ...}}``
    with one entry per category present, in numeric order.
    """
    absent = [m for m in METRICS if m not in per_playlist]
    if absent:
        raise ValueError(f"per_playlist lacks metric(s) {', '.join(absent)}")
    cats = np.asarray(categories).astype(np.int64)
    miss = np.asarray(missing, dtype=bool)
    n = len(cats)
    if n == 0:
        raise ValueError("no playlists to aggregate")
    values: dict[str, FloatArray] = {}
    for m in METRICS:
        v = np.array(per_playlist[m], dtype=np.float64)  # a copy: missing rows are overwritten
        if v.shape != (n,) or miss.shape != (n,):
            raise ValueError(f"{m}: shape {v.shape}, categories {cats.shape}, missing {miss.shape}")
        v[miss] = MISSING_SCORE[m]
        values[m] = v
    everything = np.ones(n, dtype=bool)
    return {
        "overall": _summary(values, everything, miss),
        "categories": {
            str(c): _summary(values, cats == c, miss) for c in np.unique(cats) if 1 <= c <= 10
        },
    }


def validation_metrics(
    recs: NDArray[np.integer], validation: Validation, track_artist: NDArray[np.integer]
) -> dict[str, FloatArray]:
    """Per-playlist values of every registered metric for `recs` answering a validation split.

    recs: (n_validation, k) track ids for `validation.queries`, in their order, best first; -1
    an empty slot. track_artist: (n_tracks,) artist id of each track (`TrainSet.track_artist`).
    Used where the test split's ground truth must stay unread: tuning, a reranker's early
    stopping.
    """
    recs = np.asarray(recs)
    if recs.ndim != 2 or recs.shape[0] != len(validation.queries):
        raise ValueError(
            f"recs has shape {recs.shape}; the validation split has {len(validation.queries)} "
            "queries"
        )
    artists = np.asarray(track_artist)
    rec_artists = np.where(recs >= 0, artists[np.maximum(recs, 0)], -1)  # (n, k)
    gt = validation.holdout_ids
    return compute_metrics(recs, validation.holdout_offsets, gt, artists[gt], rec_artists)


def score_validation(
    recs: NDArray[np.integer], validation: Validation, track_artist: NDArray[np.integer]
) -> dict[str, Any]:
    """The means of `validation_metrics`, overall and per category, in the shape of
    `aggregate` (and `score --json`): ``{"overall": {"r_precision": ..., "n": ...},
    "categories": {"1": {...}, ...}}``. Empty slots are misses, not missing playlists."""
    values = validation_metrics(recs, validation, track_artist)
    categories = validation.queries.categories
    return aggregate(values, categories, np.zeros(len(categories), dtype=bool))


def borda(
    systems: Mapping[str, Mapping[str, float]], metrics: Sequence[str] = BORDA_METRICS
) -> list[tuple[str, int, int]]:
    """Borda count over `metrics`: [(name, points, rank)], best first.

    With p systems, on each metric the best gets p points, the next p - 1, and so on; systems
    tied on a metric share the better place (the challenge broke such ties by submission time,
    which we do not have). Equal totals are separated by the number of first places, then of
    second places; systems still equal share a rank. Clicks count lower as better.
    """
    names = sorted(systems)
    p = len(names)
    points = dict.fromkeys(names, 0)
    places: dict[str, list[int]] = {name: [] for name in names}
    for m in metrics:
        sign = 1.0 if HIGHER_IS_BETTER[m] else -1.0
        score = {name: sign * float(systems[name][m]) for name in names}
        for name in names:
            better = sum(score[other] > score[name] for other in names)
            points[name] += p - better
            places[name].append(better + 1)

    def key(name: str) -> tuple[int, int, int]:
        return (-points[name], -places[name].count(1), -places[name].count(2))

    ordered = sorted(names, key=lambda name: (key(name), name))
    return [(name, points[name], 1 + sum(key(o) < key(name) for o in names)) for name in ordered]


# ---------------------------------------------------------------------------- scoring a file


@dataclass
class GroundTruth:
    """A split's held-out tracks, as URIs, in ground_truth.json order."""

    pids: NDArray[np.int64]  # (n,)
    categories: NDArray[np.int64]  # (n,)
    offsets: NDArray[np.int64]  # (n + 1,)
    track_uris: list[str]  # (m,)
    artist_uris: list[str]  # (m,)


def load_ground_truth(path: str | Path) -> GroundTruth:
    """Read a split's ground_truth.json, checking the fields that scoring relies on."""
    doc = read_json(path)
    playlists = doc.get("playlists") if isinstance(doc, dict) else None
    if not isinstance(playlists, list) or not playlists:
        raise DataError(f"{path}: no 'playlists' list; is this a split's ground_truth.json?")
    pids, cats, sizes = [], [], []
    tracks: list[str] = []
    artists: list[str] = []
    for i, p in enumerate(playlists):
        where = f"{path}: playlists[{i}]"
        try:
            pid, cat, holdouts = p["pid"], p["category"], p["holdouts"]
            if not isinstance(pid, int) or not isinstance(cat, int) or not holdouts:
                raise TypeError("pid and category must be integers, holdouts non-empty")
            tracks += [h["track_uri"] for h in holdouts]
            artists += [h["artist_uri"] for h in holdouts]
        except (KeyError, TypeError) as e:
            need = "pid, category and holdouts with track_uri and artist_uri"
            raise DataError(f"{where}: needs {need} ({e})") from e
        pids.append(pid)
        cats.append(cat)
        sizes.append(len(holdouts))
    if len(set(pids)) != len(pids):
        raise DataError(f"{path}: a pid appears twice")
    return GroundTruth(
        np.asarray(pids, dtype=np.int64),
        np.asarray(cats, dtype=np.int64),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        tracks,
        artists,
    )


def load_track_artists(path: str | Path) -> pa.Table:
    """A split's track_artists.parquet: columns track_uri and artist_uri (strings)."""
    if not Path(path).is_file():
        raise DataError(f"{path}: not found; the split needs it for the artist partial credit")
    try:
        table = pq.read_table(path, columns=["track_uri", "artist_uri"])
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"{path}: needs columns track_uri and artist_uri ({e})") from e
    return table.cast(pa.schema([("track_uri", pa.string()), ("artist_uri", pa.string())]))


def _ids(values: pa.Array, vocabulary: pa.Array) -> NDArray[np.int64]:
    """Position of each value in `vocabulary` (hashed in Arrow); -1 when absent."""
    found = pc.fill_null(pc.index_in(values, value_set=vocabulary), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _codes(values: pa.Array) -> NDArray[np.int64]:
    """Dense ids of string values, equal strings equal ids (one hashing pass)."""
    codes = pc.dictionary_encode(values).indices
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)


def _track_vocabulary(
    catalogue: pa.Table, gt_uris: pa.Array, gt_artists: pa.Array
) -> tuple[pa.Array, NDArray[np.int64], NDArray[np.int64]]:
    """(vocabulary of track URIs, artist id of each, ids of the held-out tracks)."""
    cat_tracks = catalogue.column("track_uri").combine_chunks()
    vocabulary = pc.unique(pa.concat_arrays([cat_tracks, gt_uris]))  # first-seen order
    n_cat = len(cat_tracks)
    if vocabulary.slice(0, n_cat).equals(cat_tracks):  # the catalogue lists each track once
        cat_ids = np.arange(n_cat, dtype=np.int64)
    else:
        cat_ids = _ids(cat_tracks, vocabulary)
    gt_ids = _ids(gt_uris, vocabulary)  # (m,)
    artists = _codes(
        pa.concat_arrays([catalogue.column("artist_uri").combine_chunks(), gt_artists])
    )
    track_artist = np.full(len(vocabulary), -1, dtype=np.int64)  # (n_vocab,)
    track_artist[cat_ids] = artists[:n_cat]
    track_artist[gt_ids] = artists[n_cat:]
    return vocabulary, track_artist, gt_ids


@dataclass
class Scored:
    """Everything `score_submission` found."""

    result: dict[str, Any]  # aggregate(...) of the submission
    per_playlist: dict[str, FloatArray]
    pids: NDArray[np.int64]  # (n,) ground-truth order
    missing: NDArray[np.bool_]  # (n,)
    report: Report | None  # the verifier's report (None with verify=False)
    extra_pids: list[int]  # pids in the submission but not in the ground truth
    synthetic: bool | None = None  # from the split's manifest.json (None: no manifest)


def score_submission(
    submission: str | Path, split_dir: str | Path, *, verify: bool = True
) -> Scored:
    """Score a challenge-format submission against a split directory (see the module doc)."""
    split = Path(split_dir)
    gt, seeds, catalogue = _split_files(split)
    parsed = parse_submission(submission)
    report = None
    if verify:
        known = set(catalogue.column("track_uri").to_pylist())
        report = verify_parsed(parsed, seeds, known, str(submission), "the training data")
        if not report.ok:
            raise HarnessError(
                f"{submission} does not verify (score it anyway with --no-verify):\n{report}"
            )
    rows = _rows_by_pid(parsed, submission)
    # Track ids: catalogue and holdouts. A recommended URI outside both can never hit and has
    # no known artist, so it becomes -1 like an empty slot.
    gt_uris = pa.array(gt.track_uris, pa.string())
    vocabulary, track_artist, gt_tracks = _track_vocabulary(
        catalogue, gt_uris, pa.array(gt.artist_uris, pa.string())
    )
    present = [pid in rows for pid in gt.pids.tolist()]
    if rows and not any(present):  # scoring would print zeros for a submission to another split
        raise DataError(
            f"{submission}: none of the submission's {len(rows)} pids (e.g. "
            f"{sorted(rows)[:3]}) are in the split {split} (e.g. {gt.pids[:3].tolist()}); "
            "was it made for another split?"
        )
    sub_rows = [rows[pid] for pid, ok in zip(gt.pids.tolist(), present, strict=True) if ok]
    recs = _recommendation_ids(sub_rows, np.flatnonzero(present), len(gt.pids), vocabulary)
    rec_artists = np.where(recs >= 0, track_artist[np.maximum(recs, 0)], -1)
    per_playlist = compute_metrics(
        recs, gt.offsets, gt_tracks, track_artist[gt_tracks], rec_artists
    )
    missing = ~np.asarray(present, dtype=bool)
    result = aggregate(per_playlist, gt.categories, missing)
    extra = sorted(set(rows) - set(gt.pids.tolist()))
    return Scored(result, per_playlist, gt.pids, missing, report, extra, _split_synthetic(split))


def _split_files(split: Path) -> tuple[GroundTruth, dict[int, frozenset[str]], pa.Table]:
    """(ground truth, pid -> seed URIs, training catalogue) of a split folder, whose two JSON
    files must list the same pids."""
    gt = load_ground_truth(split / "ground_truth.json")
    seeds = load_challenge_seeds(split / "challenge_set.json")
    if set(seeds) != set(gt.pids.tolist()):
        only_cs = sorted(set(seeds) - set(gt.pids.tolist()))[:3]
        only_gt = sorted(set(gt.pids.tolist()) - set(seeds))[:3]
        raise DataError(
            f"{split}: challenge_set.json and ground_truth.json list different pids (only in "
            f"challenge_set.json: {only_cs}; only in ground_truth.json: {only_gt})"
        )
    return gt, seeds, load_track_artists(split / "track_artists.parquet")


def _rows_by_pid(parsed: Parsed, submission: str | Path) -> dict[int, list[str]]:
    """pid -> its first 500 recommended URIs; a non-integer or repeated pid is a DataError."""
    rows: dict[int, list[str]] = {}
    for lineno, pid_field, tracks in parsed.rows:
        try:
            pid = int(pid_field)
        except ValueError:
            raise DataError(f"{submission}:{lineno}: pid {pid_field!r} is not an integer") from None
        if pid in rows:
            raise DataError(f"{submission}:{lineno}: pid {pid} given twice")
        rows[pid] = tracks[:N_TRACKS]  # the organisers' helper also cuts at 500
    return rows


def _recommendation_ids(
    sub_rows: list[list[str]], at: NDArray[np.int64], n: int, vocabulary: pa.Array
) -> NDArray[np.int64]:
    """(n, 500) vocabulary ids of the recommendations; row `at[j]` holds `sub_rows[j]`, and
    unknown URIs, short rows' tails and playlists without a row are -1."""
    lengths = np.array([len(r) for r in sub_rows], dtype=np.int64)  # (n_rows,)
    # Hash the recommendations once, then look up only their distinct URIs.
    flat = pc.dictionary_encode(pa.array([u for r in sub_rows for u in r], pa.string()))
    flat_ids = _ids(flat.dictionary, vocabulary)[
        np.asarray(flat.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    ]
    recs = np.full((n, N_TRACKS), -1, dtype=np.int64)  # (n, 500); missing rows stay -1
    row_of = np.repeat(at, lengths)
    col_of = np.arange(len(flat_ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    recs[row_of, col_of] = flat_ids
    return recs


def score(
    submission: str | Path,
    split_dir: str | Path,
    *,
    verify: bool = True,
    reporter: Reporter = SILENT,
) -> dict[str, Any]:
    """Score a challenge-format submission against a split folder: exactly what
    `score --json` prints.

    Returns ``{"overall": {metric: mean, ..., "n": int, "missing": int}, "categories":
    {"1": {...}, ...}}`` (see `aggregate`). The verifier's warnings, the pids not in the split
    and a synthetic split are told to `reporter` (`report_notices`). Raises HarnessError when
    the submission does not verify (unless `verify=False`) or does not fit the split.
    """
    scored = score_submission(submission, split_dir, verify=verify)
    report_notices(scored, split_dir, reporter)
    return scored.result


def report_notices(
    scored: Scored, split_dir: str | Path, reporter: Reporter, *, synthetic: bool = True
) -> None:
    """Tell `reporter` what the user should read besides the scores: the verifier's warnings,
    the submission's pids that the split lacks, and (`synthetic`) that the split was drawn from
    synthetic data (the score table says so in its title instead)."""
    if scored.report is not None and scored.report.warnings:
        reporter.note(scored.report.format())
    if scored.extra_pids:
        reporter.warn(
            f"{len(scored.extra_pids)} pid(s) of the submission are not in the split "
            f"and were ignored (e.g. {scored.extra_pids[:3]})"
        )
    if synthetic and scored.synthetic:
        reporter.note(f"note: {split_dir} was drawn from SYNTHETIC data, not the real MPD")


def _split_synthetic(split: Path) -> bool | None:
    """Whether the split was drawn from synthetic data, as its manifest says (None: unknown)."""
    try:
        manifest = read_json(split / "manifest.json")
    except (OSError, ValueError):
        return None
    value = manifest.get("synthetic") if isinstance(manifest, dict) else None
    return value if isinstance(value, bool) else None


# ---------------------------------------------------------------------------- presenting


def score_table(result: Mapping[str, Any], title: str | None = None) -> Table:
    """A Rich table of `aggregate`'s output: overall first, then each category."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("category", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("missing", justify="right", no_wrap=True)
    for m in METRICS:
        table.add_column(m, justify="right", no_wrap=True)
    rows = [("overall", result["overall"])]
    rows += list(result["categories"].items())
    for label, v in rows:
        cells = [f"{v[m]:.4f}" for m in METRICS]
        table.add_row(label, str(v["n"]), str(v["missing"]), *cells)
    return table
