"""`ease` against the closed form computed densely with numpy, on small random data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.typing import NDArray

from harness.errors import ParameterError
from harness.run.contract import make_queries, make_train
from harness.types import TrainSet
from models.ease import EASERecommender, ease_weights, gram, symmetrize_lower


def random_train(seed: int, n_tracks: int = 30) -> tuple[NDArray[np.float64], TrainSet]:
    """60 playlists of 3..12 tracks over 28 Zipf-popular tracks (repeats allowed)."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, 29)
    playlists = [
        [int(t) for t in rng.choice(28, size=int(rng.integers(3, 13)), p=pop / pop.sum())]
        for _ in range(60)
    ]
    X = np.zeros((60, n_tracks))  # (P, T) dense binary
    for i, p in enumerate(playlists):
        X[i, p] = 1.0
    return X, make_train(playlists, ["x"] * 60, n_tracks)


def ref_ease(X: NDArray[np.float64], l2: float) -> NDArray[np.float64]:
    """B = I - P / diag(P) with P = (X^T X + l2 I)^-1, in float64."""
    P = np.linalg.inv(X.T @ X + l2 * np.eye(X.shape[1]))
    return np.eye(X.shape[1]) - P / np.diag(P)[None, :]


@pytest.mark.parametrize("l2", [0.5, 10.0, 200.0])
def test_weights_match_dense_closed_form(l2: float) -> None:
    X, _ = random_train(0)
    X = X[:, X.sum(axis=0) > 0]
    G = (X.T @ X).astype(np.float32)
    B = ease_weights(G, l2)
    assert np.shares_memory(B, G)  # in place: the fit holds one N x N matrix
    np.testing.assert_allclose(B, ref_ease(X, l2), rtol=2e-3, atol=2e-5)
    assert (np.diag(B) == 0).all()


def test_gram_in_blocks_is_xtx() -> None:
    X, _ = random_train(1)
    Xs = sp.csr_matrix(X.astype(np.float32))
    G, n_blocks = gram(Xs, work_budget=50)
    assert n_blocks > 5
    np.testing.assert_array_equal(G, (X.T @ X).astype(np.float32))
    G1, n1 = gram(Xs, work_budget=10**9)
    assert n1 == 1
    np.testing.assert_array_equal(G1, G)


@pytest.mark.parametrize("n", [5, 17, 40])
def test_symmetrize_lower(n: int) -> None:
    rng = np.random.default_rng(n)
    A = rng.random((n, n)).astype(np.float32)
    want = np.tril(A) + np.tril(A, -1).T
    symmetrize_lower(A, block=6)
    np.testing.assert_array_equal(A, want)


def test_model_covers_the_n_most_popular_tracks() -> None:
    """Scores = seeds @ B over the top N; tracks outside the N are never recommended."""
    X, train = random_train(2)
    N, l2 = 12, 20.0
    model = EASERecommender(n_items=N, l2=l2).fit(train)
    counts = np.bincount(train.track_ids, minlength=30)
    top = np.lexsort((np.arange(30), -counts))[:N]  # the N most frequent, ties to lower id
    np.testing.assert_array_equal(np.sort(model.items_), np.sort(top))
    assert model.B_.shape == (N, N)
    np.testing.assert_allclose(model.B_, ref_ease(X[:, model.items_], l2), rtol=2e-3, atol=2e-5)
    outside = int(np.setdiff1d(np.flatnonzero(counts), top)[0])
    seeds = [[int(top[0]), int(top[3])], [int(top[1]), outside], [outside], [29]]
    queries = make_queries(seeds, [None] * 4, [4] * 4)
    recs = model.recommend(queries, 20)
    for i in (0, 1):
        inside = [model.col_[s] for s in seeds[i] if model.col_[s] >= 0]
        scores = model.B_[inside].sum(axis=0)  # (N,)
        scores[inside] = -np.inf
        want = model.items_[np.argsort(-scores, kind="stable")[: N - len(inside)]]
        got = recs[i][recs[i] >= 0]
        assert set(got) <= set(model.items_.tolist())
        np.testing.assert_allclose(
            np.sort(scores[model.col_[got]]), np.sort(scores[model.col_[want]]), rtol=1e-5
        )
    assert (recs[2] == -1).all() and (recs[3] == -1).all()  # no seed among the N


def test_catalogue_smaller_than_n() -> None:
    _, train = random_train(3)
    model = EASERecommender(n_items=1000).fit(train)
    assert len(model.items_) == len(np.unique(train.track_ids))


@pytest.mark.parametrize(
    ("param", "value"), [("n_items", 0), ("l2", 0.0), ("work_budget", 0), ("score_budget", 0)]
)
def test_bad_params(param: str, value: float) -> None:
    with pytest.raises(ParameterError, match=param):
        EASERecommender(**{param: value}).check_params()  # type: ignore[arg-type]
