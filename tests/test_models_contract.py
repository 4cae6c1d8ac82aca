"""The one contract every registered model honours: `harness.run.contract.CHECKS` (the checks
`mpd-harness check-model` runs) over all of `models.MODELS`, plus a quality check on two clusters.

Models registered later are covered automatically; `TINY_PARAMS` shrinks slow ones for these tiny
fixtures (only the keys a model accepts are applied).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from numpy.typing import NDArray

from harness.errors import UsageError
from harness.run.contract import (
    CHECKS,
    Check,
    CheckSkipped,
    Subject,
    check_recs,
    make_queries,
    make_train,
    tiny_params,
)
from models import MODELS, Queries, Recommender, TrainSet, get_model

NAMES = sorted(MODELS)


def make_model(name: str) -> Recommender:
    return get_model(name, **tiny_params(name))


@cache
def subject(name: str) -> Subject:
    """One subject per model, shared by its checks: the model is fitted once."""
    return Subject(name, lambda p: get_model(name, **p), tiny_params(name))


# ---------------------------------------------------------------- the contract


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
@pytest.mark.parametrize("name", NAMES)
def test_contract(name: str, check: Check) -> None:
    try:
        check.run(subject(name))
    except CheckSkipped as e:
        pytest.skip(f"{name}: {e}")


def test_the_contract_names_every_check_once() -> None:
    names = [c.name for c in CHECKS]
    assert len(set(names)) == len(names)
    assert {"shape", "exactly_k", "no_seeds", "no_duplicates", "ids_in_range"} <= set(names)
    assert {"deterministic", "params_round_trip", "cold_start"} <= set(names)


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


def test_unknown_model_lists_names() -> None:
    with pytest.raises(UsageError, match="available: .*popular"):
        get_model("no-such-model")


def test_unknown_param_lists_params() -> None:
    with pytest.raises(UsageError, match="its parameters"):
        get_model("popular", no_such_param=1)
