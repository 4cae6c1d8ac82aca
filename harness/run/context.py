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
from harness.outputs import check_folder_target, mark
from harness.progress import SILENT, Reporter
from harness.run import rundir
from harness.run.lock import RunLock
from harness.run.manifest import RssSampler, file_sha256
from harness.run.sources import marker_seed, not_in_train, resolve_data, whole_train_set
from harness.run.submissions import (
    SUBMISSIONS_ROOT,
    check_submissions_owner,
    submissions_folder,
)
from harness.types import IntArray, Queries, TrainSet, Validation

if TYPE_CHECKING:
    from harness.data.corpus import Corpus
    from models.base import Recommender

DEFAULT_K = 500
MAX_K = 10_000  # recommendations per playlist: (n, k) int32 must fit memory at 10k playlists
RUNS_ROOT = Path("runs")
SCORE_ON = ("test", "validation")  # which split's held-out tracks a run is scored on


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
    # "validation": fit on the training playlists minus the validation ones and score on the
    # validation split, never reading the test split's ground truth (what `tune` scores)
    score_on: str = "test"
    team_format: str = "aicrowd"  # submission header generation: "aicrowd" or "2018"
    lenient: bool = False  # skip (and count) invalid playlists and unreadable slices, as split
    name: str | None = None  # the run's folder in the submissions root (default: RUN_DIR's name)
    submissions: Path | None = None  # the submissions root (default: ./submissions)


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
    team_format: str = "aicrowd"  # header of the submissions (harness.challenge.submission)
    # ground truth of the split, aligned with queries (None in challenge mode)
    gt_offsets: NDArray[np.int64] | None = None
    gt_tracks: IntArray | None = None
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per step
    lock: RunLock | None = field(default=None, repr=False)  # held until `close()`
    _ranking: IntArray | None = field(default=None, repr=False)
    _title: Recommender | None = field(default=None, repr=False)
    title_fit_s: float = 0.0
    # the validation split on `train.validation`: path, seed, fingerprint, per_category,
    # n_queries (None when the run has none)
    validation: dict[str, Any] | None = None

    def close(self) -> None:
        """Release the run folder's lock (harness/run/lock.py); `with ev:` does it too."""
        if self.lock is not None:
            self.lock.release()

    def __enter__(self) -> Evaluation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    seconds of each step go to `Evaluation.timings`. The run folder is locked (one evaluate at
    a time) until `Evaluation.close()` or the end of a `with ev:` block.

    The training set carries the split's validation split (`TrainSet.validation`) when the
    split folder has one, and one is drawn when `needs_validation` (a model of the run learns
    from it) or `settings.validation` asks for it; split mode only."""
    s = settings
    timings: dict[str, float] = {}
    check_settings(s)  # before the slow steps
    if s.score_on not in SCORE_ON:
        raise UsageError(f"--score-on {s.score_on!r}: choose one of {', '.join(SCORE_ON)}")
    if s.score_on == "validation" and s.challenge_set is not None:
        raise UsageError("--score-on validation: not with --challenge-set (it has no validation)")
    if s.challenge_set is not None and (needs_validation or s.validation is not None):
        raise UsageError(
            "--challenge-set: no validation split in challenge mode (the models train on the "
            "whole corpus); run models that need one (or --validation) on a split"
        )
    corpus, data, run_dir = _load(s, reporter, timings)
    root = Path(s.submissions) if s.submissions is not None else SUBMISSIONS_ROOT
    submissions_dir = submissions_folder(run_dir, root, s.name)
    check_submissions_owner(submissions_dir, run_dir)
    lock = RunLock(run_dir)  # one evaluate at a time per run folder
    try:
        mark(run_dir, "run")  # before the split goes in: the folder is the harness's from now on
        with timed(timings, "split_s"):
            if s.challenge_set is not None:
                parts = _challenge_parts(corpus, Path(s.challenge_set), reporter)
            elif s.score_on == "validation":
                parts = _validation_parts(corpus, s, run_dir, reporter)
            else:
                parts = _split_parts(corpus, s, run_dir, reporter, needs_validation)
    except BaseException:
        lock.release()
        raise
    parts["split"] |= rundir.located(Path(parts["split"]["path"]), run_dir)
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
        team_format=s.team_format,
        timings=timings,
        lock=lock,
        **parts,
    )


def _load(
    s: EvaluateSettings, reporter: Reporter, timings: dict[str, float]
) -> tuple[Corpus, dict[str, Any], Path]:
    """(corpus, what run.json says of the data, run folder) of the settings; the run folder is
    checked to be a new, empty or earlier run folder (harness/outputs.py)."""
    from harness.data.ingest import load_corpus

    with timed(timings, "data_s"):
        source = resolve_data(s.mpd, s.synthetic, s.data_seed, reporter)
    with timed(timings, "corpus_s"):
        corpus = load_corpus(
            source.path, cache_dir=s.cache_dir, lenient=s.lenient, reporter=reporter
        )
    data = _data_entry(s, source, corpus)
    name = s.name or run_name(s, source.name, data)
    run_dir = Path(s.out) if s.out is not None else RUNS_ROOT / name
    data |= rundir.located(source.path, run_dir)  # absolute, and relative to the run folder
    check_run_target(run_dir)
    return corpus, data, run_dir


def check_settings(s: EvaluateSettings) -> None:
    """What can be refused before any data is read: k, the submission header, the --name, and
    targets that are not the harness's."""
    from harness.challenge.submission import FORMATS, team_info_line

    if not 1 <= s.k <= MAX_K:
        raise UsageError(f"--k {s.k}: must be between 1 and {MAX_K:,} (submissions need 500)")
    if s.team_format not in FORMATS:
        raise UsageError(f"--team-format {s.team_format!r}: one of {', '.join(FORMATS)}")
    try:  # before any model runs: the submission header is written after the fits
        team_info_line(s.team, s.email, s.team_format)
    except ValueError as e:
        raise UsageError(f"--team/--email: {e}") from None
    if s.name is not None:
        submissions_folder(Path("."), SUBMISSIONS_ROOT, s.name)  # a safe folder name
    if s.out is not None:
        check_run_target(Path(s.out))
    if s.split is not None:
        from harness.challenge.split import check_split_target

        check_split_target(Path(s.split))


def _data_entry(s: EvaluateSettings, source: Any, corpus: Corpus) -> dict[str, Any]:
    """run.json's `data`: name, path, fingerprint, synthetic label, seed and sizes."""
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
    if s.lenient:  # what was left out is part of what the run is
        data["lenient"] = True
        data["skipped"] = corpus.source.get("skipped", 0)
    return data


def check_run_target(run_dir: Path) -> None:
    """Refuse a run folder that holds something else than an earlier run (harness/outputs.py)."""
    check_folder_target(
        run_dir,
        "run",
        legacy=lambda p: isinstance(_run_json(p), dict),
        hint="give evaluate another --out (a new or empty folder, or an earlier run folder)",
    )


def _run_json(folder: Path) -> Any:
    """RUN_DIR/run.json of a run written before the `.mpd-harness` marker (None: not one)."""
    from harness.atomic import read_json

    try:
        doc = read_json(folder / "run.json")
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "mode" in doc else None


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

    s = settings
    if s.challenge_set is not None:
        raise UsageError("--challenge-set: no validation split in challenge mode")
    check_settings(s)
    corpus, data, run_dir = _load(s, reporter, {})
    train, split, info = _with_validation(corpus, s, run_dir, reporter)
    return ValidationContext(corpus, train, data, split, info, run_dir)


def _with_validation(
    corpus: Corpus, s: EvaluateSettings, run_dir: Path, reporter: Reporter
) -> tuple[TrainSet, dict[str, Any], dict[str, Any]]:
    """(training set with its validation split, the test split, the validation split) of the
    split folder, the test split read without its ground truth."""
    from harness.challenge.split import train_without
    from harness.run.sources import ensure_split_ref, ensure_validation

    split_dir = Path(s.split) if s.split is not None else run_dir / "split"
    if s.split is None:
        mark(run_dir, "run")  # the split it may draw there makes the folder the harness's
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
    return replace(train_without(corpus, ref.test_idx), validation=v), split, info


def run_name(s: EvaluateSettings, source_name: str, data: dict[str, Any]) -> str:
    """The default run folder's name: the synthetic name holds the data seed already (and the
    split seed where it differs); a real MPD gets one run folder per split seed."""
    if s.challenge_set is not None:
        return f"{source_name}-challenge"
    tail = "-validation" if s.score_on == "validation" else ""
    if data.get("preset") is None:
        return f"{source_name}-s{s.split_seed}{tail}"
    name = source_name if s.split_seed == s.data_seed else f"{source_name}-split{s.split_seed}"
    return name + tail


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


def _validation_parts(
    corpus: Corpus, s: EvaluateSettings, run_dir: Path, reporter: Reporter
) -> dict[str, Any]:
    """Scoring on the validation split (`--score-on validation`): the models fit on the training
    playlists minus the validation ones and answer the validation queries; the test split's
    ground truth stays unread (`_with_validation`). `split` describes the validation split,
    with the test split it was drawn from under `test_split`."""
    from harness.challenge.split import VALIDATION_DIR

    train, test_split, info = _with_validation(corpus, s, run_dir, reporter)
    v = train.validation
    assert v is not None
    return dict(
        queries=v.queries,
        train=train.without_validation(),
        split=info | {"scored_on": "validation", "test_split": test_split},
        challenge_path=Path(test_split["path"]) / VALIDATION_DIR / "challenge_set.json",
        gt_offsets=v.holdout_offsets,
        gt_tracks=v.holdout_ids,
    )


def start_run(ev: Evaluation, models: Sequence[str] = ()) -> None:
    """`RUN_DIR/run.json`: what every model of the run shares and the names of the models this
    evaluate runs (so leaderboard and report can say which have not finished)."""
    where = {"name": ev.submissions_dir.name} | rundir.located(ev.submissions_dir, ev.run_dir)
    rundir.write_run(
        ev.run_dir,
        mode=ev.mode,
        k=ev.k,
        data=ev.data,
        split=ev.split,
        models=list(models),
        submissions=where,
    )
