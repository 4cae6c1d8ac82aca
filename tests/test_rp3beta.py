"""`rp3beta` against its formula on hand-made data (exact fractions) and a dense reference."""

from __future__ import annotations

import numpy as np
import pytest
from blocked_reference import assert_same_csr, neighbour_matrix
from numpy.typing import NDArray

from harness.errors import ParameterError
from harness.run.contract import make_queries, make_train
from models.base import TrainSet
from models.knn import sparse_from_csr
from models.rp3beta import RP3BetaRecommender, drop_columns

# track 0 shares two playlists with the popular track 1 and one with the rare track 2
WALK = [[0, 1], [0, 1], [0, 2], [1, 3], [1, 4], [1, 5]]


def walk_model(**params: float) -> RP3BetaRecommender:
    """The plain walk (alpha 1, no normalisation) on WALK unless `params` say otherwise."""
    settings = {"alpha": 1.0, "min_count": 1, "normalize": False, **params}
    return RP3BetaRecommender(**settings).fit(make_train(WALK, ["x"] * 6, 8))  # type: ignore[arg-type]


def test_beta_zero_is_the_plain_walk() -> None:
    """beta = 0: W_0j = P(0 -> playlist -> j) = (1/3)(1/2 + 1/2) for j = 1, (1/3)(1/2) for 2."""
    sim = walk_model(beta=0.0).sim_.toarray()
    assert sim[0, 1] == pytest.approx(1 / 3)
    assert sim[0, 2] == pytest.approx(1 / 6)
    recs = walk_model(beta=0.0).recommend(make_queries([[0]], [None], [2]), 3)
    assert recs[0].tolist() == [1, 2, -1]  # the popular neighbour first


def test_beta_penalises_popular_destinations() -> None:
    """beta = 1 divides by the destination's count: 1 (df 5) -> 1/15, 2 (df 1) -> 1/6."""
    model = walk_model(beta=1.0)
    sim = model.sim_.toarray()
    assert sim[0, 1] == pytest.approx(1 / 15)
    assert sim[0, 2] == pytest.approx(1 / 6)
    assert model.recommend(make_queries([[0]], [None], [2]), 3)[0].tolist() == [2, 1, -1]


def test_alpha_raises_each_step() -> None:
    """alpha = 2: W_01 = (1/3)^2 (2 (1/2)^2), W_02 = (1/3)^2 (1/2)^2 (beta 0)."""
    sim = walk_model(alpha=2.0, beta=0.0).sim_.toarray()
    assert sim[0, 1] == pytest.approx(1 / 18)
    assert sim[0, 2] == pytest.approx(1 / 36)


def test_min_count_cuts_rare_tracks_from_the_walk() -> None:
    """Track 2 (one playlist) leaves the graph with min_count 2: never a neighbour, no
    neighbours of its own, and playlist [0, 2] now has one track, so W_00 would be its only
    step (the diagonal, dropped): W_01 = (1/3)(1/2 + 1/2) as before."""
    train = make_train(WALK, ["x"] * 6, 8)
    model = RP3BetaRecommender(alpha=1.0, min_count=2, beta=0.0, normalize=False).fit(train)
    sim = model.sim_.toarray()
    assert (sim[:, 2] == 0).all() and (sim[2] == 0).all()
    assert sim[0, 1] == pytest.approx(1 / 3)
    recs = model.recommend(make_queries([[0], [2]], [None, None], [2, 2]), 3)
    assert recs[0].tolist() == [1, -1, -1]
    assert (recs[1] == -1).all()  # its only seed left the walk: the runner's job


def ref_rp3(  # type: ignore[no-untyped-def]
    B: NDArray[np.float64], M: int, alpha: float, beta: float, min_count: int, normalize: bool
):
    """Dense (T, T) RP3beta straight from the formula on the graph of the tracks in at least
    min_count playlists, diagonal 0, top M per row."""
    df = B.sum(axis=0)
    B = B * (df >= min_count)[None, :]
    lens = B.sum(axis=1)
    with np.errstate(divide="ignore"):
        Piu = np.where(B.T > 0, (1 / df[:, None]) ** alpha, 0.0)  # (T, P)
        Pui = np.where(B > 0, (1 / np.maximum(lens, 1)[:, None]) ** alpha, 0.0)  # (P, T)
        W = (Piu @ Pui) * np.where(df > 0, df, 1.0) ** -beta
    np.fill_diagonal(W, 0.0)
    out = np.zeros_like(W)
    for i, w in enumerate(W):
        cand = np.flatnonzero(w > 0)
        top = cand[np.lexsort((cand, -w[cand]))][:M]
        out[i, top] = w[top]
    if normalize:
        sums = out.sum(axis=1, keepdims=True)
        out = out / np.where(sums > 0, sums, 1.0)
    return out


def random_train(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, 29)
    playlists = [
        [int(t) for t in rng.choice(28, size=int(rng.integers(3, 13)), p=pop / pop.sum())]
        for _ in range(60)
    ]
    B = np.zeros((60, 30))
    for i, p in enumerate(playlists):
        B[i, p] = 1.0
    return B, make_train(playlists, ["x"] * 60, 30)


@pytest.mark.parametrize(
    ("M", "alpha", "beta", "min_count", "normalize", "budget"),
    [
        (50, 1.0, 0.5, 1, False, 10**9),
        (4, 0.7, 0.3, 2, False, 10**9),
        (6, 1.2, 0.8, 3, True, 30),
        (5, 0.5, 0.35, 2, True, 10**9),
    ],
)
def test_similarity_matches_dense(
    M: int, alpha: float, beta: float, min_count: int, normalize: bool, budget: int
) -> None:
    B, train = random_train(1)
    model = RP3BetaRecommender(
        n_neighbors=M,
        alpha=alpha,
        beta=beta,
        min_count=min_count,
        normalize=normalize,
        work_budget=budget,
    ).fit(train)
    got, ref = model.sim_.toarray(), ref_rp3(B, M, alpha, beta, min_count, normalize)
    np.testing.assert_allclose(np.sort(got, axis=1), np.sort(ref, axis=1), rtol=1e-5, atol=1e-8)
    assert (np.diff(model.sim_.indptr) <= M).all()
    assert (np.diag(got) == 0).all()


def test_scores_are_summed_neighbour_rows() -> None:
    B, train = random_train(2)
    model = RP3BetaRecommender(n_neighbors=8, min_count=2).fit(train)
    seeds = [[0, 3], [5], [1, 2, 7]]
    recs = model.recommend(make_queries(seeds, [None] * 3, [4] * 3), 10)
    p = model.get_params()
    S = ref_rp3(B, 8, p["alpha"], p["beta"], 2, p["normalize"])
    for row, s in zip(recs, seeds, strict=True):
        scores = S[s].sum(axis=0)
        scores[s] = 0.0
        want = np.sort(scores[scores > 0])[::-1][:10]
        got = row[row >= 0]
        np.testing.assert_allclose(scores[got], want, rtol=1e-5)


def test_blocking_and_threads_do_not_change_output() -> None:
    _, train = random_train(3)
    queries = make_queries([[0, 1], [4], [9, 10, 11]], [None] * 3, [4] * 3)
    big = RP3BetaRecommender(n_neighbors=5, min_count=1, threads=1).fit(train)
    for threads, budget in [(1, 1), (2, 1), (3, 7)]:
        tiny = RP3BetaRecommender(
            n_neighbors=5, min_count=1, work_budget=budget, threads=threads
        ).fit(train)
        assert (big.sim_ != tiny.sim_).nnz == 0
        np.testing.assert_array_equal(big.recommend(queries, 20), tiny.recommend(queries, 20))


def blocked_rp3_sim(train: TrainSet, M: int, alpha: float, beta: float, min_count: int):  # type: ignore[no-untyped-def]
    """rp3beta's unnormalised similarity by the blocked scipy path it used before the compiled
    kernel (float32 product per block, then `prune_rows`)."""
    T = train.n_tracks
    B = sparse_from_csr(train.offsets, train.track_ids, T)
    df = np.bincount(B.indices, minlength=T).astype(np.float64)
    G = drop_columns(B, df < min_count)
    lens = np.diff(G.indptr).astype(np.float64)
    GT = G.T.tocsr()
    Gw = G.copy()
    Gw.data = np.repeat(np.power(np.maximum(lens, 1.0), -alpha), np.diff(G.indptr))
    Gw.data = Gw.data.astype(np.float32)
    src = np.power(df, -alpha, out=np.zeros(T), where=df > 0).astype(np.float32)
    dst = np.power(df, -beta, out=np.zeros(T), where=df > 0).astype(np.float32)

    def block(sl: slice):  # type: ignore[no-untyped-def]
        W = GT[sl] @ Gw
        W.data *= np.repeat(src[sl], np.diff(W.indptr)) * dst[W.indices]
        return W

    return neighbour_matrix(GT @ lens, M, 50, block)


@pytest.mark.parametrize(
    ("M", "alpha", "beta", "min_count"), [(1, 1.0, 0.0, 1), (3, 0.5, 0.2, 1), (6, 0.7, 0.4, 2)]
)
def test_kernel_equals_blocked_scipy_path_bit_for_bit(
    M: int, alpha: float, beta: float, min_count: int
) -> None:
    """Short playlists over few tracks make many equal walk weights at the cut: the kernel keeps
    the same neighbours (ties to the lower column) with the same float32 values."""
    rng = np.random.default_rng(M)
    lists = [[int(t) for t in rng.choice(30, size=rng.integers(1, 6))] for _ in range(200)]
    train = make_train(lists, ["x"] * 200, 32)
    model = RP3BetaRecommender(
        n_neighbors=M, alpha=alpha, beta=beta, min_count=min_count, normalize=False
    )
    assert_same_csr(model.fit(train).sim_, blocked_rp3_sim(train, M, alpha, beta, min_count))


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n_neighbors", 0),
        ("alpha", 0.0),
        ("beta", -0.1),
        ("min_count", 0),
        ("work_budget", 0),
        ("threads", -1),
    ],
)
def test_bad_params(param: str, value: float) -> None:
    with pytest.raises(ParameterError, match=param):
        RP3BetaRecommender(**{param: value}).check_params()  # type: ignore[arg-type]
