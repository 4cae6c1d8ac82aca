"""The public Python API: the pipeline as four calls, for notebooks and scripts.

    import harness
    corpus = harness.load("path/to/mpd")            # or "synthetic:tiny", "synthetic:default"
    split = harness.make_split(corpus, seed=0, per_category=None)
    board = harness.evaluate(data="synthetic:tiny", models=["popular", "knn", MyModel()],
                             out="runs/x", split_seed=0)
    board.to_pandas()
    harness.score("submission.csv.gz", "split_dir")  # the dict `score --json` prints

The functions are thin: each composes the stage packages the CLI uses, with the same files and
defaults, so a run made here and one made by `mpd-harness evaluate` are interchangeable. They
print nothing; pass a `harness.progress.Reporter` to see progress.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.progress import SILENT, Reporter

if TYPE_CHECKING:
    from harness.challenge.split import Split
    from harness.data.corpus import Corpus
    from harness.report.leaderboard import Leaderboard
    from models.base import Recommender

PathLike = str | os.PathLike[str]


def load(
    source: PathLike,
    *,
    seed: int = 0,
    cache_dir: PathLike | None = None,
    reporter: Reporter = SILENT,
) -> Corpus:
    """The corpus of an MPD (folder of slices, one slice, or the zip) or of a synthetic preset.

    `source` is a path, or `"synthetic:<preset>"` (tiny, default, large, full): generated once
    under `data/synthetic/<preset>-s<seed>/` and read through the same code as real slices.
    """
    from harness.data.ingest import load_corpus
    from harness.run.sources import parse_data, resolve_data

    mpd, preset = parse_data(source)
    data = resolve_data(mpd, preset, seed, reporter)
    cache = Path(cache_dir) if cache_dir is not None else None
    return load_corpus(data.path, cache_dir=cache, reporter=reporter)


def make_split(
    corpus: Corpus,
    seed: int = 0,
    per_category: int | None = None,
    coverage: str = "best-effort",
) -> Split:
    """The ten-category challenge split of `corpus` (a pure function of its arguments).

    `per_category=None`: min(1000, n_playlists // 200) test playlists per category.
    """
    from harness.challenge.split import make_split as draw

    return draw(corpus, seed=seed, per_category=per_category, coverage=coverage)


def evaluate(
    data: PathLike = "synthetic:default",
    models: Sequence[str | Recommender] | None = None,
    out: PathLike | None = None,
    *,
    split_seed: int = 0,
    data_seed: int = 0,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    per_category: int | None = None,
    coverage: str = "best-effort",
    split: PathLike | None = None,
    force: bool = False,
    cache_dir: PathLike | None = None,
    k: int = 500,
    validation: int | None = None,
    reporter: Reporter = SILENT,
) -> Leaderboard:
    """Fit and score `models` on a split of `data`; write the run folder and submissions.

    `models`: registered names (`"knn"`), `"module:Class"` paths and `Recommender` instances,
    in any mix (default: every registered model). `params`: `{"knn": {"k_neighbors": 200}}` for
    models given by name or path. Runs already in `out` with the same key are reused unless
    `force`. `validation`: playlists per category of the validation split (drawn from the
    training playlists into SPLIT_DIR/validation/; default: the split's own, or the test
    split's size when a model needs one). Returns the leaderboard of the run folder (also
    written there as json, md, csv). The run's resolved configuration goes to `RUN_DIR/experiment.toml` (docs/experiments.md).
    """
    from harness.report.leaderboard import build, write
    from harness.run.evaluate import (
        EvaluateSettings,
        needs_validation,
        prepare,
        run_models,
        start_run,
    )
    from harness.run.experiment import record
    from harness.run.factory import build_models
    from harness.run.sources import parse_data

    mpd, preset = parse_data(data)
    specs: Sequence[str | Recommender] = list(models) if models is not None else _registered()
    built = build_models(specs, {str(m): dict(p) for m, p in (params or {}).items()})
    settings = EvaluateSettings(
        mpd=mpd,
        synthetic=preset,
        data_seed=data_seed,
        split_seed=split_seed,
        split=Path(split) if split is not None else None,
        per_category=per_category,
        coverage=coverage,
        out=Path(out) if out is not None else None,
        cache_dir=Path(cache_dir) if cache_dir is not None else None,
        k=k,
        validation=validation,
    )
    needs = any(needs_validation(model) for _, model in built)
    with prepare(settings, reporter, needs_validation=needs) as ev:  # locked until the end
        record(ev, settings, specs, built, force)  # RUN_DIR/experiment.toml, as the CLI does
        start_run(ev, [name for name, _ in built])
        given = [
            name for (name, _), spec in zip(built, specs, strict=True) if not isinstance(spec, str)
        ]
        for _ in run_models(ev, built, force=force, keep=given):  # instances stay fitted
            pass
        board = build(ev.run_dir)
        write(board, ev.run_dir)
    return board


def score(
    submission: PathLike, split_dir: PathLike, *, verify: bool = True, reporter: Reporter = SILENT
) -> dict[str, Any]:
    """Scores of a challenge-format submission on a split folder: exactly the dict that
    `mpd-harness score SUBMISSION --split SPLIT_DIR --json` prints (overall and per category).

    `verify=False` scores a file the verifier refuses (absent playlists count as missing).
    """
    from harness.challenge.scoring import score as score_file

    return score_file(Path(submission), Path(split_dir), verify=verify, reporter=reporter)


def _registered() -> list[str]:
    from models import MODELS

    return list(MODELS)
