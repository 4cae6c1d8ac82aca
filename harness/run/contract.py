"""The model contract: the checks every model passes, built-in or your own, on tiny generated data.

One list, `CHECKS`, run by `tests/test_models_contract.py` over every registered model and by
`mpd-harness check-model SPEC` over any model (a registered name, a plugin's entry-point name or
a `module:Class` path). A check raises `ContractError` with the reason, or `CheckSkipped` when
it does not apply; `run_checks` turns each into an `Outcome` (anything else the model raises is
a failure too).

The data: 60 training playlists over three 12-track clusters, a 40-track catalogue (ids 36..39
never occur in training) and nine queries mixing titles, seeds, repeated seeds, seeds unknown to
training and seedless ones. Small enough that every built-in model passes in seconds with
`TINY_PARAMS`. A model that needs validation (`needs_validation`) is fitted on the same
playlists with ten of them as its validation split (`mixed_validation`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.types import IntArray, Queries, TrainSet, Validation

if TYPE_CHECKING:
    from models.base import Recommender

N_TRACKS = 40  # ids 36..39 never occur in training
K = 10  # the k of most checks
CHALLENGE_K = 500  # the challenge's k, more than the catalogue: the tail must be padding

# Small, fast settings of the built-in models for this tiny data (applied only where the model
# has the parameter; `check-model -p` overrides them).
TINY_PARAMS: dict[str, dict[str, Any]] = {
    # no subsampling: on a 30-track vocabulary it would drop most of the tiny corpus
    "w2v": {"epochs": 30, "dim": 16, "sample": 0.0, "workers": 1, "min_count": 1, "seed": 0},
    "sgns": {"epochs": 30, "dim": 16, "sample": 0.0, "min_count": 1, "window": 5, "seed": 0}
    | {"device": "cpu", "threads": 1},
    "knn": {"k_neighbors": 20},
    "item_knn": {"n_neighbors": 10},
    "als": {"factors": 3},  # as many as the data's clusters: more memorise the 60 playlists
    "rerank": {"n_candidates": 30, "n_estimators": 20, "min_child_samples": 5, "num_threads": 1},
}


class ContractError(AssertionError):
    """A model breaks a check of the contract; the message says how."""


class CheckSkipped(Exception):
    """A check does not apply to this model (e.g. determinism of a model that disclaims it)."""


# ---------------------------------------------------------------------------- the data


def make_train(playlists: list[list[int]], titles: list[str], n_tracks: int) -> TrainSet:
    """A TrainSet of hand-made playlists; artist = id // 3, album = id // 2."""
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
    """Queries with pids 1000, 1001, ...; seeds at positions 0, 1, ..."""
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


def train_for(model: Recommender) -> TrainSet:
    """`mixed_train()`, with `mixed_validation` attached for a model that needs validation."""
    train = mixed_train()
    if not getattr(model, "needs_validation", False):
        return train
    return replace(train, validation=mixed_validation(train))


def mixed_validation(train: TrainSet) -> Validation:
    """Ten of the training playlists as a validation split: rows 0-8 with their first track as
    the seed (category 2), row 9 seedless (category 1); every other track held out."""
    playlists = [train.playlist(i).tolist() for i in range(10)]
    seeds = [p[:1] for p in playlists[:9]] + [[]]
    holdouts = [p[1:] for p in playlists[:9]] + [playlists[9]]
    queries = make_queries(seeds, [str(t) for t in train.titles[:10]], [2] * 9 + [1])
    offsets = np.zeros(11, dtype=np.int64)
    np.cumsum([len(h) for h in holdouts], out=offsets[1:])
    return Validation(
        rows=np.arange(10, dtype=np.int64),
        queries=queries,
        holdout_offsets=offsets,
        holdout_ids=np.array([t for h in holdouts for t in h], dtype=np.int32),
        fingerprint="contract",
    )


def mixed_queries() -> Queries:
    """Nine queries: seeded, seedless, a repeated seed, seeds never seen in training, titles
    known, unknown and withheld."""
    return make_queries(
        seeds=[[0, 1, 2], [], [13], [5, 5, 6], [30, 31, 32, 33, 34], [37], [], [], [0, 12, 24]],
        titles=["alpha", "beta", None, None, "gamma", "gamma", None, "no such title", None],
        cats=[3, 1, 4, 6, 5, 3, 1, 1, 4],
    )


def seedless_queries() -> Queries:
    """Three cold-start queries: a known title, none, an unknown one."""
    return make_queries([[], [], []], ["beta", None, "no such title"], [1, 1, 1])


QUERIES: dict[str, Callable[[], Queries]] = {"mixed": mixed_queries, "seedless": seedless_queries}
# The answers every row check examines: (queries, k).
OUTPUTS: list[tuple[str, int]] = [("mixed", K), ("mixed", CHALLENGE_K), ("seedless", K)]


def tiny_params(name: str) -> dict[str, Any]:
    """`TINY_PARAMS` of a built-in model, restricted to the parameters it has."""
    from models import MODELS

    if name not in MODELS:
        return {}
    valid = MODELS[name]().get_params()
    return {k: v for k, v in TINY_PARAMS.get(name, {}).items() if k in valid}


# ---------------------------------------------------------------------------- the subject


@dataclass
class Subject:
    """A model under test: how to build it, and its answers on the data, each computed once."""

    name: str
    build: Callable[[dict[str, Any]], Recommender]  # params -> a fresh, unfitted model
    params: dict[str, Any] = field(default_factory=dict)  # the settings the checks use
    _fitted: Recommender | Exception | None = field(default=None, init=False, repr=False)
    _answers: dict[tuple[str, int], Any] = field(default_factory=dict, init=False, repr=False)

    def make(self) -> Recommender:
        return self.build(dict(self.params))

    def fitted(self) -> Recommender:
        """The model fitted on `mixed_train()` (once; a fit that raised fails every check that
        needs it, without fitting again)."""
        if self._fitted is None:
            try:
                model = self.make()
                self._fitted = model.fit(train_for(model))
            except Exception as e:
                self._fitted = e
        if isinstance(self._fitted, Exception):
            error = self._fitted
            raise ContractError(f"fit raised {type(error).__name__}: {error}") from error
        return self._fitted

    def answer(self, which: str, k: int) -> Any:
        """What the fitted model recommends for `QUERIES[which]` at `k` (once), as returned."""
        if (which, k) not in self._answers:
            self._answers[which, k] = self.fitted().recommend(QUERIES[which](), k)
        return self._answers[which, k]


def subject_for(spec: str, params: dict[str, Any] | None = None) -> Subject:
    """The subject of `check-model`: a name, plugin or path, with `TINY_PARAMS` for a built-in
    name, then `params`. Unknown parameters fail here, before any check."""
    from harness.run.factory import instantiate, model_name

    name = model_name(spec)
    given = {**(tiny_params(spec) if ":" not in spec else {}), **(params or {})}
    settings = instantiate(spec, given).get_params(deep=False)  # `alpha=1` becomes 1.0
    given = {k: settings[k] for k in given}
    return Subject(name, lambda p: instantiate(spec, p), given)


# ---------------------------------------------------------------------------- row checks


def _call(which: str, k: int) -> str:
    return f"recommend({which} queries, k={k})"


def _rows(subject: Subject) -> Iterator[tuple[str, Queries, NDArray[Any]]]:
    """(label, queries, 2-D answer) of every answer the row checks examine."""
    for which, k in OUTPUTS:
        recs = np.asarray(subject.answer(which, k))
        if recs.ndim != 2:
            raise ContractError(f"{_call(which, k)} returned shape {recs.shape}, not 2-D")
        yield _call(which, k), QUERIES[which](), recs


def _where(queries: Queries, i: int) -> str:
    return f"row {i} (pid {queries.pids[i]})"


def ids_in_range(subject: Subject) -> None:
    for label, queries, recs in _rows(subject):
        bad = np.argwhere((recs < -1) | (recs >= N_TRACKS))
        if len(bad):
            i, j = bad[0]
            raise ContractError(
                f"{label}: {_where(queries, i)}: id {recs[i, j]} at rank {j + 1} is outside "
                f"[-1, {N_TRACKS})"
            )


def no_seeds(subject: Subject) -> None:
    for label, queries, recs in _rows(subject):
        for i, row in enumerate(recs[: len(queries)]):
            hit = np.flatnonzero(np.isin(row, queries.seeds(i)) & (row >= 0))
            if len(hit):
                raise ContractError(
                    f"{label}: {_where(queries, i)}: seed track {row[hit[0]]} recommended at "
                    f"rank {hit[0] + 1}"
                )


def no_duplicates(subject: Subject) -> None:
    for label, queries, recs in _rows(subject):
        for i, row in enumerate(recs[: len(queries)]):
            valid = row[row >= 0]
            values, counts = np.unique(valid, return_counts=True)
            if (counts > 1).any():
                raise ContractError(
                    f"{label}: {_where(queries, i)}: track {values[counts > 1][0]} recommended "
                    f"{counts.max()} times"
                )


def padding_last(subject: Subject) -> None:
    for label, queries, recs in _rows(subject):
        for i, row in enumerate(recs[: len(queries)]):
            n_valid = int((row >= 0).sum())
            if not ((row[:n_valid] >= 0).all() and (row[n_valid:] == -1).all()):
                raise ContractError(
                    f"{label}: {_where(queries, i)}: -1 must only pad the end of a row: {row}"
                )


def check_recs(recs: NDArray[Any], queries: Queries, k: int, n_tracks: int) -> None:
    """Shape, dtype, range, no duplicates, no seeds, -1 only as trailing padding, of one answer
    (for tests with their own data)."""
    _shape(recs, (len(queries), k), "recommend")
    if not ((recs >= -1) & (recs < n_tracks)).all():
        raise ContractError(f"ids out of [-1, {n_tracks})")
    for i, row in enumerate(recs):
        valid = row[row >= 0]
        if len(np.unique(valid)) != len(valid):
            raise ContractError(f"row {i}: duplicate ids")
        if np.isin(valid, queries.seeds(i)).any():
            raise ContractError(f"row {i}: a seed is recommended")
        if not ((row[: len(valid)] >= 0).all() and (row[len(valid) :] == -1).all()):
            raise ContractError(f"row {i}: -1 must only pad the end")


# ---------------------------------------------------------------------------- the checks


def _shape(recs: Any, shape: tuple[int, int], label: str) -> IntArray:
    if not isinstance(recs, np.ndarray):
        raise ContractError(f"{label} returned {type(recs).__name__}, not a numpy array")
    if recs.shape != shape:
        raise ContractError(f"{label} returned shape {recs.shape}, expected {shape}")
    if recs.dtype != np.int32:
        raise ContractError(f"{label} returned dtype {recs.dtype}, expected int32")
    return recs


def shape(subject: Subject) -> None:
    _shape(subject.answer("mixed", K), (len(mixed_queries()), K), _call("mixed", K))


def exactly_k(subject: Subject) -> None:
    recs = _shape(
        subject.answer("mixed", CHALLENGE_K),
        (len(mixed_queries()), CHALLENGE_K),
        _call("mixed", CHALLENGE_K),
    )
    # at most the unseeded catalogue can be offered: the tail is always padding
    if not (recs[:, N_TRACKS:] == -1).all():
        raise ContractError(f"ids past rank {N_TRACKS} though the catalogue has {N_TRACKS}")


def no_queries(subject: Subject) -> None:
    recs = subject.fitted().recommend(make_queries([], [], []), 5)
    _shape(recs, (0, 5), "recommend(no queries, k=5)")


def answers_seeded(subject: Subject) -> None:
    recs = np.asarray(subject.answer("mixed", K))
    if not (recs[0] >= 0).any():
        raise ContractError(
            f"{_call('mixed', K)}: row 0 (seeds 0, 1, 2, all in training) got no track"
        )


def inputs_untouched(subject: Subject) -> None:
    """fit and recommend must not modify the shared TrainSet or Queries arrays in place."""
    model = subject.make()
    train, queries = train_for(model), mixed_queries()
    arrays = {
        **{f"train.{a}": getattr(train, a) for a in ("offsets", "track_ids", "titles")},
        **{f"train.{a}": getattr(train, a) for a in ("track_artist", "track_album")},
        **{f"queries.{a}": getattr(queries, a) for a in ("pids", "seed_offsets", "seed_ids")},
        **{f"queries.{a}": getattr(queries, a) for a in ("seed_pos", "titles", "categories")},
    }
    if train.validation is not None:
        arrays |= {f"validation.{a}": getattr(train.validation, a) for a in ("rows", "holdout_ids")}
    before = {a: v.copy() for a, v in arrays.items()}
    model.fit(train).recommend(queries, K)
    changed = [a for a, v in arrays.items() if not np.array_equal(v, before[a])]
    if changed:
        raise ContractError(f"fit or recommend changed {', '.join(changed)} in place")


def deterministic(subject: Subject) -> None:
    """Two fits with the same settings (seed included) give identical recommendations."""
    model = subject.make()
    if not getattr(type(model), "deterministic", True):
        raise CheckSkipped(f"the model says it is not deterministic: {model.determinism_note}")
    a = np.asarray(subject.answer("mixed", K))
    b = np.asarray(model.fit(train_for(model)).recommend(mixed_queries(), K))
    if a.shape != b.shape or not np.array_equal(a, b):
        rows: list[int] = (
            np.flatnonzero((a != b).any(axis=1)).tolist() if a.shape == b.shape else []
        )
        raise ContractError(
            "two fits with the same parameters gave different recommendations"
            + (f" (rows {', '.join(map(str, rows))})" if len(rows) else "")
            + "; seed every random draw from a `seed` parameter, or set deterministic = False"
        )


def determinism_note(subject: Subject) -> None:
    """Every model says under what conditions it repeats itself (the manifest shows it)."""
    if not str(getattr(type(subject.make()), "determinism_note", "")).strip():
        raise ContractError(
            "set the class attribute determinism_note to say when two fits give the same "
            'recommendations (e.g. "always: counting only, ties go to the lower track id")'
        )


def check_params(subject: Subject) -> None:
    """`check_params` accepts the settings the checks use (the defaults, for your own model)."""
    subject.make().check_params()


def params_round_trip(subject: Subject) -> None:
    """get_params survives clone and rebuilding from the params; repr names the model."""
    from sklearn.base import clone

    model = subject.make()
    params = model.get_params()
    if (got := clone(model).get_params()) != params:
        raise ContractError(f"clone changed the parameters: {params} -> {got}")
    if (got := subject.build(params).get_params()) != params:
        raise ContractError(f"rebuilding from get_params() changed them: {params} -> {got}")
    if (keys := type(model)().get_params().keys()) != params.keys():
        raise ContractError(f"a default instance has other parameters: {sorted(keys)}")
    if subject.name not in repr(model) and type(model).__name__ not in repr(model):
        raise ContractError(f"repr {model!r} names neither {subject.name} nor the class")


def learned_state(subject: Subject) -> None:
    """Learned state lives only in attributes ending in `_`: a clone of a fitted model is unfitted."""
    from sklearn.base import clone

    fitted = subject.fitted()
    learned = [a for a in vars(fitted) if a.endswith("_") and not a.startswith("__")]
    if not learned:
        raise ContractError("fit stored no learned attribute ending in _ (e.g. self.counts_)")
    kept = [a for a in learned if hasattr(clone(fitted), a)]
    if kept:
        raise ContractError(f"a clone of the fitted model still has {', '.join(kept)}")


def cold_start(subject: Subject) -> None:
    """Seedless queries: answered in full by the model itself, or left to the title baseline.

    A model with cold_start "title" never sees them in the runner; called directly it must
    still return a valid (possibly all -1) answer.
    """
    from harness.run.factory import COLD_START

    declared = getattr(type(subject.make()), "cold_start", None)
    if declared not in COLD_START:
        raise ContractError(f"cold_start must be one of {COLD_START}, got {declared!r}")
    n = len(seedless_queries())
    recs = _shape(subject.answer("seedless", K), (n, K), _call("seedless", K))
    short = (recs >= 0).sum(axis=1)
    if declared == "model" and short.min() < K:
        raise ContractError(
            f'cold_start is "model" but a seedless query got {short.min()} of {K} tracks '
            '(answer every query, or set cold_start = "title")'
        )


@dataclass(frozen=True)
class Check:
    """One named check of the contract."""

    name: str
    description: str
    run: Callable[[Subject], None]


CHECKS: list[Check] = [
    Check("check_params", "check_params accepts the settings", check_params),
    Check("shape", f"recommend(queries, {K}) is an int32 array (n_queries, {K})", shape),
    Check(
        "exactly_k",
        f"k={CHALLENGE_K} gives (n_queries, {CHALLENGE_K}), -1 past the catalogue",
        exactly_k,
    ),
    Check("no_queries", "zero queries give an int32 array (0, k)", no_queries),
    Check("ids_in_range", "every id is -1 or in [0, n_tracks)", ids_in_range),
    Check("no_seeds", "no row recommends one of its seed tracks", no_seeds),
    Check("no_duplicates", "no row holds a track twice", no_duplicates),
    Check("padding_last", "-1 only pads the end of a row", padding_last),
    Check("answers_seeded", "a query with seeds seen in training gets tracks", answers_seeded),
    Check("inputs_untouched", "fit and recommend leave their inputs unchanged", inputs_untouched),
    Check(
        "deterministic", "two fits with the same seed give identical recommendations", deterministic
    ),
    Check(
        "determinism_note", "determinism_note says when the model repeats itself", determinism_note
    ),
    Check("params_round_trip", "get_params survives clone and rebuilding", params_round_trip),
    Check("learned_state", "learned state ends in _; a clone is unfitted", learned_state),
    Check(
        "cold_start",
        'seedless queries: k tracks for cold_start "model", valid for "title"',
        cold_start,
    ),
]


@dataclass(frozen=True)
class Outcome:
    """The result of one check: "pass", "fail" (with the reason) or "skip" (with why)."""

    check: Check
    status: str
    reason: str = ""


def run_checks(subject: Subject, checks: list[Check] | None = None) -> Iterator[Outcome]:
    """Each check's outcome, in order, as it completes; whatever the model raises fails that
    check (the others still run)."""
    for check in CHECKS if checks is None else checks:
        try:
            check.run(subject)
        except CheckSkipped as e:
            yield Outcome(check, "skip", str(e))
        except ContractError as e:
            yield Outcome(check, "fail", str(e))
        except Exception as e:  # the model's own error: report it as this check's failure
            yield Outcome(check, "fail", f"{type(e).__name__}: {e}")
        else:
            yield Outcome(check, "pass")
