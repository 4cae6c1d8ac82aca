"""`knn` and `item_knn` against slow dense references on small random data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from blocked_reference import assert_same_csr, neighbour_matrix, prune_rows
from numpy.typing import NDArray

from models import Queries, TrainSet
from models.item_knn import ItemKNNRecommender
from models.knn import KNNRecommender, query_matrix, sparse_from_csr, top_k_sparse, work_batches

N_TRACKS = 30


def make_train(playlists: list[list[int]], titles: list[str], n_tracks: int) -> TrainSet:
    offsets = np.zeros(len(playlists) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in playlists], out=offsets[1:])
    return TrainSet(
        offsets=offsets,
        track_ids=np.concatenate([np.asarray(p, dtype=np.int32) for p in playlists]),
        titles=np.array(titles, dtype=object),
        n_tracks=n_tracks,
        track_artist=np.arange(n_tracks, dtype=np.int32),
        track_album=np.arange(n_tracks, dtype=np.int32),
    )


def make_queries(seeds: list[list[int]], titles: list[str | None], cats: list[int]) -> Queries:
    offsets = np.zeros(len(seeds) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seeds], out=offsets[1:])
    return Queries(
        pids=np.arange(len(seeds), dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=np.array([t for s in seeds for t in s], dtype=np.int32),
        seed_pos=np.array([j for s in seeds for j in range(len(s))], dtype=np.int32),
        titles=np.array(titles, dtype=object),
        categories=np.array(cats, dtype=np.int8),
    )


def random_data(seed: int = 0) -> tuple[NDArray[np.float64], TrainSet, Queries]:
    """60 playlists of 3..12 tracks (repeats allowed) over 28 of 30 tracks; 12 queries."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, 29)  # Zipf-like popularity over tracks 0..27
    pop /= pop.sum()
    playlists = [
        [int(t) for t in rng.choice(28, size=int(rng.integers(3, 13)), p=pop)] for _ in range(60)
    ]
    train = make_train(playlists, ["x"] * 60, N_TRACKS)
    seeds = [
        [int(t) for t in rng.choice(28, size=int(rng.integers(1, 6)), replace=False)]
        for _ in range(10)
    ]
    seeds += [[29], [28, 3]]  # an unseen track alone, and one next to a seen one
    queries = make_queries(seeds, [None] * 12, [4] * 12)
    B = np.zeros((60, N_TRACKS))  # (P, T) dense binary reference
    for i, p in enumerate(playlists):
        B[i, p] = 1.0
    return B, train, queries


def ref_track_weights(B: NDArray[np.float64], weighting: str) -> NDArray[np.float64]:
    P = B.shape[0]
    df = B.sum(axis=0)
    with np.errstate(divide="ignore"):
        if weighting == "none":
            w = np.ones(B.shape[1])
        elif weighting == "idf":
            w = np.log(P / df)
        else:
            w = np.log((P - df + 0.5) / (df + 0.5) + 1.0)
    w[df == 0] = 0.0
    return w


def ref_similarity(
    B: NDArray[np.float64], Q: NDArray[np.float64], weighting: str
) -> NDArray[np.float64]:
    """Dense (n_queries, P) similarity, straight from the definitions."""
    w = ref_track_weights(B, weighting)
    X, q = B * w, Q * w  # weighted playlist and query vectors
    if weighting == "bm25":
        lens = B.sum(axis=1)
        tf = 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * lens / lens.mean()))  # (P,) binary-tf BM25
        raw = Q @ (X * tf[:, None]).T  # sum of idf * tf over the shared tracks
        best = q.sum(axis=1, keepdims=True) * tf.max()
        return raw / np.where(best > 0, best, 1.0)
    xn = np.linalg.norm(X, axis=1)
    qn = np.linalg.norm(q, axis=1)
    return (q @ X.T) / np.outer(np.where(qn > 0, qn, 1), np.where(xn > 0, xn, 1))


def seed_matrix(queries: Queries, n_tracks: int) -> NDArray[np.float64]:
    Q = np.zeros((len(queries), n_tracks))
    for i in range(len(queries)):
        Q[i, queries.seeds(i)] = 1.0
    return Q


def assert_best_scores(
    recs: NDArray[np.int32], ref_scores: NDArray[np.float64], queries: Queries, k: int
) -> None:
    """Each row holds tracks whose reference scores are the k best (robust to float ties)."""
    for i in range(len(queries)):
        s = ref_scores[i].copy()
        s[queries.seeds(i)] = 0.0
        want = np.sort(s[s > 1e-12])[::-1][:k]
        row = recs[i][recs[i] >= 0]
        assert len(row) == len(want), f"query {i}: {len(row)} recs, expected {len(want)}"
        np.testing.assert_allclose(s[row], want, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- knn


@pytest.mark.parametrize("weighting", ["none", "idf", "bm25"])
def test_knn_similarity_matches_dense(weighting: str) -> None:
    B, train, queries = random_data()
    model = KNNRecommender(weighting=weighting).fit(train)
    Q = seed_matrix(queries, N_TRACKS)
    got = model.similarities(model_query(queries)).toarray()
    np.testing.assert_allclose(got, ref_similarity(B, Q, weighting), rtol=1e-5, atol=1e-6)


def model_query(queries: Queries) -> sp.csr_matrix:
    return query_matrix(queries, np.arange(len(queries)), N_TRACKS)


@pytest.mark.parametrize(("K", "alpha"), [(60, 1.0), (5, 1.0), (8, 2.0)])
def test_knn_scores_match_dense(K: int, alpha: float) -> None:
    B, train, queries = random_data(1)
    model = KNNRecommender(k_neighbors=K, alpha=alpha, weighting="idf").fit(train)
    S = model.similarities(model_query(queries)).toarray()  # checked above against dense
    ref = np.zeros((len(queries), N_TRACKS))
    for i, s in enumerate(S):
        cand = np.flatnonzero(s > 0)
        top = cand[np.lexsort((cand, -s[cand]))][:K]  # ties: lower playlist index
        ref[i] = (s[top] ** alpha) @ B[top]
    recs = model.recommend(queries, 12)
    assert_best_scores(recs, ref, queries, 12)
    assert (recs[10] == -1).all(), "a query whose only seed is unseen has no neighbours"


def test_knn_batching_does_not_change_output() -> None:
    _, train, queries = random_data(2)
    big = KNNRecommender(k_neighbors=7, threads=1).fit(train).recommend(queries, 20)
    tiny = KNNRecommender(k_neighbors=7, work_budget=1, threads=1).fit(train)
    np.testing.assert_array_equal(big, tiny.recommend(queries, 20))
    for threads in (2, 3):  # one-query batches scored on several threads, rows in place
        tiny.threads = threads
        np.testing.assert_array_equal(big, tiny.recommend(queries, 20))


def test_knn_seedless_rows_are_empty() -> None:
    _, train, _ = random_data()
    queries = make_queries([[], [1, 2], []], ["x", None, None], [1, 4, 1])
    recs = KNNRecommender().fit(train).recommend(queries, 5)
    assert (recs[[0, 2]] == -1).all() and (recs[1] >= 0).any()


def test_knn_bad_params() -> None:
    _, train, _ = random_data()
    with pytest.raises(ValueError, match="weighting"):
        KNNRecommender(weighting="tfidf").fit(train)
    with pytest.raises(ValueError, match="k_neighbors"):
        KNNRecommender(k_neighbors=0).fit(train)
    with pytest.raises(ValueError, match="threads"):
        KNNRecommender(threads=-1).fit(train)


# ---------------------------------------------------------------- item_knn


def ref_item_sim(
    B: NDArray[np.float64], M: int, a: float, shrink: float = 0.0
) -> NDArray[np.float64]:
    """Dense (T, T) asymmetric cosine, diagonal 0, pruned to the top M per row."""
    df = B.sum(axis=0)
    C = B.T @ B
    with np.errstate(divide="ignore", invalid="ignore"):
        S = C / (np.outer(df**a, df ** (1 - a)) + shrink)
    S[~np.isfinite(S)] = 0.0
    np.fill_diagonal(S, 0.0)
    out = np.zeros_like(S)
    for i, s in enumerate(S):
        cand = np.flatnonzero(s > 0)
        top = cand[np.lexsort((cand, -s[cand]))][:M]
        out[i, top] = s[top]
    return out


@pytest.mark.parametrize(
    ("M", "a", "shrink", "budget"),
    [(50, 0.5, 0.0, 10**9), (4, 0.5, 0.0, 10**9), (6, 0.8, 0.0, 40), (8, 0.7, 3.0, 100)],
)
def test_item_knn_similarity_matches_dense(M: int, a: float, shrink: float, budget: int) -> None:
    B, train, _ = random_data(3)
    model = ItemKNNRecommender(n_neighbors=M, asymmetry=a, shrink=shrink, work_budget=budget).fit(
        train
    )
    got = model.sim_.toarray()
    ref = ref_item_sim(B, M, a, shrink)
    # same support up to float ties at the cut: compare each row's sorted values
    np.testing.assert_allclose(np.sort(got, axis=1), np.sort(ref, axis=1), rtol=1e-5, atol=1e-7)
    assert (np.diff(model.sim_.indptr) <= M).all()
    assert (np.diag(got) == 0).all()


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_item_knn_scores_match_dense(alpha: float) -> None:
    B, train, queries = random_data(4)
    model = ItemKNNRecommender(n_neighbors=50, alpha=alpha, asymmetry=0.7, shrink=2.0).fit(train)
    S = ref_item_sim(B, 50, 0.7, 2.0) ** alpha
    ref = seed_matrix(queries, N_TRACKS) @ S
    recs = model.recommend(queries, 12)
    assert_best_scores(recs, ref, queries, 12)
    assert (recs[10] == -1).all()


def test_item_knn_blocking_does_not_change_output() -> None:
    _, train, queries = random_data(5)
    big = ItemKNNRecommender(n_neighbors=5).fit(train)
    tiny = ItemKNNRecommender(n_neighbors=5, work_budget=1).fit(train)
    assert (big.sim_ != tiny.sim_).nnz == 0
    np.testing.assert_array_equal(big.recommend(queries, 20), tiny.recommend(queries, 20))


def blocked_item_sim(train: TrainSet, M: int, a: float, shrink: float) -> sp.csr_matrix:
    """item_knn's similarity by the numpy path (scipy product per block, then `prune_rows`),
    float32 as the kernel computes it: the compiled kernel must equal it bit for bit."""
    B = sparse_from_csr(train.offsets, train.track_ids, train.n_tracks)
    BT = B.T.tocsr()
    df = np.diff(BT.indptr).astype(np.float64)
    left = np.power(df, a, out=np.ones(len(df)), where=df > 0).astype(np.float32)
    right = np.power(df, 1 - a, out=np.ones(len(df)), where=df > 0).astype(np.float32)

    def block(sl: slice) -> sp.csr_matrix:
        C = (BT[sl] @ B).tocsr()
        C.data /= np.repeat(left[sl], np.diff(C.indptr)) * right[C.indices] + np.float32(shrink)
        return C

    return neighbour_matrix(BT @ np.diff(B.indptr).astype(np.float64), M, 50, block)


@pytest.mark.parametrize(("M", "a", "shrink"), [(1, 0.5, 0.0), (3, 0.5, 0.0), (5, 0.75, 20.0)])
def test_item_knn_kernel_equals_numpy_path_with_ties(M: int, a: float, shrink: float) -> None:
    """Short playlists over few tracks make many exactly equal similarities at the cut; the
    kernel keeps the same neighbours (ties to the lower column) and the same float32 values,
    whatever the threads and blocks."""
    rng = np.random.default_rng(M)
    lists = [[int(t) for t in rng.choice(30, size=rng.integers(1, 5))] for _ in range(200)]
    train = make_train(lists, ["x"] * 200, N_TRACKS)  # repeats within a playlist count once
    want = blocked_item_sim(train, M, a, shrink)
    for threads, budget in [(1, 10**9), (2, 1), (3, 7)]:
        model = ItemKNNRecommender(
            n_neighbors=M, asymmetry=a, shrink=shrink, threads=threads, work_budget=budget
        )
        assert_same_csr(model.fit(train).sim_, want)


@pytest.mark.parametrize("M", [1, 3, 8])
@pytest.mark.parametrize("values", ["ties", "spread"])
def test_prune_rows_is_exact_with_ties(M: int, values: str) -> None:
    """The vectorised top M per row equals a per-row lexsort (value down, column up), with
    many exact ties at the cut, values over many exponents, negatives and the diagonal."""
    rng = np.random.default_rng(M)
    b, T, first = 40, 60, 10
    D = rng.random((b, T)) < 0.4
    if values == "ties":
        V = rng.choice(np.array([-1.0, 0.25, 0.5, 0.5, 1.0, 3.0]), size=(b, T))
    else:
        V = rng.choice(np.array([-1.0, 1.0]), size=(b, T)) * 10.0 ** rng.uniform(-30, 5, (b, T))
    C = sp.csr_matrix(np.where(D, V, 0.0).astype(np.float32))
    cols, vals, counts = prune_rows(C, M, first)
    got = sp.csr_matrix((vals, cols, np.concatenate([[0], np.cumsum(counts)])), shape=(b, T))
    for j in range(b):
        a, e = C.indptr[j], C.indptr[j + 1]
        c, v = C.indices[a:e], C.data[a:e]
        ok = (v > 0) & (c != first + j)
        c, v = c[ok], v[ok]
        want = c[np.lexsort((c, -v))][:M]
        assert sorted(got[j].indices.tolist()) == sorted(want.tolist()), f"row {j}"
        np.testing.assert_array_equal(got[j].toarray()[0, want], C[j].toarray()[0, want])


def test_item_knn_bad_params() -> None:
    _, train, _ = random_data()
    with pytest.raises(ValueError, match="n_neighbors"):
        ItemKNNRecommender(n_neighbors=0).fit(train)
    with pytest.raises(ValueError, match="asymmetry"):
        ItemKNNRecommender(asymmetry=1.5).fit(train)
    with pytest.raises(ValueError, match="shrink"):
        ItemKNNRecommender(shrink=-1.0).fit(train)


# ---------------------------------------------------------------- helpers


def test_top_k_sparse_exact_with_ties() -> None:
    cols = np.array([9, 3, 7, 1, 5, 2], dtype=np.int32)
    vals = np.array([0.5, 0.9, 0.5, 0.5, 0.0, 0.7], dtype=np.float32)
    assert cols[top_k_sparse(cols, vals, 3)].tolist() == [3, 2, 1]  # tie 0.5: lowest col
    assert cols[top_k_sparse(cols, vals, 10)].tolist() == [3, 2, 1, 7, 9]  # zero dropped
    assert len(top_k_sparse(cols[:0], vals[:0], 3)) == 0


def test_work_batches_cover_and_respect_budget() -> None:
    work = np.array([5, 1, 1, 9, 20, 2, 2, 2], dtype=np.float64)
    batches = list(work_batches(work, budget=10, max_rows=3))
    assert np.concatenate([np.arange(len(work))[b] for b in batches]).tolist() == list(range(8))
    for b in batches:
        assert work[b].sum() <= 10 or b.stop - b.start == 1
        assert b.stop - b.start <= 3
