"""The runs a server shows, and what it has loaded of each.

Only `run.json` is read at start. Everything else is read on the first request that needs it and
kept: per run the leaderboard (aggregates, bootstrap CIs, paired tests), the split and each
model's `recs.npz`; per data fingerprint the corpus and its track search index (runs on the same
data share them); and up to `max_fitted` refitted models for generation (the least recently used
is dropped first: a fitted model can be large). A lock per item makes concurrent requests wait
for one load instead of repeating it. `warm()` loads everything but the fitted models up front,
so that pages answer quickly from the first request.

All reading goes through the run and report packages (`harness.run.rundir`,
`harness.report.leaderboard`, `harness.run.generate`); nothing here writes a file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError, UsageError
from harness.progress import SILENT, Reporter
from harness.serve.errors import NotFound
from harness.serve.search import TrackSearch
from harness.types import IntArray

if TYPE_CHECKING:
    from harness.challenge.split import Split
    from harness.data.corpus import Corpus
    from harness.report.leaderboard import Leaderboard
    from harness.run.generate import Fitted

RUNS_ROOT = Path("runs")  # where `serve` looks when no RUN_DIR is given
DEFAULT_MAX_FITTED = 2
T = TypeVar("T")


@dataclass(frozen=True)
class RunInfo:
    """One run folder as served: its URL name, its path and its run.json."""

    name: str
    path: Path
    run: dict[str, Any]

    @property
    def synthetic(self) -> bool:
        return bool(self.run.get("data", {}).get("synthetic"))

    @property
    def scored(self) -> bool:
        """Scored against a split of its own (not a challenge-set run without ground truth)."""
        return self.run.get("mode") == "split"


@dataclass(frozen=True)
class ModelRecs:
    """One model's stored recommendations, with a pid -> row index."""

    recs: IntArray  # (n_queries, k) track ids, best first; -1 never stored (backfilled)
    backfilled: NDArray[np.int32]  # (n_queries,) slots filled with popular tracks
    row: dict[int, int]


@dataclass(frozen=True)
class TestSet:
    """The test playlists of a run's split, indexed for lookup and title search."""

    split: Split
    row: dict[int, int]  # pid -> row (split order)
    names: list[str]  # each playlist's title as in the corpus (models may not see it)
    normalized: list[str]  # the same, normalised like the MPD's stats (for search)


@dataclass(frozen=True)
class Generator:
    """A model refitted for generation, and how the refit compares with the stored run."""

    fitted: Fitted
    check: tuple[int, int] | None  # (identical rows, rows compared); None: not comparable


def find_runs(paths: Sequence[Path]) -> list[Path]:
    """The run folders to serve: those given, else every folder with a run.json under runs/."""
    if paths:
        for p in paths:
            if not (Path(p) / "run.json").is_file():
                raise UsageError(f"{p}: not a run folder (no run.json); give folders of evaluate")
        return [Path(p) for p in paths]
    found = sorted(d for d in RUNS_ROOT.glob("*") if (d / "run.json").is_file())
    if not found:
        raise UsageError(f"no RUN_DIR given and no run folder (with run.json) under {RUNS_ROOT}/")
    return found


def _unique_names(paths: Sequence[Path]) -> dict[str, Path]:
    """URL name -> folder: the folder's name, with -2, -3 ... where two folders share one."""
    out: dict[str, Path] = {}
    for p in paths:
        name, n = p.resolve().name, 1
        while name in out:
            n += 1
            name = f"{p.resolve().name}-{n}"
        out[name] = p
    return out


class _Once:
    """Values made once per key, with a lock per key (a failed make is not kept)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}

    def get(self, key: Any, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                return self._values[key]  # type: ignore[no-any-return]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]  # type: ignore[no-any-return]
            value = make()
            with self._lock:
                self._values[key] = value
            return value


class Store:
    """The served runs and their lazily loaded parts (thread-safe; see the module docstring)."""

    def __init__(
        self,
        run_dirs: Sequence[Path],
        *,
        cache_dir: Path | None = None,
        max_fitted: int = DEFAULT_MAX_FITTED,
    ) -> None:
        from harness.atomic import read_json

        self.cache_dir = cache_dir
        self.max_fitted = max_fitted
        self.runs: dict[str, RunInfo] = {}
        for name, path in _unique_names(run_dirs).items():
            run = read_json(path / "run.json")
            if not isinstance(run, dict) or "data" not in run:
                raise UsageError(f"{path / 'run.json'}: not a run.json written by evaluate")
            self.runs[name] = RunInfo(name, path, run)
        self._once = _Once()
        self._fit_lock = threading.Lock()
        self._fit_locks: dict[tuple[str, str], threading.Lock] = {}
        self._fitted: OrderedDict[tuple[str, str], Generator] = OrderedDict()

    def memo(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """`make()` once per key, kept (rendered charts)."""
        return self._once.get(("memo", *key), make)

    # ------------------------------------------------------------------ lookups

    def info(self, name: str) -> RunInfo:
        if name not in self.runs:
            raise NotFound(f"unknown run {name!r}; runs served: {', '.join(self.runs) or 'none'}")
        return self.runs[name]

    def scored(self, name: str, what: str) -> RunInfo:
        """The run, which must have ground truth for `what` (a leaderboard, playlists ...)."""
        info = self.info(name)
        if not info.scored:
            raise NotFound(f"run {name!r} answers a challenge set without ground truth: no {what}")
        return info

    def leaderboard(self, name: str) -> Leaderboard:
        from harness.report.leaderboard import build

        info = self.scored(name, "leaderboard")
        return self._once.get(("board", name), lambda: build(info.path))

    def model_names(self, name: str) -> list[str]:
        """The models (and external submissions) on the run's leaderboard, best first."""
        return [e["name"] for e in self.leaderboard(name).models]

    def check_model(self, name: str, model: str, choices: Sequence[str]) -> None:
        if model not in choices:
            raise NotFound(
                f"unknown model {model!r} in run {name!r}; models: {', '.join(choices) or 'none'}"
            )

    def corpus(self, name: str) -> Corpus:
        info = self.info(name)
        data = info.run["data"]
        return self._once.get(("corpus", data.get("fingerprint")), lambda: self._load(info))

    def _load(self, info: RunInfo) -> Corpus:
        from harness.data.ingest import load_corpus

        data = info.run["data"]
        path = Path(str(data.get("path")))
        if not path.exists():
            raise HarnessError(
                f"data {path} of run {info.path} not found (paths in run.json are relative to the "
                "folder evaluate ran in; start the server there)"
            )
        corpus = load_corpus(path, cache_dir=self.cache_dir)
        if corpus.source.get("fingerprint") != data.get("fingerprint"):
            raise HarnessError(
                f"{path}: corpus fingerprint {corpus.source.get('fingerprint')} differs from run "
                f"{info.path}'s {data.get('fingerprint')}: the data changed since the run"
            )
        return corpus

    def tests(self, name: str) -> TestSet:
        info = self.scored(name, "test playlists")
        return self._once.get(("tests", name), lambda: self._load_tests(info))

    def _load_tests(self, info: RunInfo) -> TestSet:
        from harness.challenge.split import load_split
        from harness.data.corpus import normalize_name
        from harness.run.rundir import resolve_split_dir

        corpus = self.corpus(info.name)
        split = load_split(resolve_split_dir(info.path, info.run["split"]), corpus)
        names = [str(n) for n in corpus.names[split.test_idx]]
        row = {int(p): i for i, p in enumerate(split.queries.pids.tolist())}
        return TestSet(split, row, names, [normalize_name(n) for n in names])

    def recs(self, name: str, model: str) -> ModelRecs:
        from harness.run.rundir import read_recs

        info = self.scored(name, "recommendations")
        self.check_model(name, model, self.model_names(name))

        def load() -> ModelRecs:
            pids, recs, backfilled = read_recs(info.path / model / "recs.npz")
            return ModelRecs(recs, backfilled, {int(p): i for i, p in enumerate(pids.tolist())})

        return self._once.get(("recs", name, model), load)

    def search(self, name: str) -> TrackSearch:
        info = self.info(name)
        key = ("search", info.run["data"].get("fingerprint"))
        return self._once.get(key, lambda: TrackSearch(self.corpus(name)))

    # ------------------------------------------------------------------ generation

    def generator_models(self, name: str) -> list[str]:
        """Models of the run that can be refitted: complete runs that are not external files."""
        from harness.run.rundir import is_external, model_runs

        info = self.info(name)
        return self._once.get(
            ("generators", name),
            lambda: [m["model"] for _, m in model_runs(info.path) if not is_external(m)],
        )

    def generator(self, name: str, model: str) -> Generator:
        """Model `model` of run `name` refitted on the run's training data (kept, LRU)."""
        self.check_model(name, model, self.generator_models(name))
        key = (name, model)
        with self._fit_lock:
            lock = self._fit_locks.setdefault(key, threading.Lock())
        with lock:
            with self._fit_lock:
                if key in self._fitted:
                    self._fitted.move_to_end(key)
                    return self._fitted[key]
            made = self._refit(name, model)
            with self._fit_lock:
                self._fitted[key] = made
                while len(self._fitted) > self.max_fitted:
                    self._fitted.popitem(last=False)
            return made

    def _refit(self, name: str, model: str) -> Generator:
        from harness.run.generate import check_refit, refit

        info = self.info(name)
        split = self.tests(name).split if info.scored else None
        fitted = refit(info.path, model, corpus=self.corpus(name), split=split)
        check = None
        if fitted.split is not None and fitted.repeatable:
            check = check_refit(fitted, info.path)
        return Generator(fitted, check)

    # ------------------------------------------------------------------ start-up

    def warm(self, reporter: Reporter = SILENT) -> list[str]:
        """Load every run's leaderboard, corpus, split, recommendations and search index now.

        Returns the runs that loaded. A run that cannot be loaded (its data moved, a file
        broken) is named in a warning and left out of the list; its pages answer with the same
        error, the other runs are served.
        """
        ready = []
        for name, info in self.runs.items():
            try:
                with reporter.step(f"loading run {name}", total=None):
                    self.corpus(name)
                    self.search(name)
                    if info.scored:
                        self.leaderboard(name)
                        self.tests(name)
                        for model in self.model_names(name):
                            self.recs(name, model)
            except HarnessError as e:
                reporter.warn(f"run {name}: {e}; its pages will answer with this error")
                continue
            ready.append(name)
        return ready
