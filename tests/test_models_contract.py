"""The one contract every registered model honours: `harness.run.contract.CHECKS` (the checks
`mpd-harness check-model` runs) over all of `models.MODELS`, plus a quality check on two clusters.

Models registered later are covered automatically; `TINY_PARAMS` shrinks slow ones for these tiny
fixtures (only the keys a model accepts are applied).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

import numpy as np
import pytest
from numpy.typing import NDArray

from harness.errors import ParameterError, UsageError
from harness.run.contract import (
    CHECKS,
    Check,
    CheckSkipped,
    Subject,
    check_recs,
    make_queries,
    make_train,
    mixed_validation,
    run_checks,
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
    model, train = make_model(name), two_cluster_train()
    if getattr(model, "needs_validation", False):
        train = replace(train, validation=mixed_validation(train))
    recs = model.fit(train).recommend(queries, 25)
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


# ---------------------------------------------------------------- the checks have teeth


class Good(Recommender):
    """Popularity over the whole catalogue: keeps the contract."""

    determinism_note = "always: counting only, ties go to the lower track id"
    cold_start = "model"

    def __init__(self, shift: int = 0) -> None:
        self.shift = shift

    def check_params(self) -> None:
        if self.shift < 0:
            raise ParameterError(f"shift must be >= 0, got {self.shift}")

    def _fit(self, train: TrainSet) -> Good:
        counts = np.bincount(train.track_ids, minlength=train.n_tracks)
        self.ranking_ = np.argsort(-counts, kind="stable").astype(np.int32)
        return self

    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = np.full((len(queries), k), -1, dtype=np.int32)
        for i in range(len(queries)):
            picks = self.ranking_[~np.isin(self.ranking_, queries.seeds(i))][:k]
            out[i, : len(picks)] = picks
        return out


class TitleGood(Good):
    cold_start = "title"


class BadParams(Good):
    def __init__(self, shift: int = -1) -> None:
        self.shift = shift


class Int64(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        return super().recommend(queries, k).astype(np.int64)  # type: ignore[return-value]


class Short(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        return super().recommend(queries, k)[:, :499]


class NoQueries(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        return super().recommend(queries, k) if len(queries) else np.zeros(0, dtype=np.int32)


class OutOfRange(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        out[:, 0] = 10_000
        return out


class SeedFirst(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        for i in range(len(queries)):
            if len(queries.seeds(i)):
                out[i, 1:] = out[i, :-1]
                out[i, 0] = queries.seeds(i)[0]
        return out


class Twice(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        out[:, 1] = out[:, 0]
        return out


class GapFirst(TitleGood):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        out[:, 0] = -1
        return out


class Silent(TitleGood):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        return np.full((len(queries), k), -1, dtype=np.int32)


class Mutator(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        queries.seed_pos[:] = 0
        return out


class Unseeded(Good):
    def _fit(self, train: TrainSet) -> Unseeded:
        self.ranking_ = np.random.default_rng().permutation(train.n_tracks).astype(np.int32)
        return self


class NoNote(Good):
    determinism_note = ""


class Meddler(Good):
    def __init__(self, shift: int = 0) -> None:
        self.shift = shift + 1


class Unmarked(Good):
    def _fit(self, train: TrainSet) -> Unmarked:
        self.ranking = Good._fit(self, train).ranking_
        del self.ranking_
        return self

    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        self.ranking_ = self.ranking
        try:
            return super().recommend(queries, k)
        finally:
            del self.ranking_


class ColdShort(Good):
    def recommend(self, queries: Queries, k: int = 500) -> NDArray[np.int32]:
        out = super().recommend(queries, k)
        out[queries.n_seeds == 0, k // 2 :] = -1
        return out


class Maybe(Good):
    cold_start = "maybe"


# (model, the check it breaks, whether it breaks that one alone)
BROKEN: list[tuple[type[Recommender], str, bool]] = [
    (BadParams, "check_params", False),  # fit checks the parameters too: every fit fails
    (Int64, "shape", False),  # every check that reads a dtype
    (Short, "exactly_k", True),
    (NoQueries, "no_queries", True),
    (OutOfRange, "ids_in_range", True),
    (SeedFirst, "no_seeds", True),
    (Twice, "no_duplicates", True),
    (GapFirst, "padding_last", True),
    (Silent, "answers_seeded", True),
    (Mutator, "inputs_untouched", True),
    (Unseeded, "deterministic", True),
    (NoNote, "determinism_note", True),
    (Meddler, "params_round_trip", False),  # clone refuses it, in learned_state too
    (Unmarked, "learned_state", True),
    (ColdShort, "cold_start", True),
    (Maybe, "cold_start", True),
]


def failed_checks(cls: type[Recommender]) -> list[str]:
    subject = Subject(cls.__name__, lambda p: cls(**p))
    return [o.check.name for o in run_checks(subject) if o.status == "fail"]


def test_a_good_model_passes_every_check() -> None:
    assert failed_checks(Good) == failed_checks(TitleGood) == []


@pytest.mark.parametrize(("cls", "check", "alone"), BROKEN, ids=[b[0].__name__ for b in BROKEN])
def test_each_check_catches_its_fault(cls: type[Recommender], check: str, alone: bool) -> None:
    failed = failed_checks(cls)
    assert check in failed
    if alone:
        assert failed == [check]


def test_every_check_has_teeth() -> None:
    assert {b[1] for b in BROKEN} == {c.name for c in CHECKS}


def test_a_skipped_check_says_why() -> None:
    class Random(Unseeded):
        deterministic = False
        determinism_note = "never: an unseeded shuffle"

    outcomes = {o.check.name: o for o in run_checks(Subject("r", lambda p: Random(**p)))}
    assert outcomes["deterministic"].status == "skip"
    assert "never: an unseeded shuffle" in outcomes["deterministic"].reason
    assert {o.status for n, o in outcomes.items() if n != "deterministic"} == {"pass"}
