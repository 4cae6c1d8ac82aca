"""Tests for models/w2v.py: clusters separate, determinism, unseen tracks, parameters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import UsageError
from models import MODELS, get_model
from models.base import Queries, TrainSet
from models.w2v import PlaylistSentences, W2VRecommender

N_TRACKS = 24  # 0..9 cluster A, 10..19 cluster B, 20..23 never in training


def two_clusters(n_playlists: int = 200, length: int = 8, seed: int = 0) -> TrainSet:
    """Playlists drawn from one of two disjoint groups of 10 tracks; 4 catalogue tracks unseen."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(10, size=length, replace=False) + 10 * (i % 2) for i in range(n_playlists)]
    offsets = np.arange(n_playlists + 1, dtype=np.int64) * length
    return TrainSet(
        offsets=offsets,
        track_ids=np.concatenate(rows).astype(np.int32),
        titles=np.array(["a", "b"] * (n_playlists // 2), dtype=object),
        n_tracks=N_TRACKS,
        track_artist=np.arange(N_TRACKS, dtype=np.int32),
        track_album=np.arange(N_TRACKS, dtype=np.int32),
    )


def make_queries(seed_lists: list[list[int]]) -> Queries:
    """Queries with the given seeds, no titles."""
    offsets = np.zeros(len(seed_lists) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seed_lists], out=offsets[1:])
    return Queries(
        pids=np.arange(len(seed_lists), dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=np.array([t for s in seed_lists for t in s], dtype=np.int32),
        seed_pos=np.array([j for s in seed_lists for j in range(len(s))], dtype=np.int32),
        titles=np.array([None] * len(seed_lists), dtype=object),
        categories=np.zeros(len(seed_lists), dtype=np.int8),
    )


# No subsampling: on 20 tracks every track is "frequent" and would be dropped; small settings.
FAST: dict[str, Any] = dict(dim=8, epochs=5, negative=3, sample=0.0, min_count=1, window=5, seed=1)


@pytest.mark.parametrize("corpus", ["file", "iterable"])
def test_two_clusters_separate(corpus: str) -> None:
    model = W2VRecommender(corpus=corpus, **FAST).fit(two_clusters())
    v = model.vectors_
    assert v.shape == (N_TRACKS, 8) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:20], axis=1), 1.0, rtol=1e-5)
    cos = v[:20] @ v[:20].T
    same = np.kron(np.eye(2), np.ones((10, 10))).astype(bool)
    assert cos[same & ~np.eye(20, dtype=bool)].min() > cos[~same].max()
    recs = model.recommend(make_queries([[0, 1], [15]]), k=8)
    assert set(recs[0].tolist()) == set(range(2, 10))
    assert set(recs[1].tolist()) <= set(range(10, 20)) - {15}


def test_unseen_tracks_zero_and_never_recommended() -> None:
    model = W2VRecommender(**FAST).fit(two_clusters())
    assert not model.vectors_[20:].any()
    recs = model.recommend(make_queries([[0], [21], [3, 22]]), k=N_TRACKS)
    assert set(recs[0].tolist()) == set(range(1, 20)) | {-1}
    assert (recs[0] == -1).sum() == 5  # k=24: 24 - 1 seed - 4 unseen = 19 candidates, 5 pads
    assert recs[1].tolist() == [-1] * N_TRACKS  # only an unseen seed: nothing to go on
    assert not set(recs[2].tolist()) & {3, 20, 21, 22, 23}


def test_min_count_drops_rare_tracks() -> None:
    train = two_clusters()
    ids = train.track_ids.copy()
    ids[0] = 20  # track 20 now appears once
    train = TrainSet(
        train.offsets, ids, train.titles, N_TRACKS, train.track_artist, train.track_album
    )
    once = W2VRecommender(**FAST).fit(train)
    twice = W2VRecommender(**{**FAST, "min_count": 2}).fit(train)
    assert once.vectors_[20].any()
    assert not twice.vectors_[20].any()
    assert twice.fit_info_["vocab_size"] == once.fit_info_["vocab_size"] - 1


@pytest.mark.parametrize("corpus", ["file", "iterable"])
def test_deterministic_with_one_worker(corpus: str) -> None:
    train = two_clusters()
    a = W2VRecommender(corpus=corpus, workers=1, **FAST).fit(train)
    b = W2VRecommender(corpus=corpus, workers=1, **FAST).fit(train)
    c = W2VRecommender(corpus=corpus, workers=1, **{**FAST, "seed": 2}).fit(train)
    np.testing.assert_array_equal(a.vectors_, b.vectors_)
    assert not np.array_equal(a.vectors_, c.vectors_)
    assert W2VRecommender.deterministic and W2VRecommender().workers == 1


def test_whole_playlist_window() -> None:
    model = W2VRecommender(**{**FAST, "window": 0}).fit(two_clusters(length=8))
    assert model.fit_info_["window_used"] == 7
    recs = model.recommend(make_queries([[4]]), k=9)
    assert set(recs[0].tolist()) == set(range(10)) - {4}


def test_fit_info_records_run() -> None:
    model = W2VRecommender(**FAST).fit(two_clusters())
    info = model.fit_info_
    assert info["workers"] == 1 and len(info["epoch_s"]) == 5
    assert info["raw_words_per_epoch"] == 200 * 8
    assert 0 < info["trained_words"] <= 5 * 200 * 8
    assert "pythonhashseed" in info and info["words_per_s"] > 0


def test_registered_and_params_round_trip() -> None:
    assert MODELS["w2v"] is W2VRecommender
    model = get_model("w2v", ns_exponent=-0.5, window=0)
    params = model.get_params()
    assert params["ns_exponent"] == -0.5 and params["window"] == 0
    assert W2VRecommender(**params).get_params() == params
    assert W2VRecommender.cold_start == "title"


@pytest.mark.parametrize(
    "params",
    [{"window": -1}, {"dim": 0}, {"corpus": "disk"}, {"ns_exponent": float("nan")}],
)
def test_bad_params_name_the_field(params: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=next(iter(params))):
        W2VRecommender(**params).fit(two_clusters())


@pytest.mark.parametrize("name", ["w2v", "sgns"])  # a shared hyperparameter
def test_candidate_min_count_keeps_rare_seeds_out_of_recs(name: str) -> None:
    train = two_clusters()
    counts = np.bincount(train.track_ids, minlength=N_TRACKS)
    cut = int(np.median(counts[:20]))
    rare = np.flatnonzero((counts > 0) & (counts < cut))
    assert 0 < len(rare) < 20
    extra = {"device": "cpu"} if name == "sgns" else {}
    model = get_model(name, candidate_min_count=cut, **FAST, **extra).fit(train)
    assert model.vectors_[rare].any(axis=1).all()  # rare tracks keep their vectors ...
    recs = model.recommend(make_queries([[int(t)] for t in rare]), k=N_TRACKS)
    assert not set(recs.ravel().tolist()) & set(rare.tolist())  # ... but are never recommended
    assert (recs[:, 0] >= 0).all()  # and still work as seeds


def test_min_count_above_every_track_is_an_error() -> None:
    with pytest.raises(UsageError, match="min_count=1000"):
        W2VRecommender(min_count=1000).fit(two_clusters())


def test_sentences_restartable() -> None:
    train = two_clusters(n_playlists=4)
    s = PlaylistSentences(train.offsets, train.track_ids)
    first, second = list(s), list(s)
    assert first == second and len(first) == len(s) == 4
    assert first[1] == train.playlist(1).tolist() and isinstance(first[1][0], int)


def test_importing_models_does_not_import_gensim() -> None:
    code = "import sys, models, models.w2v; assert 'gensim' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_vectors_do_not_depend_on_the_hash_seed() -> None:
    """Tokens are ints (iterable) or strings whose vocabulary we build ourselves (file): the
    result must be the same under any PYTHONHASHSEED."""
    code = (
        "import hashlib, numpy as np, sys; sys.path.insert(0, 'tests');"
        "from test_w2v import two_clusters, FAST; from models.w2v import W2VRecommender;"
        "print(','.join(hashlib.sha1(W2VRecommender(corpus=c, **FAST).fit(two_clusters())"
        ".vectors_.tobytes()).hexdigest() for c in ('file', 'iterable')))"
    )
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).parent.parent,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
