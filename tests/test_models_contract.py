"""The one contract every registered model honours, run over all of `models.MODELS`.

Models registered later are covered automatically; FAST_PARAMS shrinks slow ones for these tiny
fixtures (only the keys a model accepts are applied).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from sklearn.base import clone

from harness.errors import UsageError
from models import MODELS, Queries, Recommender, TrainSet, get_model

# Small, fast settings per model for tiny data (applied only where the model has the parameter).
FAST_PARAMS: dict[str, dict[str, Any]] = {
    # no subsampling: on a 30-track vocabulary it would drop most of the tiny corpus
    "w2v": {"epochs": 30, "dim": 16, "sample": 0.0, "workers": 1, "min_count": 1, "seed": 0},
    "sgns": {
        "epochs": 30,
        "dim": 16,
        "sample": 0.0,
        "min_count": 1,
        "window": 5,
        "device": "cpu",
        "threads": 1,
        "seed": 0,
    },
    "knn": {"k_neighbors": 20},
    "item_knn": {"n_neighbors": 10},
}

NAMES = sorted(MODELS)


def make_model(name: str) -> Recommender:
    valid = MODELS[name]().get_params()
    params = {k: v for k, v in FAST_PARAMS.get(name, {}).items() if k in valid}
    return get_model(name, **params)


def make_train(playlists: list[list[int]], titles: list[str], n_tracks: int) -> TrainSet:
    offsets = np.zeros(len(playlists) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in playlists], out=offsets[1:])
    ids = np.concatenate([np.asarray(p, dtype=np.int32) for p in playlists])
    return TrainSet(
        offsets=offsets,
        track_ids=ids,
        titles=np.array(titles, dtype=object),
        n_tracks=n_tracks,
        track_artist=(np.arange(n_tracks) // 3).astype(np.int32),
        track_album=(np.arange(n_tracks) // 2).astype(np.int32),
    )


def make_queries(seeds: list[list[int]], titles: list[str | None], cats: list[int]) -> Queries:
    offsets = np.zeros(len(seeds) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seeds], out=offsets[1:])
    ids = np.array([t for s in seeds for t in s], dtype=np.int32)
    pos = np.array([j for s in seeds for j in range(len(s))], dtype=np.int32)
    return Queries(
        pids=np.arange(1000, 1000 + len(seeds), dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=ids,
        seed_pos=pos,
        titles=np.array(titles, dtype=object),
        categories=np.array(cats, dtype=np.int8),
    )


# ---------------------------------------------------------------- fixtures

N_TRACKS = 40  # ids 36..39 never occur in training


def mixed_train() -> TrainSet:
    """60 playlists over three 12-track clusters, with a few cross-cluster tracks."""
    rng = np.random.default_rng(0)
    playlists, titles = [], []
    for i in range(60):
        c = i % 3
        pl = list(rng.choice(12, size=int(rng.integers(4, 11)), replace=False) + 12 * c)
        if i % 7 == 0:
            pl.append(int(rng.integers(0, 36)))  # may repeat a track: duplicates must be fine
        playlists.append([int(t) for t in pl])
        titles.append(["alpha", "beta", "gamma"][c])
    return make_train(playlists, titles, N_TRACKS)


def mixed_queries() -> Queries:
    return make_queries(
        seeds=[[0, 1, 2], [], [13], [5, 5, 6], [30, 31, 32, 33, 34], [37], [], [], [0, 12, 24]],
        titles=["alpha", "beta", None, None, "gamma", "gamma", None, "no such title", None],
        cats=[3, 1, 4, 6, 5, 3, 1, 1, 4],
    )


def check_recs(recs: NDArray[np.int32], queries: Queries, k: int, n_tracks: int) -> None:
    """Shape, dtype, range, no duplicates, no seeds, -1 only as trailing padding."""
    assert recs.shape == (len(queries), k)
    assert recs.dtype == np.int32
    assert ((recs >= -1) & (recs < n_tracks)).all(), "ids out of [-1, n_tracks)"
    for i, row in enumerate(recs):
        valid = row[row >= 0]
        assert len(np.unique(valid)) == len(valid), f"row {i}: duplicate ids"
        assert not np.isin(valid, queries.seeds(i)).any(), f"row {i}: a seed is recommended"
        n_valid = len(valid)
        assert (row[:n_valid] >= 0).all() and (row[n_valid:] == -1).all(), (
            f"row {i}: -1 must only pad the end"
        )


# ---------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", NAMES)
def test_output_contract(name: str) -> None:
    queries = mixed_queries()
    recs = make_model(name).fit(mixed_train()).recommend(queries, 10)
    check_recs(recs, queries, 10, N_TRACKS)
    # a query whose seeds occur in training gets at least one recommendation
    assert (recs[0] >= 0).any()


@pytest.mark.parametrize("name", NAMES)
def test_inputs_left_untouched(name: str) -> None:
    """fit and recommend must not modify the shared TrainSet or Queries arrays in place."""
    train, queries = mixed_train(), mixed_queries()
    before = [a.copy() for a in (train.offsets, train.track_ids, queries.seed_ids)]
    before += [queries.seed_offsets.copy()]
    make_model(name).fit(train).recommend(queries, 10)
    after = [train.offsets, train.track_ids, queries.seed_ids, queries.seed_offsets]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_no_queries(name: str) -> None:
    queries = make_queries([], [], [])
    recs = make_model(name).fit(mixed_train()).recommend(queries, 5)
    assert recs.shape == (0, 5) and recs.dtype == np.int32


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(name: str) -> None:
    cls = MODELS[name]
    if not cls.deterministic:
        pytest.skip(f"{name} is not deterministic: {cls.determinism_note}")
    queries = mixed_queries()
    a = make_model(name).fit(mixed_train()).recommend(queries, 10)
    b = make_model(name).fit(mixed_train()).recommend(queries, 10)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_determinism_is_explained_and_params_are_checked(name: str) -> None:
    """Every model says under what conditions it repeats itself (the manifest shows it), and
    `check_params` accepts its own defaults."""
    cls = MODELS[name]
    assert cls.determinism_note.strip(), name
    make_model(name).check_params()


@pytest.mark.parametrize("name", NAMES)
def test_k_larger_than_catalogue(name: str) -> None:
    queries = mixed_queries()
    k = N_TRACKS + 7
    recs = make_model(name).fit(mixed_train()).recommend(queries, k)
    check_recs(recs, queries, k, N_TRACKS)
    # at most the unseeded catalogue can be offered: the tail is always padding
    assert (recs[:, N_TRACKS:] == -1).all()


@pytest.mark.parametrize("name", NAMES)
def test_cold_start(name: str) -> None:
    """Seedless queries: answered in full by the model itself, or left to the title baseline.

    A model with cold_start "title" never sees them in the runner; called directly it must still
    return a valid (possibly all -1) answer.
    """
    cls = MODELS[name]
    assert cls.cold_start in ("model", "title")
    queries = make_queries([[], [], []], ["beta", None, "no such title"], [1, 1, 1])
    recs = make_model(name).fit(mixed_train()).recommend(queries, 10)
    check_recs(recs, queries, 10, N_TRACKS)
    if cls.cold_start == "model":
        assert (recs >= 0).sum(axis=1).min() == 10, "a seedless query got fewer than k tracks"


def two_cluster_train() -> TrainSet:
    """Cluster A = tracks 0..9 (20 playlists, "rock"), cluster B = 10..19 (40, "jazz").

    B tracks are twice as popular, so popularity alone answers A queries wrongly; two bridge
    playlists mix A and B, so the order among candidates matters too. Tracks 20..29 never occur
    in training.
    """
    rng = np.random.default_rng(1)
    playlists, titles = [], []
    for i in range(60):
        in_a = i % 3 == 0
        base = 0 if in_a else 10
        playlists.append([int(t) for t in rng.choice(10, size=6, replace=False) + base])
        titles.append("rock" if in_a else "jazz")
    # two bridge playlists: B tracks become candidates for A seeds, but weakly supported ones
    playlists += [[0, 5, 10, 15], [3, 8, 12, 17]]
    titles += ["mix", "mix"]
    return make_train(playlists, titles, 30)


def two_cluster_queries() -> Queries:
    return make_queries([[0, 1, 2], [10, 11, 12, 13]], ["rock", "jazz"], [3, 3])


def cluster_first(row: NDArray[np.int32], others: NDArray[np.int64]) -> bool:
    """The row's recommendations start with tracks of the seeds' cluster (at least 3 of them).

    -1 padding is allowed (the runner backfills), but no other-cluster track may come before the
    seeds' cluster is exhausted.
    """
    valid = row[row >= 0]
    m = min(len(valid), len(others))
    return m >= 3 and bool(np.isin(valid[:m], others).all())


def cluster_hits(recs: NDArray[np.int32]) -> tuple[bool, bool]:
    return cluster_first(recs[0], np.arange(3, 10)), cluster_first(recs[1], np.arange(14, 20))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "popular"])
def test_two_clusters(name: str) -> None:
    queries = two_cluster_queries()
    recs = make_model(name).fit(two_cluster_train()).recommend(queries, 25)
    check_recs(recs, queries, 25, 30)
    a_first, b_first = cluster_hits(recs)
    assert a_first, f"{name}: A seeds did not get the A tracks first: {recs[0]}"
    assert b_first, f"{name}: B seeds did not get the B tracks first: {recs[1]}"


def test_two_clusters_has_teeth() -> None:
    """Popularity fails the toy case: the test above can fail."""
    recs = make_model("popular").fit(two_cluster_train()).recommend(two_cluster_queries(), 25)
    assert cluster_hits(recs) == (False, True)


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip(name: str) -> None:
    model = make_model(name)
    params = model.get_params()
    twin = clone(model)
    assert twin.get_params() == params
    assert get_model(name, **params).get_params() == params
    assert type(model)().get_params().keys() == params.keys()
    # clone of a fitted model is unfitted: learned state lives only in `_` attributes
    fitted = make_model(name).fit(mixed_train())
    learned = [a for a in vars(fitted) if a.endswith("_") and not a.startswith("__")]
    assert learned, f"{name}: fit stored no learned attribute ending in _"
    assert not any(hasattr(clone(fitted), a) for a in learned)
    assert name in repr(model) or type(model).__name__ in repr(model)


def test_unknown_model_lists_names() -> None:
    with pytest.raises(UsageError, match="available: .*popular"):
        get_model("no-such-model")


def test_unknown_param_lists_params() -> None:
    with pytest.raises(UsageError, match="its parameters"):
        get_model("popular", no_such_param=1)
