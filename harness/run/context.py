"""The context of one evaluate run: its typed settings, and everything its models share (data,
corpus, split or challenge set, training set, queries, run folder), prepared once.

`prepare(settings, reporter)` resolves the data (harness/run/sources.py), loads the corpus,
reuses or draws the split (and the validation split a model needs), and names the run folder;
`start_run` writes `run.json`. `prepare_validation(settings)` prepares the same data and split
folder for fitting and scoring on the validation split alone, never reading the test answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.errors import UsageError
from harness.progress import SILENT, Reporter
from harness.run import rundir
from harness.run.manifest import RssSampler, file_sha256
from harness.run.sources import marker_seed, not_in_train, resolve_data, whole_train_set
from harness.run.submissions import check_submissions_owner, submissions_folder
from harness.types import IntArray, Queries, TrainSet, Validation

if TYPE_CHECKING:
    from harness.data.corpus import Corpus
    from models.base import Recommender

DEFAULT_K = 500
RUNS_ROOT = Path("runs")


@dataclass(frozen=True)
class EvaluateSettings:
    """Everything `evaluate` needs besides the models (the command's flags, typed).

    `data_seed` seeds the synthetic MPD, `split_seed` the split (`--seed` sets both).
    """

    mpd: Path | None = None
    synthetic: str | None = None  # preset; the default preset when `mpd` is None too
    data_seed: int = 0
    split_seed: int = 0
    split: Path | None = None  # split folder to reuse or create (default RUN_DIR/split)
    per_category: int | None = None
    coverage: str = "best-effort"
    out: Path | None = None  # run folder (default runs/<data name>...)
    challenge_set: Path | None = None  # official challenge_set.json: submissions only
    cache_dir: Path | None = None
    team: str = "mpd-harness"
    email: str = "mpd-harness@example.com"
    k: int = DEFAULT_K
    # validation playlists per category (SPLIT_DIR/validation/, drawn from the training
    # playlists only): None keeps the split's own, or draws one of the test split's size when
    # a model needs it (`needs_validation`); a number draws that size whether or not one does
    validation: int | None = None


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
    reporter: Reporter = SILENT
    # ground truth of the split, aligned with queries (None in challenge mode)
    gt_offsets: NDArray[np.int64] | None = None
    gt_tracks: IntArray | None = None
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per step
    _ranking: IntArray | None = field(default=None, repr=False)
    _title: Recommender | None = field(default=None, repr=False)
    title_fit_s: float = 0.0
    # the validation split on `train.validation`: path, seed, fingerprint, per_category,
    # n_queries (None when the run has none)
    validation: dict[str, Any] | None = None

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


@contextmanager
def timed(stages: dict[str, float], name: str) -> Iterator[None]:
    """Add the block's wall seconds to `stages[name]`."""
    t0 = time.perf_counter()
    yield
    stages[name] = round(stages.get(name, 0.0) + time.perf_counter() - t0, 3)


# ---------------------------------------------------------------------------- preparing a run


def prepare(
    settings: EvaluateSettings, reporter: Reporter = SILENT, *, needs_validation: bool = False
) -> Evaluation:
    """Data, corpus, split (or challenge set), train set and queries for this run; the wall
    seconds of each step go to `Evaluation.timings`.

    The training set carries the split's validation split (`TrainSet.validation`) when the
    split folder has one, and one is drawn when `needs_validation` (a model of the run learns
    from it) or `settings.validation` asks for it; split mode only."""
    s = settings
    timings: dict[str, float] = {}
    if s.k < 1:
        raise UsageError(f"--k {s.k}: must be at least 1")
    if s.challenge_set is not None and (needs_validation or s.validation is not None):
        raise UsageError(
            "--challenge-set: no validation split in challenge mode (the models train on the "
            "whole corpus); run models that need one (or --validation) on a split"
        )
    corpus, data, run_dir = _load(s, reporter, timings)
    submissions_dir = submissions_folder(run_dir)
    check_submissions_owner(submissions_dir, run_dir)
    with timed(timings, "split_s"):
        if s.challenge_set is not None:
            parts = _challenge_parts(corpus, Path(s.challenge_set), reporter)
        else:
            parts = _split_parts(corpus, s, run_dir, reporter, needs_validation)
    return Evaluation(
        corpus=corpus,
        run_dir=run_dir,
        submissions_dir=submissions_dir,
        data=data,
        mode="challenge" if s.challenge_set is not None else "split",
        k=s.k,
        team=s.team,
        email=s.email,
        reporter=reporter,
        timings=timings,
        **parts,
    )


def _load(
    s: EvaluateSettings, reporter: Reporter, timings: dict[str, float]
) -> tuple[Corpus, dict[str, Any], Path]:
    """(corpus, what run.json says of the data, run folder) of the settings."""
    from harness.data.ingest import load_corpus

    if s.split is not None:
        from harness.challenge.split import check_split_target

        check_split_target(Path(s.split))  # before the slow steps
    with timed(timings, "data_s"):
        source = resolve_data(s.mpd, s.synthetic, s.data_seed, reporter)
    with timed(timings, "corpus_s"):
        corpus = load_corpus(source.path, cache_dir=s.cache_dir, reporter=reporter)
    data = {
        "name": source.name,
        "path": str(source.path),
        "fingerprint": corpus.source.get("fingerprint"),
        # slices that say `"synthetic": true` in their info are labelled so, however given
        "synthetic": source.synthetic or bool(corpus.source.get("synthetic")),
        "preset": source.preset,
        "seed": source.seed if source.seed is not None else marker_seed(source.path),
        "n_playlists": corpus.n_playlists,
        "n_tracks": corpus.n_tracks,
    }
    run_dir = Path(s.out) if s.out is not None else RUNS_ROOT / run_name(s, source.name, data)
    return corpus, data, run_dir


@dataclass(frozen=True)
class ValidationContext:
    """What fitting and scoring on the validation split may see: no test query, no test answer."""

    corpus: Corpus
    train: TrainSet  # the training playlists, `train.validation` set
    data: dict[str, Any]  # as in run.json
    split: dict[str, Any]  # the test split: path, seed, fingerprint, per_category, coverage
    validation: dict[str, Any]  # path, seed, fingerprint, per_category, coverage, n_queries
    run_dir: Path  # the run folder evaluate would use with these settings


def prepare_validation(
    settings: EvaluateSettings, reporter: Reporter = SILENT
) -> ValidationContext:
    """The data, corpus and training set with its validation split for `settings`, as
    `evaluate` would prepare them (the same run and split folder), without reading the test
    split's ground truth: a matching split folder is read without it (`ensure_split_ref`), a
    missing one drawn; the validation split is reused, or drawn at `settings.validation` per
    category (default: the folder's own, else the test split's size). For tuning."""
    from harness.challenge.split import train_without
    from harness.run.sources import ensure_split_ref, ensure_validation

    s = settings
    if s.challenge_set is not None:
        raise UsageError("--challenge-set: no validation split in challenge mode")
    corpus, data, run_dir = _load(s, reporter, {})
    split_dir = Path(s.split) if s.split is not None else run_dir / "split"
    explicit = s.split is not None
    ref = ensure_split_ref(
        corpus,
        split_dir,
        seed=s.split_seed,
        per_category=s.per_category,
        coverage=s.coverage,
        explicit=explicit,
        reporter=reporter,
    )
    v, info = ensure_validation(
        corpus, split_dir, ref, per_category=s.validation, explicit=explicit, reporter=reporter
    )
    split = {"path": str(split_dir), "seed": ref.seed, "fingerprint": ref.fingerprint}
    split |= {k: ref.settings.get(k) for k in ("per_category", "coverage")}
    train = replace(train_without(corpus, ref.test_idx), validation=v)
    return ValidationContext(corpus, train, data, split, info, run_dir)


def run_name(s: EvaluateSettings, source_name: str, data: dict[str, Any]) -> str:
    """The default run folder's name: the synthetic name holds the data seed already (and the
    split seed where it differs); a real MPD gets one run folder per split seed."""
    if s.challenge_set is not None:
        return f"{source_name}-challenge"
    if data.get("preset") is None:
        return f"{source_name}-s{s.split_seed}"
    return source_name if s.split_seed == s.data_seed else f"{source_name}-split{s.split_seed}"


def _challenge_parts(corpus: Corpus, path: Path, reporter: Reporter) -> dict[str, Any]:
    """Queries of the official challenge set; training on the whole corpus."""
    from harness.challenge.challenge_set import load_challenge_set

    if not path.exists():
        raise UsageError(f"--challenge-set {path}: no such file")
    cq = load_challenge_set(path, corpus)
    if cq.unknown_seeds:
        reporter.note(
            f"challenge set: {cq.unknown_seeds} seed track(s) of "
            f"{int((cq.n_unknown > 0).sum())} playlist(s) are not in the MPD and were "
            "dropped from the queries (run.json: unknown_seeds)"
        )
    split = {
        "path": str(path),
        "fingerprint": file_sha256(path),
        "n_queries": len(cq),
        "unknown_seeds": cq.unknown_seeds,
    }
    return dict(queries=cq, train=whole_train_set(corpus), split=split, challenge_path=path)


def _split_parts(
    corpus: Corpus, s: EvaluateSettings, run_dir: Path, reporter: Reporter, needs_validation: bool
) -> dict[str, Any]:
    """Queries, training set and ground truth of the split (reused or drawn), the training set
    with the split's validation split when it has one or one is asked for."""
    from harness.challenge.split import train_set
    from harness.run.sources import ensure_split, ensure_validation, existing_validation

    split_dir = Path(s.split) if s.split is not None else run_dir / "split"
    sp = ensure_split(
        corpus,
        split_dir,
        seed=s.split_seed,
        per_category=s.per_category,
        coverage=s.coverage,
        explicit=s.split is not None,
        reporter=reporter,
    )
    split = {
        "path": str(split_dir),
        "seed": sp.seed,
        "fingerprint": sp.fingerprint,
        "n_queries": len(sp.queries),
        "per_category": sp.settings.get("per_category"),
        "method": sp.settings.get("method"),
        "coverage": sp.settings.get("coverage"),
        "not_in_train": not_in_train(sp),
    }
    train = train_set(corpus, sp)
    found: tuple[Validation, dict[str, Any]] | None
    if needs_validation or s.validation is not None:
        found = ensure_validation(
            corpus,
            split_dir,
            sp,
            per_category=s.validation,
            explicit=s.split is not None,
            reporter=reporter,
        )
    else:  # a validation split the folder has comes along; nothing draws one
        found = existing_validation(corpus, split_dir, sp, reporter)
    validation = None
    if found is not None:
        train = replace(train, validation=found[0])
        validation = found[1]
    return dict(
        queries=sp.queries,
        train=train,
        validation=validation,
        split=split,
        challenge_path=split_dir / "challenge_set.json",
        gt_offsets=sp.holdout_offsets,
        gt_tracks=sp.holdout_ids,
    )


def start_run(ev: Evaluation, models: Sequence[str] = ()) -> None:
    """`RUN_DIR/run.json`: what every model of the run shares and the names of the models this
    evaluate runs (so leaderboard and report can say which have not finished)."""
    rundir.write_run(
        ev.run_dir, mode=ev.mode, k=ev.k, data=ev.data, split=ev.split, models=list(models)
    )
