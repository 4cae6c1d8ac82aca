"""Evaluate models on a split: corpus → split → fit/recommend each model → run files → leaderboard.

`mpd-harness evaluate` writes, for every model, `RUN_DIR/<model>/recs.npz` (pids, recs int32
(n, k), backfilled counts), `metrics.parquet` (per-playlist metrics), `manifest.json` (written
last: it marks the run complete) and `submissions/<run>/<model>.csv.gz`; then the leaderboard.
A model whose manifest matches (model, params, data, split, k) is reused, not retrained, unless
`--force`.

The runner, not the models, checks every recommendation matrix (shape, dtype, id range, no
duplicates, no seeds) and backfills empty (-1) slots with the most popular training tracks.
Seedless queries of models with `cold_start == "title"` go to the shared title baseline, and so
do the queries such a model leaves wholly empty (no seed it knows).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from harness.atomic import atomic_dir, read_json, write_json
from harness.cli.console import table_console
from harness.errors import HarnessError, UsageError
from harness.run.manifest import RssSampler, fingerprint, jsonable, machine, ru_maxrss_mb, versions
from harness.run.rundir import complete_run, read_metrics, read_recs, write_metrics, write_recs
from harness.types import IntArray, Queries, TrainSet

if TYPE_CHECKING:
    from harness.data.corpus import Corpus
    from models.base import Recommender

DEFAULT_K = 500
DEFAULT_PRESET = "default"
SYNTHETIC_ROOT = Path("data/synthetic")
SUBMISSIONS_ROOT = Path("submissions")
RUNS_ROOT = Path("runs")
# queries per `recommend` call: small enough for a live progress bar, large enough to batch
CHUNK = 1000
COLD_START = ("model", "title")
RSS_NOTE = (
    "peak_rss_mb: highest resident memory of this process sampled (every 50 ms) during this "
    "model's fit and recommend stages; it includes the corpus and split already in memory "
    "(rss_before_mb). process_peak_rss_mb is getrusage ru_maxrss: the whole process's "
    "high-water mark so far, monotonic across models."
)


class ModelOutputError(HarnessError):
    """A model returned recommendations that break the interface contract."""


# ---------------------------------------------------------------------------- arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--mpd", type=Path, metavar="PATH", help="MPD folder of slices, one slice file, or the zip"
    )
    src.add_argument(
        "--synthetic",
        metavar="PRESET",
        help=f"generate (once) and use a synthetic MPD of this preset (default: {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split and of synthetic data (default 0)"
    )
    parser.add_argument(
        "--split",
        type=Path,
        metavar="SPLIT_DIR",
        help="split folder to reuse or create (default: RUN_DIR/split)",
    )
    parser.add_argument(
        "--per-category", type=int, metavar="N", help="test playlists per category of a new split"
    )
    from harness.challenge.split import COVERAGE

    parser.add_argument(
        "--coverage",
        choices=COVERAGE,
        default="best-effort",
        help="rule of a new split (as in `split`): best-effort (default) keeps every seed and "
        "held-out track in training wherever the corpus allows it; official fails instead; "
        "none drops the rule",
    )
    parser.add_argument(
        "--models", metavar="A,B", help="comma-separated models to run (default: all registered)"
    )
    parser.add_argument(
        "-p",
        dest="params",
        action="append",
        default=[],
        metavar="MODEL.PARAM=VALUE",
        help="model hyperparameter, a Python literal (e.g. -p knn.k_neighbors=200); repeatable",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default: runs/synthetic-<preset>-s<seed> or runs/<mpd-name>-s<seed>)",
    )
    parser.add_argument("--force", action="store_true", help="refit models even if runs exist")
    parser.add_argument(
        "--challenge-set",
        type=Path,
        metavar="PATH",
        help="official challenge_set.json: train on the whole corpus, write submissions only",
    )
    parser.add_argument("--cache-dir", type=Path, metavar="DIR", help="corpus cache folder")
    parser.add_argument("--team", default="mpd-harness", help="team name in submissions")
    parser.add_argument(
        "--email", default="mpd-harness@example.com", help="contact email in submissions"
    )
    parser.add_argument(
        "--k",
        type=int,
        default=DEFAULT_K,
        help="recommendations per playlist (default 500; submissions need 500)",
    )


# ---------------------------------------------------------------------------- model parameters


def parse_value(text: str) -> Any:
    """A Python literal (`200`, `0.5`, `None`, `'a'`, `[1, 2]`), else the plain string.

    Parsed with `ast.literal_eval`: nothing is ever evaluated as code.
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_params(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`["knn.k_neighbors=200", "w2v.dim=32"]` -> `{"knn": {"k_neighbors": 200}, "w2v": {"dim": 32}}`."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, eq, value = item.partition("=")
        model, dot, param = key.strip().partition(".")
        if not eq or not dot or not model or not param:
            raise UsageError(
                f"-p {item!r}: expected MODEL.PARAM=VALUE, e.g. -p knn.k_neighbors=200"
            )
        out.setdefault(model, {})[param] = parse_value(value.strip())
    return out


def _type_ok(value: Any, default: Any) -> bool:
    """Whether `value` may replace `default`: same type, an int for a float, anything for a
    default of None (None only there)."""
    if default is None:
        return True
    if value is None:
        return False
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, list | tuple):
        return isinstance(value, list | tuple)
    return isinstance(value, type(default))


def build_model(name: str, params: dict[str, Any]) -> Recommender:
    """Instantiate a registered model; unknown names, parameters or value types are errors."""
    from models import MODELS, get_model

    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    defaults = MODELS[name]().get_params(deep=False)
    for param, value in params.items():
        if param in defaults and not _type_ok(value, defaults[param]):
            raise UsageError(
                f"-p {name}.{param}={value!r}: expected {type(defaults[param]).__name__} "
                f"like the default {defaults[param]!r}, got {type(value).__name__}"
            )
    # an int for a float default becomes a float: `alpha=1` and `alpha=1.0` are one run key
    params = {
        k: float(v) if isinstance(defaults.get(k), float) and type(v) is int else v
        for k, v in params.items()
    }
    model = get_model(name, **params)
    model.check_params()
    if getattr(model, "cold_start", None) not in COLD_START:
        raise ModelOutputError(
            f"model {name!r}: cold_start must be one of {COLD_START}, got {model.cold_start!r}"
        )
    return model


def select_models(spec: str | None, params: dict[str, dict[str, Any]]) -> list[str]:
    """Model names in registry order (all by default); `-p` may only name selected models."""
    from models import MODELS

    if spec is None:
        names = list(MODELS)
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise UsageError("--models: no model named; available: " + ", ".join(MODELS))
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise UsageError(
            f"--models: unknown model {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(MODELS)}"
        )
    stray = sorted(set(params) - set(names))
    if stray:
        raise UsageError(
            f"-p names model {', '.join(map(repr, stray))} which is not being run "
            f"(running: {', '.join(names)}; available: {', '.join(MODELS)})"
        )
    return list(dict.fromkeys(names))


# ---------------------------------------------------------------------------- checks and backfill


def check_recs(
    recs: Any,
    queries: Queries,
    n_tracks: int,
    k: int,
    model: str,
    track_uris: NDArray[np.object_] | None = None,
) -> IntArray:
    """Raise ModelOutputError unless `recs` is an int32 (n, k) matrix of valid recommendations.

    Valid: ids in [-1, n_tracks) (-1 = empty slot), no track twice in a row, no seed of the
    query. The message names the model, the query pid and the offending track.
    """
    n = len(queries)
    if not isinstance(recs, np.ndarray):
        raise ModelOutputError(
            f"model {model!r}: recommend returned {type(recs).__name__}, expected a numpy array"
        )
    if recs.shape != (n, k):
        raise ModelOutputError(
            f"model {model!r}: recommend returned shape {recs.shape}, expected ({n}, {k})"
        )
    if recs.dtype != np.int32:
        raise ModelOutputError(f"model {model!r}: recommend returned dtype {recs.dtype}, not int32")

    def name(t: int) -> str:
        return f"{t} ({track_uris[t]})" if track_uris is not None and 0 <= t < n_tracks else str(t)

    bad = (recs < -1) | (recs >= n_tracks)  # (n, k)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: track id {recs[i, j]} at rank {j + 1} "
            f"is outside [-1, {n_tracks})"
        )
    s = np.sort(recs, axis=1)  # (n, k)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)  # (n, k-1)
    if dup.any():
        i, j = np.argwhere(dup)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: track {name(int(s[i, j + 1]))} "
            "recommended more than once"
        )
    rows = np.repeat(np.arange(n, dtype=np.int64), queries.n_seeds)  # (n_seeds,)
    seed_keys = rows * n_tracks + queries.seed_ids
    rec_keys = np.arange(n, dtype=np.int64)[:, None] * n_tracks + recs  # (n, k)
    is_seed = np.isin(rec_keys, seed_keys) & (recs >= 0)
    if is_seed.any():
        i, j = np.argwhere(is_seed)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: seed track {name(int(recs[i, j]))} "
            f"recommended at rank {j + 1}"
        )
    return recs


def backfill(
    recs: IntArray, queries: Queries, ranking: IntArray, k: int
) -> tuple[IntArray, NDArray[np.int32]]:
    """Fill each row's -1 slots with the most popular tracks not already in the row nor seeds.

    The row's own tracks keep their order, the popular ones follow. ranking: training tracks,
    most popular first. Returns the (n, k) matrix and the number of backfilled slots per row.
    """
    from models.popular import exclude_and_cut

    out = recs.copy()
    counts = (recs < 0).sum(axis=1).astype(np.int32)  # (n,)
    for i in np.flatnonzero(counts):
        row = recs[i]
        keep = row[row >= 0]
        fill = exclude_and_cut(ranking, np.concatenate([keep, queries.seeds(int(i))]), counts[i])
        if (fill < 0).any():
            raise HarnessError(
                f"pid {queries.pids[i]}: the training catalogue has too few tracks "
                f"({len(ranking)}) to fill {k} recommendations"
            )
        out[i] = np.concatenate([keep, fill])
    return out, counts


# ---------------------------------------------------------------------------- data and split


@dataclass
class DataSource:
    """Where the corpus comes from and what the run is called."""

    name: str
    path: Path
    synthetic: bool
    preset: str | None = None
    seed: int | None = None


def resolve_data(args: argparse.Namespace, console: Console) -> DataSource:
    """The MPD given with --mpd, else the synthetic preset (generated once, atomically)."""
    if args.mpd is not None:
        path = Path(args.mpd)
        if not path.exists():
            raise UsageError(f"--mpd {path}: no such file or folder")
        stem = path.name
        for suffix in (".zip", ".json"):
            stem = stem.removesuffix(suffix)
        return DataSource(name=stem or "mpd", path=path, synthetic=False)
    preset = args.synthetic or DEFAULT_PRESET
    path = ensure_synthetic(preset, args.seed, SYNTHETIC_ROOT, console)
    return DataSource(
        name=f"synthetic-{preset}-s{args.seed}",
        path=path,
        synthetic=True,
        preset=preset,
        seed=args.seed,
    )


def ensure_synthetic(preset: str, seed: int, root: Path, console: Console) -> Path:
    """`root/<preset>-s<seed>/`, generated unless present and made by this generator version.

    Generated into a temporary folder renamed into place at the end, so a folder that exists
    is complete and an interrupted generation is never reused.
    """
    from harness.data.synthetic import PRESETS, marker, read_marker, write_synthetic

    if preset not in PRESETS:
        raise UsageError(f"--synthetic {preset!r}: unknown preset; available: {', '.join(PRESETS)}")
    target = root / f"{preset}-s{seed}"
    n = PRESETS[preset]
    if target.is_dir():
        found = read_marker(target)
        if found == jsonable(marker(n, seed)):
            return target
        made_by = f"generator version {found.get('generator_version')}" if found else "no marker"
        console.print(
            f"[yellow]{target}: made by another synthetic generator ({made_by}); "
            "regenerating[/yellow]"
        )
    with (
        _spinner(console, f"generating synthetic MPD {preset!r} ({n:,} playlists)"),
        atomic_dir(target) as tmp,
    ):
        write_synthetic(tmp, n, seed)
    console.print(f"synthetic MPD: {target} ({n:,} playlists, seed {seed})")
    return target


def split_mismatch(
    manifest: dict[str, Any],
    corpus: Corpus,
    seed: int,
    per_category: int | None,
    coverage: str = "best-effort",
) -> str | None:
    """Why an existing split (its manifest) does not fit this corpus, seed and settings."""
    from harness.challenge.split import default_per_category, split_settings

    fp = corpus.source.get("fingerprint")
    src = manifest.get("source_fingerprint")
    if src != fp:
        return f"made from data {src}, not {fp}"
    if manifest.get("seed") != seed:
        return f"made with seed {manifest.get('seed')}, not {seed}"
    n = default_per_category(corpus.n_playlists) if per_category is None else per_category
    have = manifest.get("settings", {})
    want = split_settings(n, coverage)
    if jsonable(have) != jsonable(want):
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        got = ", ".join(f"{k} {have.get(k)!r}" for k in diff)
        return f"made with {got}, not {', '.join(f'{k} {want.get(k)!r}' for k in diff)}"
    return None


def ensure_split(
    corpus: Corpus,
    split_dir: Path,
    *,
    seed: int,
    per_category: int | None,
    coverage: str = "best-effort",
    explicit: bool,
    console: Console,
) -> Any:
    """Load the split in `split_dir` when it matches, else build and write it there.

    A split the user named with --split is never overwritten: a mismatch is an error.
    """
    from harness.challenge.split import load_split, make_split, write_split

    manifest_path = split_dir / "manifest.json"
    if manifest_path.exists():
        why = split_mismatch(read_json(manifest_path), corpus, seed, per_category, coverage)
        if why is None:
            split = load_split(split_dir, corpus)
            console.print(f"split: reusing {split_dir}")
            return split
        if explicit:
            raise UsageError(
                f"--split {split_dir}: {why}; give matching --seed/--per-category or another folder"
            )
        console.print(f"split: {split_dir} was {why}: rebuilding")
    with _spinner(console, "splitting"):
        split = make_split(corpus, seed=seed, per_category=per_category, coverage=coverage)
        write_split(split, corpus, split_dir)
    console.print(f"split: wrote {split_dir} ({len(split.test_idx):,} test playlists, seed {seed})")
    lost = not_in_train(split)
    if lost:
        console.print(
            f"split: {lost:,} seed/held-out track occurrences are absent from training "
            f"(coverage {coverage}: this corpus cannot keep them all, see {split_dir}/manifest.json)"
        )
    return split


def not_in_train(split: Any) -> int:
    """Seed and held-out track occurrences of the test set that training never shows."""
    return sum(
        sum(r.get("not_in_train", {}).values())
        for r in split.report.values()
        if isinstance(r, dict)
    )


def whole_train_set(corpus: Corpus) -> TrainSet:
    """Every playlist of the corpus (challenge mode: nothing is held out)."""
    return TrainSet(
        offsets=corpus.offsets,
        track_ids=corpus.track_ids,
        titles=corpus.normalized_names,
        n_tracks=corpus.n_tracks,
        track_artist=corpus.track_artist,
        track_album=corpus.track_album,
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- evaluation context


@dataclass
class Evaluation:
    """Everything shared by the models of one run."""

    corpus: Corpus
    train: TrainSet
    queries: Queries
    run_dir: Path
    submissions_dir: Path
    data: dict[str, Any]
    split: dict[str, Any]  # path, seed, fingerprint, ... (challenge mode: the challenge file)
    challenge_path: Path  # the challenge_set.json the submissions answer
    mode: str  # "split" (scored) or "challenge" (submissions only)
    k: int
    team: str
    email: str
    console: Console
    # ground truth of the split, aligned with queries (None in challenge mode)
    gt_offsets: NDArray[np.int64] | None = None
    gt_tracks: IntArray | None = None
    _ranking: IntArray | None = field(default=None, repr=False)
    _title: Recommender | None = field(default=None, repr=False)
    title_fit_s: float = 0.0

    @property
    def ranking(self) -> IntArray:
        """Training tracks by popularity (for backfill)."""
        if self._ranking is None:
            from models.popular import popularity_ranking

            self._ranking = popularity_ranking(self.train)
        return self._ranking

    def title_model(self) -> Recommender:
        """The shared cold-start baseline, fitted once on first use."""
        if self._title is None:
            from models.title import TitleRecommender

            with RssSampler() as t:
                self._title = TitleRecommender().fit(self.train)
            self.title_fit_s = t.seconds
        return self._title


# Bump when the runner's treatment of a model's output changes (routing, checks, backfill), so
# that runs stored by an older runner are recomputed rather than reused.
RUNNER_VERSION = 2


def run_key(ev: Evaluation, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a stored run must match to be reused."""
    return {
        "runner": RUNNER_VERSION,
        "model": name,
        "params": jsonable(params),
        "mode": ev.mode,
        "k": ev.k,
        "data_fingerprint": ev.data.get("fingerprint"),
        "split_fingerprint": ev.split.get("fingerprint"),
    }


# ---------------------------------------------------------------------------- progress


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    """Add the block's wall seconds to `stages[name]`."""
    t0 = time.perf_counter()
    yield
    stages[name] = round(stages.get(name, 0.0) + time.perf_counter() - t0, 3)


@contextmanager
def _spinner(console: Console, description: str) -> Iterator[None]:
    with _progress(console) as progress:
        progress.add_task(description, total=None)
        yield


# ---------------------------------------------------------------------------- one model


def recommend_all(
    ev: Evaluation, name: str, model: Recommender, progress: Progress | None = None
) -> tuple[IntArray, NDArray[np.bool_], NDArray[np.bool_], float]:
    """Checked (n, k) recommendations for every query, before backfill.

    Models with `cold_start == "title"` hand two kinds of query to the shared title baseline:
    seedless ones (routed before the model runs) and those the model left wholly empty, e.g.
    when no seed has a vector (answered after). Returns the matrix, both masks and the seconds
    spent inside `recommend` calls (checks excluded).
    """
    q, k, n = ev.queries, ev.k, len(ev.queries)
    recs = np.full((n, k), -1, dtype=np.int32)  # (n, k)
    to_title = model.cold_start == "title"
    routed = (q.n_seeds == 0) if to_title else np.zeros(n, dtype=bool)
    own = np.flatnonzero(~routed)
    task = progress.add_task(f"{name}: recommend", total=n) if progress is not None else None
    seconds = 0.0

    def run(who: Recommender, label: str, idx: NDArray[np.intp]) -> None:
        nonlocal seconds
        sub = q.subset(idx)
        t0 = time.perf_counter()
        out = who.recommend(sub, k)
        seconds += time.perf_counter() - t0
        recs[idx] = check_recs(out, sub, ev.train.n_tracks, k, label, ev.corpus.track_uris)
        if progress is not None and task is not None:
            progress.advance(task, len(idx))

    for s in range(0, len(own), CHUNK):
        run(model, name, own[s : s + CHUNK])
    if routed.any():
        run(ev.title_model(), f"{name} (via title baseline)", np.flatnonzero(routed))
    empty = ~routed & (recs < 0).all(axis=1) if to_title else np.zeros(n, dtype=bool)
    if empty.any():
        if progress is not None and task is not None:
            progress.update(task, total=n + int(empty.sum()))
        run(ev.title_model(), f"{name} (unanswered, via title baseline)", np.flatnonzero(empty))
    return recs, routed, empty, seconds


def score(ev: Evaluation, recs: IntArray) -> dict[str, NDArray[np.float64]]:
    """Per-playlist values of every metric (split mode)."""
    from harness.challenge.metrics import compute_metrics

    assert ev.gt_offsets is not None and ev.gt_tracks is not None
    artists = ev.corpus.track_artist
    return compute_metrics(recs, ev.gt_offsets, ev.gt_tracks, artists[ev.gt_tracks], artists[recs])


def write_and_verify_submission(
    ev: Evaluation, path: Path, pids: NDArray[np.int64], recs: IntArray
) -> None:
    """The challenge-format file for `recs`, checked by the verifier (our bug if it fails)."""
    from harness.challenge.submission import verify_submission, write_submission

    mark_submissions_owner(path.parent, ev.run_dir)
    write_submission(path, pids, ev.corpus.track_uris[recs], ev.team, ev.email)
    report = verify_submission(path, ev.challenge_path, known_uris=ev.corpus.track_index)
    if not report.ok:
        raise HarnessError(f"{path}: the written submission does not verify:\n{report}")


OWNERS = "owners.json"  # in SUBMISSIONS_ROOT: {"<run folder name>": "<resolved run folder>"}


def submissions_folder(run_dir: Path) -> Path:
    """`submissions/<run folder name>`."""
    return SUBMISSIONS_ROOT / run_dir.name


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
            f"{folder} holds the submissions of run {other}, not of {owner}; give this run "
            f"another --out name, or remove {folder} (and its line in "
            f"{folder.parent / OWNERS})"
        )


def mark_submissions_owner(folder: Path, run_dir: Path) -> None:
    """Record in `submissions/owners.json` which run folder writes into `folder`."""
    owners = _owners(folder.parent)
    owner = str(run_dir.resolve())
    if owners.get(folder.name) != owner:
        owners[folder.name] = owner
        write_json(folder.parent / OWNERS, dict(sorted(owners.items())))


def _marker_seed(path: Path) -> int | None:
    """The generator seed of a synthetic MPD folder given with --mpd (None for real data)."""
    from harness.data.synthetic import read_marker

    marker = read_marker(path) if path.is_dir() else None
    seed = marker.get("seed") if marker else None
    return seed if isinstance(seed, int) else None


def submission_path(ev: Evaluation, name: str) -> Path:
    return ev.submissions_dir / f"{name}.csv.gz"


def relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def evaluate_model(
    ev: Evaluation, name: str, params: dict[str, Any], force: bool
) -> dict[str, Any]:
    """Fit, recommend, check, backfill, score and write one model's run; reuse a complete one."""
    model = build_model(name, params)
    params_all = model.get_params(deep=False)
    key = run_key(ev, name, params_all)
    model_dir = ev.run_dir / name
    sub_path = submission_path(ev, name)
    stored = None if force else complete_run(model_dir, key)
    if stored is not None:
        if ev.k == DEFAULT_K and (
            not sub_path.exists() or file_sha256(sub_path) != stored.get("submission_sha256")
        ):  # missing, or not the file this run wrote: write it again from the recs
            pids, recs, _ = read_recs(model_dir / "recs.npz")
            write_and_verify_submission(ev, sub_path, pids, recs)
            stored["submission_sha256"] = file_sha256(sub_path)
            write_json(model_dir / "manifest.json", stored)
        ev.console.print(f"{name}: reusing {model_dir} (use --force to refit)")
        return stored

    # an interrupted recomputation must not leave the old manifest vouching for new files
    (model_dir / "manifest.json").unlink(missing_ok=True)
    with _progress(ev.console) as progress:
        task = progress.add_task(f"{name}: fit", total=None)
        with RssSampler() as fit:
            model.fit(ev.train)
        progress.remove_task(task)
        with RssSampler() as rec:
            raw, routed, unanswered, rec_s = recommend_all(ev, name, model, progress)
    stages: dict[str, float] = {}
    with _timed(stages, "backfill_s"):
        recs, backfilled = backfill(raw, ev.queries, ev.ranking, ev.k)
    pids = ev.queries.pids
    model_dir.mkdir(parents=True, exist_ok=True)
    write_recs(model_dir / "recs.npz", pids, recs, backfilled)
    if ev.mode == "split":
        with _timed(stages, "score_s"):
            values = score(ev, recs)
        write_metrics(model_dir / "metrics.parquet", pids, ev.queries.categories, values)
    sub = None
    if ev.k == DEFAULT_K:
        with _timed(stages, "submission_s"):
            write_and_verify_submission(ev, sub_path, pids, recs)
        sub = relpath(sub_path, model_dir)
    manifest = {
        "model": name,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "params": jsonable(params_all),
        "key": fingerprint(key),
        "mode": ev.mode,
        "k": ev.k,
        "seeds": {
            "data": ev.data.get("seed"),
            "split": ev.split.get("seed"),
            "model": jsonable(params_all.get("seed", params_all.get("random_state"))),
        },
        "versions": versions(),
        "machine": machine(),
        "data": ev.data,
        "split": ev.split,
        "fit_s": round(fit.seconds, 3),
        "recommend_s": round(rec_s, 3),
        "peak_rss_mb": round(max(fit.peak_mb, rec.peak_mb), 1),
        "fit_peak_rss_mb": round(fit.peak_mb, 1),
        "recommend_peak_rss_mb": round(rec.peak_mb, 1),
        "rss_before_mb": round(fit.start_mb, 1),
        "process_peak_rss_mb": round(ru_maxrss_mb(), 1),
        "rss_note": RSS_NOTE,
        "stages": stages,
        "fit_info": jsonable(getattr(model, "fit_info_", None)),
        # the effective value for the settings used, where the model knows it
        "deterministic": bool(getattr(model, "deterministic_", model.deterministic)),
        "determinism_note": model.determinism_note,
        "cold_start": model.cold_start,
        "title_routed": int(routed.sum()),
        "title_unanswered": int(unanswered.sum()),
        "title_fit_s": round(ev.title_fit_s, 3) if (routed | unanswered).any() else None,
        "backfill": {
            "slots": int(backfilled.sum()),
            "queries": int((backfilled > 0).sum()),
            "max": int(backfilled.max(initial=0)),
        },
        "files": {
            "recs": "recs.npz",
            "metrics": "metrics.parquet" if ev.mode == "split" else None,
        },
        "submission": sub,
        "submission_sha256": file_sha256(sub_path) if sub is not None else None,
    }
    write_json(model_dir / "manifest.json", manifest)  # last: marks the run complete
    return manifest


def summary_line(ev: Evaluation, name: str, manifest: dict[str, Any]) -> str:
    """`name  R-prec …  NDCG …  clicks …  fit … s  rec … s  peak … MB` for one model."""
    scores = ""
    if ev.mode == "split":
        m = read_metrics(ev.run_dir / name / "metrics.parquet")
        scores = (
            f" R-prec {m['r_precision'].mean():.4f} NDCG {m['ndcg'].mean():.4f}"
            f" clicks {m['clicks'].mean():5.2f}"
        )
    return (
        f"[bold]{name:<9}[/bold]{scores} fit {manifest['fit_s']:.1f}s"
        f" rec {manifest['recommend_s']:.1f}s peak {manifest['peak_rss_mb']:.0f}MB"
    )


# ---------------------------------------------------------------------------- command


def prepare(args: argparse.Namespace, console: Console, timings: dict[str, float]) -> Evaluation:
    """Data, corpus, split (or challenge set), train set and queries for this run.

    Adds the wall seconds of each step to `timings`.
    """
    from harness.data.ingest import load_corpus

    if args.k < 1:
        raise UsageError(f"--k {args.k}: must be at least 1")
    if args.split is not None:
        from harness.challenge.split import check_split_target

        check_split_target(Path(args.split))  # before the slow steps
    with _timed(timings, "data_s"):
        source = resolve_data(args, console)
    with _timed(timings, "corpus_s"):
        corpus = load_corpus(source.path, cache_dir=args.cache_dir, progress=True)
    data = {
        "name": source.name,
        "path": str(source.path),
        "fingerprint": corpus.source.get("fingerprint"),
        # slices that say `"synthetic": true` in their info are labelled so, however given
        "synthetic": source.synthetic or bool(corpus.source.get("synthetic")),
        "preset": source.preset,
        "seed": source.seed if source.seed is not None else _marker_seed(source.path),
        "n_playlists": corpus.n_playlists,
        "n_tracks": corpus.n_tracks,
    }
    challenge = args.challenge_set is not None
    # the synthetic name holds the seed already; a real MPD gets one run folder per split seed
    run_name = source.name
    if challenge:
        run_name += "-challenge"
    elif not source.synthetic:
        run_name += f"-s{args.seed}"
    run_dir = Path(args.out) if args.out is not None else RUNS_ROOT / run_name
    submissions_dir = submissions_folder(run_dir)
    check_submissions_owner(submissions_dir, run_dir)
    gt_offsets, gt_tracks = None, None
    with _timed(timings, "split_s"):
        if challenge:
            from harness.challenge.challenge_set import load_challenge_set

            challenge_path = Path(args.challenge_set)
            if not challenge_path.exists():
                raise UsageError(f"--challenge-set {challenge_path}: no such file")
            cq = load_challenge_set(challenge_path, corpus)
            queries: Queries = cq
            train = whole_train_set(corpus)
            split: dict[str, Any] = {
                "path": str(challenge_path),
                "fingerprint": file_sha256(challenge_path),
                "n_queries": len(queries),
                "unknown_seeds": cq.unknown_seeds,
            }
            if cq.unknown_seeds:
                console.print(
                    f"challenge set: {cq.unknown_seeds} seed track(s) of "
                    f"{int((cq.n_unknown > 0).sum())} playlist(s) are not in the MPD and were "
                    "dropped from the queries (run.json: unknown_seeds)"
                )
        else:
            from harness.challenge.split import train_set

            split_dir = Path(args.split) if args.split is not None else run_dir / "split"
            s = ensure_split(
                corpus,
                split_dir,
                seed=args.seed,
                per_category=args.per_category,
                coverage=args.coverage,
                explicit=args.split is not None,
                console=console,
            )
            queries, train = s.queries, train_set(corpus, s)
            gt_offsets, gt_tracks = s.holdout_offsets, s.holdout_ids
            challenge_path = split_dir / "challenge_set.json"
            split = {
                "path": str(split_dir),
                "seed": s.seed,
                "fingerprint": s.fingerprint,
                "n_queries": len(queries),
                "per_category": s.settings.get("per_category"),
                "method": s.settings.get("method"),
                "coverage": s.settings.get("coverage"),
                "not_in_train": not_in_train(s),
            }
    return Evaluation(
        corpus=corpus,
        train=train,
        queries=queries,
        run_dir=run_dir,
        submissions_dir=submissions_dir,
        data=data,
        split=split,
        challenge_path=challenge_path,
        mode="challenge" if challenge else "split",
        k=args.k,
        team=args.team,
        email=args.email,
        console=console,
        gt_offsets=gt_offsets,
        gt_tracks=gt_tracks,
    )


def run(args: argparse.Namespace) -> int:
    console = table_console(stderr=True)  # log lines unwrapped in nox and CI logs
    out = table_console()
    params = parse_params(args.params)
    names = select_models(args.models, params)
    for name in names:  # fail on bad -p before any slow work
        build_model(name, params.get(name, {}))
    timings: dict[str, float] = {}
    ev = prepare(args, console, timings)
    write_json(
        ev.run_dir / "run.json",
        {"mode": ev.mode, "k": ev.k, "data": ev.data, "split": ev.split},
    )
    for name in names:
        with _timed(timings, f"{name}_s"):
            manifest = evaluate_model(ev, name, params.get(name, {}), args.force)
        out.print(summary_line(ev, name, manifest), highlight=False)
    if ev.mode == "split":
        from harness.report.leaderboard import build, render, write

        with _timed(timings, "leaderboard_s"):
            board = build(ev.run_dir)
            write(board, ev.run_dir)
        for table in render(board):
            out.print(table)
        out.print(f"leaderboard: {ev.run_dir / 'leaderboard.md'}", highlight=False)
    if ev.k == DEFAULT_K:
        out.print(f"submissions: {ev.submissions_dir}", highlight=False)
    else:
        out.print(f"submissions: none (--k {ev.k}; a submission has {DEFAULT_K})", highlight=False)
    steps = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in timings.items())
    console.print(f"wall time: {steps}; total {sum(timings.values()):.1f}s", highlight=False)
    return 0
