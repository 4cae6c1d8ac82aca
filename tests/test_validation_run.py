"""The validation split in runs: evaluate gives it to the models that need it (drawing it when
missing) and to no other, its fingerprint is part of their run key, `validate` scores a model on
it, and nothing a model fits on comes from the test split's ground truth."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from test_runner import write_mini_mpd
from typing_extensions import Self

import harness
from harness.atomic import read_json
from harness.challenge.challenge_set import load_challenge_set
from harness.challenge.split import VALIDATION_DIR, load_split, read_split_ref, validation_train_set
from harness.challenge.submission import write_submission
from harness.data.ingest import load_corpus
from harness.errors import HarnessError, UsageError
from harness.run.validate import validate
from models.base import IntArray, Queries, Recommender, TrainSet
from models.popular import PopularRecommender


class HoldoutPopular(Recommender):
    """Learns from the validation split: recommends the tracks held out most often there,
    then the most popular of the playlists it may fit on. Records what `fit` was given."""

    needs_validation: ClassVar[bool] = True
    cold_start: ClassVar[str] = "model"
    determinism_note: ClassVar[str] = "always: counts and a stable sort"

    def _fit(self, train: TrainSet) -> Self:
        v = train.validation
        assert v is not None, "a model that needs validation got none"
        fit_on = train.without_validation()
        held = np.bincount(v.holdout_ids, minlength=train.n_tracks)  # (n_tracks,)
        popular = np.bincount(fit_on.track_ids, minlength=train.n_tracks)
        # held-out counts first, popularity breaks ties; stable sort: lower id on equal keys
        self.order_ = np.lexsort((-popular, -held)).astype(np.int32)  # (n_tracks,)
        self.seen_ = {
            "n_playlists": train.n_playlists,
            "validation_pids": v.queries.pids.copy(),
            "fingerprint": v.fingerprint,
        }
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.full((len(queries), k), -1, dtype=np.int32)  # (n, k), -1 past the catalogue
        for i in range(len(queries)):
            row = self.order_[~np.isin(self.order_, queries.seeds(i))][:k]
            out[i, : len(row)] = row
        return out


class Spy(PopularRecommender):
    """`popular`, recording whether its training set carried a validation split."""

    def _fit(self, train: TrainSet) -> Self:
        self.saw_validation_ = train.validation is not None
        return super()._fit(train)


@pytest.fixture(scope="module")
def mini_mpd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_mpd(tmp_path_factory.mktemp("mpd") / "mini")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path


@contextmanager
def unreadable(path: Path) -> Iterator[None]:
    """`path` gone for the duration: any attempt to read it fails."""
    away = path.with_name(path.name + ".away")
    path.rename(away)
    try:
        yield
    finally:
        away.rename(path)


def hide_during(path: Path, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, run with `path` unreadable."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with unreadable(path):
            return fn(*args, **kwargs)

    return wrapped


def one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line on stderr (no traceback)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- the test ground truth


def test_fitting_on_the_validation_split_never_reads_the_test_ground_truth(
    in_tmp: Path, mini_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through evaluate: the validation split is loaded and the model fitted while the test
    split's ground_truth.json is gone; only scoring, afterwards, reads it."""
    import harness.run.evaluate as run_evaluate
    import harness.run.sources as sources
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--validation", "4"]) == 0
    gt = in_tmp / "sp" / "ground_truth.json"
    for module, name in ((sources, "ensure_validation"), (run_evaluate, "fit_with_progress")):
        monkeypatch.setattr(module, name, hide_during(gt, getattr(module, name)))
    model, spy = HoldoutPopular(), Spy()
    board = harness.evaluate(data=mini_mpd, models=[model, spy], split="sp", out="r")
    assert {m["name"] for m in board.models} == {"holdout_popular", "spy"}
    corpus = load_corpus(mini_mpd)
    test = load_split(in_tmp / "sp", corpus)
    seen = model.seen_
    assert seen["n_playlists"] == corpus.n_playlists - test.n_test  # no test playlist
    assert not np.isin(seen["validation_pids"], test.queries.pids).any()
    assert len(seen["validation_pids"]) == 40  # 4 per category, as `split` drew them
    assert spy.saw_validation_ is False  # a model that does not need it never sees it


def test_the_library_path_needs_no_test_ground_truth(in_tmp: Path, mini_mpd: Path) -> None:
    """Fit on the validation split, score there and answer the test queries with the test
    ground truth deleted; put back, it scores the submission the model wrote."""
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--validation", "4"]) == 0
    gt = in_tmp / "sp" / "ground_truth.json"
    kept = gt.read_bytes()
    gt.unlink()
    corpus = load_corpus(mini_mpd)
    train = validation_train_set(in_tmp / "sp", corpus)
    ref = read_split_ref(in_tmp / "sp", corpus)
    assert train.n_playlists == corpus.n_playlists - len(ref.test_idx)
    popular = validate(PopularRecommender(), train)
    assert popular.recs.shape == (40, 500) and popular.scores["overall"]["n"] == 40
    model = HoldoutPopular().fit(train)
    queries = load_challenge_set(in_tmp / "sp" / "challenge_set.json", corpus)
    recs = model.recommend(queries, 500)
    write_submission("m.csv.gz", queries.pids.tolist(), corpus.track_uris[recs], "t", "e@x.org")
    assert not gt.exists()
    gt.write_bytes(kept)
    scores = harness.score("m.csv.gz", in_tmp / "sp")
    assert scores["overall"]["n"] == len(ref.test_idx) and scores["overall"]["missing"] == 0


# ---------------------------------------------------------------- evaluate


def test_evaluate_draws_it_when_a_model_needs_it_and_keys_the_run_on_it(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    base = ["evaluate", "--mpd", str(mini_mpd), "--out", "r", "--models"]
    assert main([*base, "popular"]) == 0
    assert not (in_tmp / "r" / "split" / VALIDATION_DIR).exists()  # nobody needed it
    recs = (in_tmp / "r" / "popular" / "recs.npz").read_bytes()
    path = "test_validation_run:HoldoutPopular"
    assert main([*base, f"popular,{path}"]) == 0
    assert "popular: reusing" in capsys.readouterr().err  # its run key did not change
    vdir = in_tmp / "r" / "split" / VALIDATION_DIR
    vman = read_json(vdir / "manifest.json")
    assert vman["kind"] == "validation" and vman["n_test"] == 60  # the test split's 6 a category
    assert (
        vman["split_fingerprint"]
        == read_json(in_tmp / "r" / "split" / "manifest.json")["fingerprint"]
    )
    m = read_json(in_tmp / "r" / "holdout_popular" / "manifest.json")
    assert m["split"]["validation"]["fingerprint"] == vman["fingerprint"]
    assert m["seeds"]["validation"] == 0
    assert "validation" not in read_json(in_tmp / "r" / "popular" / "manifest.json")["split"]
    assert (in_tmp / "r" / "popular" / "recs.npz").read_bytes() == recs
    toml = (in_tmp / "r" / "experiment.toml").read_text()
    assert "validation = 6" in toml
    # another validation size: the model that learns from it is refitted, the other is not
    before = (in_tmp / "r" / "holdout_popular" / "manifest.json").stat().st_mtime_ns
    assert main([*base, f"popular,{path}", "--validation", "3"]) == 0
    err = capsys.readouterr().err
    assert "popular: reusing" in err and "holdout_popular: reusing" not in err
    m = read_json(in_tmp / "r" / "holdout_popular" / "manifest.json")
    assert m["split"]["validation"]["per_category"] == 3
    assert m["split"]["validation"]["fingerprint"] != vman["fingerprint"]
    assert (in_tmp / "r" / "holdout_popular" / "manifest.json").stat().st_mtime_ns != before
    assert (in_tmp / "r" / "popular" / "recs.npz").read_bytes() == recs


def test_a_named_split_keeps_its_validation_split(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--validation", "4"]) == 0
    path = "test_validation_run:HoldoutPopular"
    base = ["evaluate", "--mpd", str(mini_mpd), "--split", "sp", "--out", "r", "--models", path]
    assert main(base) == 0
    assert (
        read_json(in_tmp / "r" / "holdout_popular" / "manifest.json")["split"]["validation"][
            "per_category"
        ]
        == 4
    )
    capsys.readouterr()
    assert main([*base, "--validation", "5"]) == 2  # a folder named with --split is not redrawn
    assert one_error(capsys).endswith(
        "--split sp: its validation split has 4 playlists per category, not 5; use another "
        "folder or draw it again with `mpd-harness split --validation N`"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--validation", "0"], "--validation 0: must be at least 1"),
        (["--validation", "400"], "validation category 7 needs 400 playlists"),
    ],
)
def test_evaluate_bad_validation_size_is_one_line(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    from harness.cli import main

    assert main(["evaluate", "--mpd", str(mini_mpd), "--models", "popular", *argv]) == 2
    assert message in one_error(capsys)
    assert not (in_tmp / "runs" / "mini-s0" / "popular").exists()


def test_challenge_mode_has_no_validation_split(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp"]) == 0
    cs = str(in_tmp / "sp" / "challenge_set.json")
    argv = ["evaluate", "--mpd", str(mini_mpd), "--challenge-set", cs, "--models"]
    assert main([*argv, "test_validation_run:HoldoutPopular"]) == 2
    assert "no validation split in challenge mode" in one_error(capsys)


# ---------------------------------------------------------------- validate


def test_validate_scores_as_the_scorer_does(in_tmp: Path, mini_mpd: Path) -> None:
    """The in-memory validation scores equal `score`'s on the validation folder's files."""
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--validation", "4"]) == 0
    corpus = load_corpus(mini_mpd)
    train = validation_train_set(in_tmp / "sp", corpus)
    got = validate(PopularRecommender(), train, name="popular")
    assert train.validation is not None
    pids = train.validation.queries.pids.tolist()
    write_submission("v.csv.gz", pids, corpus.track_uris[got.recs], "t", "e@x.org")
    want = harness.score("v.csv.gz", in_tmp / "sp" / VALIDATION_DIR)
    for metric in ("r_precision", "ndcg", "clicks"):
        assert got.scores["overall"][metric] == pytest.approx(want["overall"][metric])
        assert got.scores["categories"]["8"][metric] == pytest.approx(
            want["categories"]["8"][metric]
        )
    with pytest.raises(UsageError, match="cannot be scored on it"):
        validate(HoldoutPopular(), train)
    with pytest.raises(UsageError, match="no validation split"):
        validate(PopularRecommender(), train.without_validation())


def test_split_folder_copy_keeps_its_validation(in_tmp: Path, mini_mpd: Path) -> None:
    """A copied split folder (validation inside) loads the same validation split."""
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--validation", "2"]) == 0
    shutil.copytree(in_tmp / "sp", in_tmp / "copy")
    corpus = load_corpus(mini_mpd)
    a = validation_train_set(in_tmp / "sp", corpus).validation
    b = validation_train_set(in_tmp / "copy", corpus).validation
    assert a is not None and b is not None and a.fingerprint == b.fingerprint


def test_the_contract_gives_a_model_that_needs_it_a_validation_split() -> None:
    from harness.run.contract import Subject, run_checks

    outcomes = list(run_checks(Subject("holdout_popular", lambda p: HoldoutPopular(**p))))
    failed = [f"{o.check.name}: {o.reason}" for o in outcomes if o.status != "pass"]
    assert not failed and len(outcomes) > 10


def test_generate_refits_a_model_with_the_runs_validation_split(
    in_tmp: Path, mini_mpd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import models
    from harness.cli import main
    from harness.run.generate import refit

    monkeypatch.setitem(models.MODELS, "holdout_popular", HoldoutPopular)
    base = ["evaluate", "--mpd", str(mini_mpd), "--out", "r", "--models", "holdout_popular"]
    assert main([*base, "--validation", "3"]) == 0
    fitted = refit(in_tmp / "r", "holdout_popular")
    assert fitted.train.validation is not None and len(fitted.train.validation.queries) == 30
    stored = read_json(in_tmp / "r" / "holdout_popular" / "manifest.json")
    assert fitted.model.seen_["fingerprint"] == stored["split"]["validation"]["fingerprint"]
    shutil.rmtree(in_tmp / "r" / "split" / VALIDATION_DIR)
    with pytest.raises(HarnessError, match="the run's split folder has none"):
        refit(in_tmp / "r", "holdout_popular")


def test_ensure_split_ref_reuses_a_split_without_its_ground_truth(
    in_tmp: Path, mini_mpd: Path
) -> None:
    """What tuning calls: a matching split folder is read without ground_truth.json; a missing
    one is drawn; the validation split is then drawn beside it."""
    from harness.run.sources import ensure_split_ref, ensure_validation

    corpus = load_corpus(mini_mpd)
    kw: dict[str, Any] = {"seed": 0, "per_category": None, "explicit": False}
    drawn = ensure_split_ref(corpus, in_tmp / "sp", **kw)
    (in_tmp / "sp" / "ground_truth.json").unlink()
    again = ensure_split_ref(corpus, in_tmp / "sp", **kw)
    assert again.fingerprint == drawn.fingerprint
    assert np.array_equal(again.test_idx, drawn.test_idx)
    v, info = ensure_validation(corpus, in_tmp / "sp", again, per_category=2, explicit=False)
    assert info["per_category"] == 2 and len(v.queries) == 20
    assert not np.isin(v.queries.pids, corpus.pids[drawn.test_idx]).any()
    with pytest.raises(UsageError, match="made with seed 0, not 1"):
        ensure_split_ref(corpus, in_tmp / "sp", **(kw | {"seed": 1, "explicit": True}))


def test_prepare_validation_is_evaluates_split_without_its_answers(
    in_tmp: Path, mini_mpd: Path
) -> None:
    """Tuning's entry point: the run folder and split evaluate would use, the validation split
    drawn beside it, the test ground truth never read (gone once the split exists)."""
    from harness.run.context import EvaluateSettings, prepare_validation

    settings = EvaluateSettings(mpd=mini_mpd, validation=3)
    first = prepare_validation(settings)
    assert first.run_dir == Path("runs/mini-s0") and first.validation["per_category"] == 3
    (first.run_dir / "split" / "ground_truth.json").unlink()
    ctx = prepare_validation(EvaluateSettings(mpd=mini_mpd))  # reuses the folder's validation
    assert ctx.validation == first.validation and ctx.split == first.split
    assert ctx.train.validation is not None and len(ctx.train.validation.queries) == 30
    got = validate(PopularRecommender(), ctx.train, track_uris=ctx.corpus.track_uris)
    assert got.scores["overall"]["n"] == 30 and 0 < got.scores["overall"]["r_precision"] < 1
    with pytest.raises(UsageError, match="no validation split in challenge mode"):
        prepare_validation(EvaluateSettings(mpd=mini_mpd, challenge_set=Path("cs.json")))
