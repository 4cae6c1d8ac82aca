"""One tuning trial: fit a model on the training playlists without the validation ones, answer
the validation queries and score them on the validation split's held-out tracks.

The steps are evaluate's own (`answer_queries` with the shared title baseline, `backfill`, every
registered metric through `validation_metrics`), as in `harness.run.validate.validate`, so a
trial's score is exactly what `evaluate --score-on validation` reports for the same parameters.
The test split's ground truth is not in a `Target` at all: a trial cannot read it.

`pack`/`unpack` turn a target into plain numpy arrays and back, for Ray's object store: numpy
arrays come back zero-copy (read-only views of shared memory), so the corpus is stored once
per machine whatever the number of trials. Titles travel as int32 codes into a small unicode
vocabulary, not as an object array (which Ray would have to unpickle in every task).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.run.manifest import RssSampler
from harness.types import IntArray, Queries, TrainSet, Validation

if TYPE_CHECKING:
    from models.base import Recommender

# (step, value) -> None: where an epoch's validation score goes; raising stops the fit (pruning)
IntermediateFn = Callable[[int, float], None]
CHECKS = 4  # intermediate scores per fit of a model with checkpoints (about every quarter)


@dataclass(frozen=True)
class Target:
    """What a trial is fitted on and scored against (the validation split of a run)."""

    train: TrainSet  # what the model fits on: training playlists minus the validation ones
    validation: Validation  # its queries and held-out tracks (`rows` unused here)
    k: int
    key: str  # identifies the data and the validation split (a worker's cache key)


def validation_target(train: TrainSet, k: int, key: str) -> Target:
    """The target of a training set that carries its validation split."""
    assert train.validation is not None
    return Target(train.without_validation(), train.validation, k, key)


@dataclass
class TrialOutcome:
    """What one trial measured: the mean of every metric over the validation queries, time and
    memory of the worker that ran it."""

    values: dict[str, float]
    fit_s: float
    recommend_s: float
    peak_rss_mb: float  # the worker's peak RSS during the trial (shared arrays it touched count)
    rss_before_mb: float
    backfilled: int  # slots filled with popular tracks
    shared_mb: float = 0.0  # of the RSS at the end, pages that other processes may share: the
    # object store's arrays (mapped by every worker of the machine) and shared libraries
    steps: dict[int, float] = field(default_factory=dict)  # intermediate values reported

    def to_json(self) -> dict[str, Any]:
        return {
            "values": self.values,
            "fit_s": round(self.fit_s, 3),
            "recommend_s": round(self.recommend_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "rss_before_mb": round(self.rss_before_mb, 1),
            "backfilled": self.backfilled,
            "shared_mb": round(self.shared_mb, 1),
            "steps": {str(k): v for k, v in self.steps.items()},
        }


# the popularity ranking and fitted title baseline of the last target, kept per worker process:
# Ray reuses its workers, so each fits them once rather than once per trial
_SHARED: dict[str, tuple[IntArray, list[Recommender]]] = {}


def _shared(target: Target) -> tuple[IntArray, Callable[[], Recommender]]:
    from models.popular import popularity_ranking
    from models.title import TitleRecommender

    if target.key not in _SHARED:
        _SHARED.clear()
        _SHARED[target.key] = (popularity_ranking(target.train), [])
    ranking, title = _SHARED[target.key]

    def title_model() -> Recommender:
        if not title:
            title.append(TitleRecommender().fit(target.train))
        return title[0]

    return ranking, title_model


def score_model(model: Recommender, target: Target, name: str) -> tuple[dict[str, float], int]:
    """Mean of every metric over the target's queries, and the backfilled slots."""
    from harness.challenge.scoring import validation_metrics
    from harness.run.checks import backfill
    from harness.run.evaluate import answer_queries

    ranking, title = _shared(target)
    t, q = target.train, target.validation.queries
    raw, _, _, _ = answer_queries(model, q, target.k, name=name, n_tracks=t.n_tracks, title=title)
    recs, filled = backfill(raw, q, ranking, target.k)
    values = validation_metrics(recs, target.validation, t.track_artist)
    return {m: float(v.mean()) for m, v in values.items()}, int(filled.sum())


def run_trial(
    spec: str,
    params: dict[str, Any],
    target: Target,
    metric: str,
    report: IntermediateFn | None = None,
) -> TrialOutcome:
    """Build, fit and score one configuration; `report(step, value)` receives the validation
    `metric` at about `CHECKS` epochs of a model with `checkpoints` (`set_checkpoint`), and may
    raise to stop the fit there (pruning)."""
    import time

    from harness.run.factory import build_model

    model = build_model(spec, params)
    steps: dict[int, float] = {}
    hook = getattr(model, "set_checkpoint", None)
    if report is not None and hook is not None and getattr(model, "checkpoints", False):

        def on_checkpoint(step: int, total: int, snapshot: Callable[[], Recommender]) -> None:
            if step == total or step % max(1, total // CHECKS) != 0:
                return  # scored a few times per fit (each costs a recommend), the last at the end
            values, _ = score_model(snapshot(), target, spec)
            steps[step] = values[metric]
            report(step, values[metric])

        hook(on_checkpoint)
    with RssSampler() as sampler:
        model.fit(target.train)
        t0 = time.perf_counter()
        values, filled = score_model(model, target, spec)
        rec_s = time.perf_counter() - t0
    return TrialOutcome(
        values=values,
        fit_s=sampler.seconds - rec_s,
        recommend_s=rec_s,
        peak_rss_mb=sampler.peak_mb,
        rss_before_mb=sampler.start_mb,
        backfilled=filled,
        shared_mb=shared_rss_mb(),
        steps=steps,
    )


def shared_rss_mb() -> float:
    """Resident pages this process shares with others, in MiB (Linux /proc; 0 elsewhere)."""
    import os

    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[2]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def packed_mb(packed: dict[str, Any]) -> float:
    """Size of `pack`'s arrays in MiB: what the object store holds once per machine."""
    return sum(v.nbytes for v in packed.values() if isinstance(v, np.ndarray)) / 2**20


# ---------------------------------------------------------------------------- for the object store


def _encode(titles: NDArray[np.object_]) -> tuple[NDArray[np.int32], NDArray[np.str_]]:
    """(codes (n,) int32, -1 for None; vocabulary (v,) unicode) of an object array of titles."""
    import pandas as pd

    codes, vocab = pd.factorize(titles, use_na_sentinel=True)
    return codes.astype(np.int32), np.asarray(vocab.astype(str), dtype=np.str_)


def _decode(codes: NDArray[np.int32], vocab: NDArray[np.str_]) -> NDArray[np.object_]:
    out = np.empty(len(codes), dtype=object)  # (n,) str or None
    known = codes >= 0
    out[known] = vocab.astype(object)[codes[known]]
    return out


def pack(target: Target) -> dict[str, Any]:
    """The target as numpy arrays (and four scalars) for `ray.put`."""
    t, v = target.train, target.validation
    q = v.queries
    train_codes, train_vocab = _encode(t.titles)
    query_codes, query_vocab = _encode(q.titles)
    return {
        "offsets": t.offsets,
        "track_ids": t.track_ids,
        "title_codes": train_codes,
        "title_vocab": train_vocab,
        "track_artist": t.track_artist,
        "track_album": t.track_album,
        "q_pids": q.pids,
        "q_seed_offsets": q.seed_offsets,
        "q_seed_ids": q.seed_ids,
        "q_seed_pos": q.seed_pos,
        "q_title_codes": query_codes,
        "q_title_vocab": query_vocab,
        "q_categories": q.categories,
        "v_rows": v.rows,
        "v_holdout_offsets": v.holdout_offsets,
        "v_holdout_ids": v.holdout_ids,
        "v_fingerprint": v.fingerprint,
        "n_tracks": t.n_tracks,
        "k": target.k,
        "key": target.key,
    }


def unpack(a: dict[str, Any]) -> Target:
    """The target of `pack`'s arrays (views of them: nothing large is copied)."""
    train = TrainSet(
        offsets=a["offsets"],
        track_ids=a["track_ids"],
        titles=_decode(a["title_codes"], a["title_vocab"]),
        n_tracks=int(a["n_tracks"]),
        track_artist=a["track_artist"],
        track_album=a["track_album"],
    )
    queries = Queries(
        pids=a["q_pids"],
        seed_offsets=a["q_seed_offsets"],
        seed_ids=a["q_seed_ids"],
        seed_pos=a["q_seed_pos"],
        titles=_decode(a["q_title_codes"], a["q_title_vocab"]),
        categories=a["q_categories"],
    )
    v = Validation(
        a["v_rows"], queries, a["v_holdout_offsets"], a["v_holdout_ids"], str(a["v_fingerprint"])
    )
    return Target(train, v, int(a["k"]), str(a["key"]))
