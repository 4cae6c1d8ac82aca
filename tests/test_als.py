"""`als` (implicit's ALS): its matrix conventions, the fold-in of queries against a dense
reference, seeds and unseen tracks never recommended, and determinism."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from harness.errors import ParameterError, UsageError
from harness.run.contract import make_queries, make_train
from harness.types import TrainSet
from models.als import ALSRecommender

N_TRACKS = 34  # 30..33 never occur in training


def random_train(seed: int) -> TrainSet:
    """80 playlists, each from one of three 10-track clusters plus a popular-track tail."""
    rng = np.random.default_rng(seed)
    playlists = []
    for i in range(80):
        base = 10 * (i % 3)
        own = rng.choice(10, size=int(rng.integers(3, 8)), replace=False) + base
        playlists.append([int(t) for t in own] + [int(rng.integers(0, 30))])
    return make_train(playlists, ["x"] * 80, N_TRACKS)


def fitted(**params: float) -> ALSRecommender:
    settings: dict[str, float] = {"factors": 4, "iterations": 8, **params}
    return ALSRecommender(**settings).fit(random_train(0))  # type: ignore[arg-type]


def test_factors_follow_playlist_by_track() -> None:
    """implicit >= 0.7 takes the (playlists, tracks) matrix: item factors are per track."""
    model = fitted()
    assert model.model_.item_factors.shape == (N_TRACKS, 4)
    assert model.model_.user_factors.shape == (80, 4)


def fold_in(model: ALSRecommender, seeds: list[int]) -> NDArray[np.float64]:
    """Scores (T,) of a query: x = (Y^T C Y + reg I)^-1 Y^T C p with confidence alpha on the
    seeds (1 elsewhere) and preference 1 on the seeds only: Hu, Koren & Volinsky's eq. (4)."""
    Y = model.model_.item_factors.astype(np.float64)  # (T, f)
    c = np.ones(len(Y))
    c[seeds] = model.alpha
    p = np.zeros(len(Y))
    p[seeds] = 1.0
    A = Y.T @ (c[:, None] * Y) + model.regularization * np.eye(Y.shape[1])
    x = np.linalg.solve(A, Y.T @ (c * p))
    return Y @ x


def test_recommend_is_the_fold_in() -> None:
    model = fitted(alpha=15.0, regularization=0.1)
    seeds = [[0, 1, 2], [12, 15], [25], [3, 13, 23]]
    recs = model.recommend(make_queries(seeds, [None] * 4, [4] * 4), 12)
    for row, s in zip(recs, seeds, strict=True):
        scores = fold_in(model, s)
        scores[s] = -np.inf
        scores[30:] = -np.inf  # never in training
        want = np.sort(scores)[::-1][:12]
        np.testing.assert_allclose(scores[row], want, rtol=1e-3, atol=1e-4)


def test_seeds_and_unseen_tracks_are_never_recommended() -> None:
    model = fitted()
    queries = make_queries([[0, 1], [31], [31, 5], []], [None] * 4, [4, 4, 4, 1])
    recs = model.recommend(queries, 40)
    assert not np.isin(recs, [30, 31, 32, 33]).any()
    assert not np.isin(recs[0], [0, 1]).any() and not np.isin(recs[2], [5]).any()
    assert (recs[0] >= 0).sum() == 28  # every other training track, then padding
    assert (recs[1] == -1).all() and (recs[3] == -1).all()  # nothing known: the runner's job


def test_same_seed_same_model_other_seed_other_model() -> None:
    a, b, c = fitted(seed=3), fitted(seed=3), fitted(seed=4)
    np.testing.assert_array_equal(a.model_.item_factors, b.model_.item_factors)
    assert not np.array_equal(a.model_.item_factors, c.model_.item_factors)


def test_threads_do_not_change_the_result() -> None:
    """Each row's solve reads only the other side's factors: the thread count is invisible."""
    queries = make_queries([[0, 1, 2], [12], [3, 13, 23]], [None] * 3, [4] * 3)
    one, two = fitted(threads=1), fitted(threads=2)
    np.testing.assert_array_equal(one.model_.item_factors, two.model_.item_factors)
    np.testing.assert_array_equal(one.recommend(queries, 20), two.recommend(queries, 20))


def test_small_score_budget_batches_the_same_on_any_threads() -> None:
    """One query per batch, the batches scored on one to three threads: the same tracks, in
    the queries' order, as one batch of all, and the same scores bit for bit on any thread
    count (BLAS rounds a one-row product differently from a five-row one, hence the tolerance
    against the whole batch)."""
    queries = make_queries([[0, 1], [12], [3, 13], [25, 26], [7]], [None] * 5, [4] * 5)
    model = fitted(threads=1)
    whole, whole_scores = model.recommend_scored(queries, 15)
    model.score_budget = 1  # one query per batch
    one_thread = model.recommend_scored(queries, 15)[1]
    np.testing.assert_allclose(one_thread, whole_scores, rtol=1e-6)
    for threads in (1, 2, 3):
        model.threads = threads
        ids, scores = model.recommend_scored(queries, 15)
        np.testing.assert_array_equal(ids, whole)
        np.testing.assert_array_equal(scores, one_thread)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("factors", 0),
        ("regularization", -1.0),
        ("alpha", 0.0),
        ("iterations", 0),
        ("threads", -1),
        ("score_budget", 0),
    ],
)
def test_bad_params(param: str, value: float) -> None:
    with pytest.raises(ParameterError, match=param):
        ALSRecommender(**{param: value}).check_params()  # type: ignore[arg-type]


def test_device_auto_without_cuda_is_the_cpu_model() -> None:
    """implicit's PyPI wheels have no CUDA: 'auto' falls back to the CPU solver (the same
    factors), 'cuda' is refused naming why, anything else is a parameter error."""
    import implicit.gpu

    if implicit.gpu.HAS_CUDA:
        pytest.skip("this implicit has CUDA: auto runs on the GPU")
    auto = ALSRecommender(factors=8, iterations=3, device="auto").fit(random_train(0))
    cpu = fitted(factors=8, iterations=3)
    assert np.array_equal(auto.model_.item_factors, cpu.model_.item_factors)
    assert auto.deterministic_
    with pytest.raises(UsageError, match="no CUDA support"):
        ALSRecommender(factors=8, iterations=3, device="cuda").fit(random_train(0))
    with pytest.raises(ParameterError, match="device"):
        ALSRecommender(device="gpu").check_params()
