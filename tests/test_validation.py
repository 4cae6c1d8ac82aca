"""The validation split: drawn from the training playlists only, written beside the test split
without changing it, read back as `TrainSet.validation`, and given by the runner only to the
models that learn from it."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_split import random_corpus

from harness.atomic import read_json
from harness.challenge.split import (
    CATEGORIES,
    FILE_ORDER,
    VALIDATION_DIR,
    Split,
    load_split,
    load_validation,
    make_split,
    make_validation,
    train_catalogue,
    train_set,
    validation_train_set,
    write_split,
    write_validation,
)
from harness.challenge.submission import write_submission
from harness.data.corpus import Corpus
from harness.errors import HarnessError, UsageError


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return random_corpus(4000, seed=1, private_every=7)


@pytest.fixture(scope="module")
def split(corpus: Corpus) -> Split:
    return make_split(corpus, seed=0, coverage="official")


@pytest.fixture(scope="module")
def validation(corpus: Corpus, split: Split) -> Split:
    return make_validation(corpus, split, per_category=15)


@pytest.fixture(scope="module")
def split_dir(
    split: Split, validation: Split, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    d = tmp_path_factory.mktemp("split") / "s0"
    write_split(split, corpus, d)
    write_validation(validation, split, corpus, d)
    return d


def digests(d: Path) -> dict[str, str]:
    """sha256 of every file directly in `d` (not in subfolders)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir() if p.is_file()}


# ---------------------------------------------------------------- the draw


def test_drawn_from_training_playlists_only(
    corpus: Corpus, split: Split, validation: Split
) -> None:
    assert validation.n_test == 150
    assert not np.isin(validation.test_idx, split.test_idx).any()
    assert len(np.unique(validation.test_idx)) == 150
    assert validation.of_split == split.fingerprint and validation.fingerprint != split.fingerprint
    assert validation.settings["coverage"] == "official"  # the test split's rule by default


def test_same_categories_and_rules(corpus: Corpus, validation: Split) -> None:
    q = validation.queries
    lengths = corpus.lengths[validation.test_idx]
    n_seeds = np.diff(q.seed_offsets)
    assert [int(c) for c in q.categories[::15]] == list(FILE_ORDER)
    for number, c in CATEGORIES.items():
        sel = q.categories == number
        assert sel.sum() == 15
        assert (n_seeds[sel] == c.n_seeds).all()
        assert ((lengths[sel] >= c.lo) & (lengths[sel] <= c.hi)).all()
        titles = q.titles[sel]
        assert all((t is None) != c.title for t in titles)
    assert np.array_equal(n_seeds + np.diff(validation.holdout_offsets), lengths)


def test_every_validation_track_stays_in_what_is_left_for_training(
    corpus: Corpus, split: Split, validation: Split
) -> None:
    """Official coverage: a model fitted on the training playlists minus the validation ones
    knows every validation seed and held-out track."""
    left = train_catalogue(np.concatenate([split.test_idx, validation.test_idx]), corpus)
    tracks = np.concatenate([validation.queries.seed_ids, validation.holdout_ids])
    assert left[tracks].all()
    # the rule bites: without it, some validation tracks would be found nowhere else
    loose = make_validation(corpus, split, per_category=15, coverage="none")
    assert sum(sum(r["not_in_train"].values()) for r in loose.report.values()) > 0
    assert sum(sum(r["not_in_train"].values()) for r in validation.report.values()) == 0


def test_seeded_and_independent_of_the_test_streams(
    corpus: Corpus, split: Split, validation: Split
) -> None:
    again = make_validation(corpus, split, per_category=15)
    assert again.fingerprint == validation.fingerprint
    assert np.array_equal(again.holdout_ids, validation.holdout_ids)
    other = make_validation(corpus, split, per_category=15, seed=1)
    assert other.fingerprint != validation.fingerprint
    assert other.seed == 1 and validation.seed == split.seed == 0
    smaller = make_validation(corpus, split, per_category=14)
    assert smaller.fingerprint != validation.fingerprint and smaller.n_test == 140
    with pytest.raises(UsageError, match="validation seed -1"):
        make_validation(corpus, split, seed=-1)
    with pytest.raises(UsageError, match="--validation 0: validation playlists per category"):
        make_validation(corpus, split, per_category=0)


def test_fingerprint_names_the_test_split(corpus: Corpus, split: Split) -> None:
    """The same draw for another test split is another validation split."""
    other = make_split(corpus, seed=3, coverage="official")
    a = make_validation(corpus, split, per_category=5, seed=7)
    b = make_validation(corpus, other, per_category=5, seed=7)
    assert a.of_split != b.of_split and a.fingerprint != b.fingerprint
    assert not np.isin(b.test_idx, other.test_idx).any()


def test_size_defaults_to_the_test_split_and_is_checked(corpus: Corpus, split: Split) -> None:
    assert make_validation(corpus, split).n_test == split.n_test
    n_long = int(((corpus.lengths >= 150) & (corpus.lengths <= 250)).sum())
    with pytest.raises(UsageError, match="validation category .* training playlists have only"):
        make_validation(corpus, split, per_category=n_long)


def test_the_test_split_is_unchanged(corpus: Corpus, split: Split) -> None:
    """Drawing a validation split changes neither the test split's draw nor its fingerprint."""
    make_validation(corpus, split, per_category=15)
    assert make_split(corpus, seed=0, coverage="official").fingerprint == split.fingerprint


# ---------------------------------------------------------------- the files


def test_written_beside_the_test_split_without_touching_it(
    corpus: Corpus, split: Split, validation: Split, tmp_path: Path
) -> None:
    d = tmp_path / "s"
    write_split(split, corpus, d)
    before = digests(d)
    write_validation(validation, split, corpus, d)
    assert digests(d) == before
    assert sorted(p.name for p in (d / VALIDATION_DIR).iterdir()) == sorted(before)
    m = read_json(d / VALIDATION_DIR / "manifest.json")
    assert m["kind"] == "validation" and m["fingerprint"] == validation.fingerprint
    assert m["split_fingerprint"] == split.fingerprint
    assert m["n_test"] == 150 and m["n_train"] == corpus.n_playlists - split.n_test - 150
    assert m["seed"] == 0 and m["split_seed"] == 0 and m["settings"]["per_category"] == 15
    assert m["streams"] == {
        "selection": [0, "category", 2],
        "seed_positions": [0, "category", 3],
    }
    assert {int(c): r["count"] for c, r in m["categories"].items()} == dict.fromkeys(FILE_ORDER, 15)
    assert load_split(d, corpus).fingerprint == split.fingerprint


def test_load_validation_gives_rows_of_the_training_set(
    split_dir: Path, corpus: Corpus, split: Split, validation: Split
) -> None:
    v = load_validation(split_dir, corpus, split)
    assert v is not None and v.fingerprint == validation.fingerprint
    train = train_set(corpus, split)
    q = v.queries
    for j in range(0, 150, 7):
        playlist = train.playlist(int(v.rows[j]))  # the whole validation playlist
        pos = q.seed_pos[q.seed_offsets[j] : q.seed_offsets[j + 1]]
        assert np.array_equal(playlist[pos], q.seeds(j))
        rest = np.delete(playlist, pos)
        assert np.array_equal(rest, v.holdouts(j))
    # what a model fits on while it learns from the validation
    fit = replace(train, validation=v).without_validation()
    assert fit.n_playlists == train.n_playlists - 150
    keep = np.ones(train.n_playlists, dtype=bool)
    keep[v.rows] = False
    assert np.array_equal(fit.track_ids, train.subset(keep).track_ids)


def test_no_validation_folder_means_none(corpus: Corpus, split: Split, tmp_path: Path) -> None:
    write_split(split, corpus, tmp_path / "s")
    assert load_validation(tmp_path / "s", corpus, split) is None
    with pytest.raises(HarnessError, match="no validation split"):
        validation_train_set(tmp_path / "s", corpus)


def test_refuses_a_validation_of_another_split_or_an_edited_one(
    split_dir: Path, corpus: Corpus, split: Split, tmp_path: Path
) -> None:
    other = make_split(corpus, seed=5, coverage="official")
    write_split(other, corpus, tmp_path / "o")
    shutil.copytree(split_dir / VALIDATION_DIR, tmp_path / "o" / VALIDATION_DIR)
    with pytest.raises(HarnessError, match="drawn for split"):
        load_validation(tmp_path / "o", corpus, other)
    edited = tmp_path / "e"
    shutil.copytree(split_dir, edited)
    gt = edited / VALIDATION_DIR / "ground_truth.json"
    gt.write_bytes(gt.read_bytes().replace(b'"pos":', b'"pos" :', 1))
    with pytest.raises(HarnessError, match="changed since"):
        load_validation(edited, corpus, split)


def test_score_works_on_the_validation_folder(
    split_dir: Path, corpus: Corpus, split: Split, validation: Split
) -> None:
    """Same formats as the test split: a submission answering the validation playlists with
    their own held-out tracks first scores R-precision 1."""
    import harness

    outside = np.concatenate([validation.test_idx, split.test_idx])
    catalogue = np.flatnonzero(train_catalogue(outside, corpus))  # tracks to pad with
    rows = []
    for j in range(validation.n_test):
        _, first = np.unique(validation.holdouts(j), return_index=True)
        hold = validation.holdouts(j)[np.sort(first)]  # a track held out twice is one hit
        pad = catalogue[~np.isin(catalogue, np.concatenate([hold, validation.queries.seeds(j)]))]
        rows.append(corpus.track_uris[np.concatenate([hold, pad])[:500]])
    sub = split_dir.parent / "val.csv.gz"
    write_submission(sub, validation.queries.pids.tolist(), rows, "t", "e@x.org")
    scores = harness.score(sub, split_dir / VALIDATION_DIR, verify=False)
    assert scores["overall"]["r_precision"] == pytest.approx(1.0)


# ---------------------------------------------------------------- the ground truth stays unread


def test_validation_train_set_reads_no_test_ground_truth(
    split_dir: Path, corpus: Corpus, split: Split, tmp_path: Path
) -> None:
    d = tmp_path / "s"
    shutil.copytree(split_dir, d)
    (d / "ground_truth.json").unlink()
    train = validation_train_set(d, corpus)
    want = train_set(corpus, split)
    assert np.array_equal(train.offsets, want.offsets)
    assert np.array_equal(train.track_ids, want.track_ids)
    v = load_validation(split_dir, corpus, split)
    assert train.validation is not None and v is not None
    assert np.array_equal(train.validation.rows, v.rows)
    assert np.array_equal(train.validation.holdout_ids, v.holdout_ids)


# ---------------------------------------------------------------- the command


def test_split_command_bad_validation_is_one_line_and_writes_nothing(
    corpus: Corpus,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.cli import main
    from harness.data import ingest

    monkeypatch.setattr(ingest, "load_corpus", lambda path, **kw: corpus)
    out = tmp_path / "s"
    n_long = int(((corpus.lengths >= 150) & (corpus.lengths <= 250)).sum())
    for argv, message in (
        (["--validation", "0"], "--validation 0: must be at least 1"),
        (["--validation", "-3"], "--validation -3: must be at least 1"),
        (["--validation-seed", "2"], "--validation-seed needs --validation N"),
        (["--validation", str(n_long)], "validation category 9 needs"),
    ):
        assert main(["split", "mpd", "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
        assert not out.exists()  # drawn before anything is written
    assert (
        main(["split", "mpd", "--out", str(out), "--validation", "3", "--validation-seed", "4"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "validation split" in printed and f"-> {out}/{VALIDATION_DIR}" in printed
    m = read_json(out / VALIDATION_DIR / "manifest.json")
    assert m["seed"] == 4 and m["n_test"] == 30
