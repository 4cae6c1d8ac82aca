"""Tests for models/vectors.py: query vectors, cosine ranking, seed exclusion, -1 rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from models.base import Queries
from models.vectors import normalize_rows, query_vectors, recommend_from_vectors


def make_queries(seed_lists: list[list[int]]) -> Queries:
    """Queries with the given seeds (positions 0..K-1, no titles)."""
    lens = np.array([len(s) for s in seed_lists], dtype=np.int64)
    offsets = np.zeros(len(seed_lists) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    seeds = np.array([t for s in seed_lists for t in s], dtype=np.int32)
    pos = np.concatenate([np.arange(n) for n in lens]).astype(np.int32) if len(seeds) else seeds
    return Queries(
        pids=np.arange(len(seed_lists), dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=seeds,
        seed_pos=pos,
        titles=np.array([None] * len(seed_lists), dtype=object),
        categories=np.zeros(len(seed_lists), dtype=np.int8),
    )


def unit_circle(degrees: Sequence[float]) -> np.ndarray:
    """(n, 2) unit vectors at the given angles."""
    a = np.deg2rad(np.array(degrees))
    return np.stack([np.cos(a), np.sin(a)], axis=1).astype(np.float32)


# track 0 at 0°, 1 at 10°, 2 at 30°, 3 at 60°, 4 at 100°, 5 at 180°, 6: no vector (zero row)
ANGLES = [0, 10, 30, 60, 100, 180]


@pytest.fixture
def vectors() -> np.ndarray:
    v = np.zeros((7, 2), dtype=np.float32)
    v[:6] = unit_circle(ANGLES)
    return v


def test_normalize_rows_keeps_zero_rows() -> None:
    v = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
    u = normalize_rows(v)
    assert u.dtype == np.float32
    np.testing.assert_allclose(u, [[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]])


def test_ordering_by_cosine_seed_excluded(vectors: np.ndarray) -> None:
    # a seed at 0°: the others by angle 10, 30, 60, 100, 180; the zero-row track never appears
    recs = recommend_from_vectors(vectors, make_queries([[0]]), k=7)
    assert recs.dtype == np.int32
    assert recs.tolist() == [[1, 2, 3, 4, 5, -1, -1]]


def test_mean_of_seeds(vectors: np.ndarray) -> None:
    # seeds at 0° and 60° (mean direction 30°): 2 (0°), then 1 (20°), 4 (70°), 5 (150°)
    recs = recommend_from_vectors(vectors, make_queries([[0, 3]]), k=4)
    assert recs.tolist() == [[2, 1, 4, 5]]


def test_seeds_without_vectors_ignored(vectors: np.ndarray) -> None:
    # track 6 has no vector: the query is the same as seeds [5] alone; 6 never recommended
    recs = recommend_from_vectors(vectors, make_queries([[6, 5], [5]]), k=5)
    assert recs[0].tolist() == recs[1].tolist() == [4, 3, 2, 1, 0]


def test_no_usable_seed_gives_minus_one_rows(vectors: np.ndarray) -> None:
    recs = recommend_from_vectors(vectors, make_queries([[6], [], [1]]), k=3)
    assert recs[0].tolist() == [-1, -1, -1]
    assert recs[1].tolist() == [-1, -1, -1]
    assert recs[2].tolist() == [0, 2, 3]


def test_duplicate_seeds_count_twice(vectors: np.ndarray) -> None:
    # 0° twice and 100° once: mean at atan2(sin100, 2+cos100) ≈ 31°, nearest candidate 2 (30°)
    Q, usable = query_vectors(vectors, make_queries([[0, 0, 4]]), np.ones(7, dtype=bool))
    assert usable.tolist() == [True]
    np.testing.assert_allclose(Q[0], (2 * vectors[0] + vectors[4]) / 3, rtol=1e-6)
    recs = recommend_from_vectors(vectors, make_queries([[0, 0, 4]]), k=1)
    assert recs.tolist() == [[2]]


@pytest.mark.parametrize("chunk,max_block", [(1, 1 << 27), (2, 1 << 27), (256, 7), (256, 1)])
def test_blocking_does_not_change_results(vectors: np.ndarray, chunk: int, max_block: int) -> None:
    queries = make_queries([[0], [5], [], [2, 3], [6], [1, 4, 0]])
    ref = recommend_from_vectors(vectors, queries, k=6)
    got = recommend_from_vectors(vectors, queries, k=6, chunk=chunk, max_block_scores=max_block)
    np.testing.assert_array_equal(got, ref)


def test_matches_brute_force_on_random_vectors() -> None:
    rng = np.random.default_rng(0)
    v = normalize_rows(rng.normal(size=(300, 8)))
    v[rng.choice(300, 40, replace=False)] = 0  # 40 tracks without a vector
    seed_lists = [rng.choice(300, size=int(s), replace=False).tolist() for s in [1, 5, 10, 3]]
    recs = recommend_from_vectors(v, make_queries(seed_lists), k=50, chunk=3)
    has = np.any(v != 0, axis=1)
    for row, seeds in zip(recs, seed_lists, strict=True):
        ok = [s for s in seeds if has[s]]
        q = v[ok].mean(axis=0)
        q /= np.linalg.norm(q)
        score = v @ q
        score[~has] = -np.inf
        score[seeds] = -np.inf
        expected = np.argsort(-score, kind="stable")[:50]
        assert not set(row.tolist()) & set(seeds)
        assert np.all(has[row])
        np.testing.assert_allclose(score[row], score[expected], rtol=1e-5, atol=1e-6)


def test_fewer_candidates_than_k(vectors: np.ndarray) -> None:
    recs = recommend_from_vectors(vectors, make_queries([[0, 1, 2, 3, 4]]), k=500)
    assert recs.shape == (1, 500)
    assert recs[0, 0] == 5
    assert np.all(recs[0, 1:] == -1)


@pytest.mark.cuda
def test_cuda_gives_the_cpu_ranking() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(1)
    v = normalize_rows(rng.normal(size=(5000, 16)))
    v[:100] = 0
    queries = make_queries([rng.choice(5000, size=n, replace=False).tolist() for n in [1, 5, 25]])
    cpu = recommend_from_vectors(v, queries, k=100, chunk=2)
    gpu = recommend_from_vectors(v, queries, k=100, chunk=2, device="cuda")
    assert (gpu >= 100).all()  # never a track without a vector
    for i in range(len(queries)):  # same scores in the same order (ids may swap on near-ties)
        q = v[queries.seeds(i)].mean(axis=0)
        np.testing.assert_allclose(v[gpu[i]] @ q, v[cpu[i]] @ q, rtol=1e-5, atol=1e-6)


def test_candidates_restrict_recommendations_not_seeds(vectors: np.ndarray) -> None:
    allowed = np.ones(7, dtype=bool)
    allowed[[1, 5]] = False
    recs = recommend_from_vectors(vectors, make_queries([[0], [5]]), k=3, candidates=allowed)
    assert recs[0].tolist() == [2, 3, 4]
    assert recs[1].tolist() == [4, 3, 2]  # seed 5 is not a candidate but still a query vector
