"""Choosing one category's test playlists: the length target, the quotas, the coverage rule.

Within a category's num_tracks range the selected lengths follow the minimum-change tilt of the
corpus's own length distribution whose mean and std equal the published ones (`_target_pmf`);
each length gets an integer quota (`_water_fill`) filled by playlists drawn at random, accepted
only if every one of their tracks keeps occurring in training (`_try_take`). "best-effort"
coverage completes a category that rule cannot fill with the candidates that take the fewest
tracks out of training (`_fill_fewest_lost`). `make_split` (split.py) calls `select_category`
once per category, in `SELECTION_ORDER`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from harness.challenge.categories import Category
from harness.data.corpus import Corpus
from harness.errors import UsageError

# ---------------------------------------------------------------- length targets


def _target_pmf(
    avail: NDArray[np.int64], lengths: NDArray[np.int64], cat: Category
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Target share of each length: the corpus's distribution tilted to the published mean/std.

    avail: (n_bins,) candidates per length; lengths: (n_bins,) the lengths lo..hi.
    """
    if avail.sum() == 0:  # no candidate left in the range: the caller fills or fails
        return np.zeros(len(avail)), {"method": "none"}
    base = avail / avail.sum()  # (n_bins,)
    if cat.mean is None or cat.std is None:
        return base, {"method": "natural"}
    mean, std = cat.mean, cat.std
    z = (lengths - (cat.lo + cat.hi) / 2) / ((cat.hi - cat.lo) / 2)  # (n_bins,) in [-1, 1]
    on = avail > 0
    logb = np.log(base[on])
    zl = z[on]
    ln = lengths[on].astype(np.float64)

    def pmf(x: NDArray[np.float64]) -> NDArray[np.float64]:
        logw = logb + x[0] * zl + x[1] * zl**2
        w = np.exp(logw - logw.max())
        return w / w.sum()

    def moments(x: NDArray[np.float64]) -> tuple[float, float]:
        p = pmf(x)
        m = float(p @ ln)
        return m, float(np.sqrt(p @ (ln - m) ** 2))

    def resid(x: NDArray[np.float64]) -> NDArray[np.float64]:
        m, s = moments(x)
        return np.array([(m - mean) / std, (s - std) / std])

    fit = least_squares(resid, np.zeros(2), bounds=([-60.0, -60.0], [60.0, 60.0]))
    out = np.zeros(len(avail))
    out[on] = pmf(fit.x)
    m, s = moments(fit.x)
    info = {"method": "tilt", "tilt": [float(fit.x[0]), float(fit.x[1])], "mean": m, "std": s}
    return out, info


def _water_fill(
    pmf: NDArray[np.float64], caps: NDArray[np.int64], n: int, u: float
) -> NDArray[np.int64]:
    """Integer counts summing to n, at most caps, proportional to pmf where not capped.

    pmf, caps: (n_bins,). Bins whose share exceeds their cap are pinned to it and the rest is
    spread over the others. Shares become integers by systematic sampling with offset u in
    [0, 1): bin b gets floor(C_b + u) - floor(C_{b-1} + u), C the cumulative share, so even
    n << n_bins follows the target's quantiles instead of piling onto its mode.
    """
    pinned = np.zeros(len(caps), dtype=bool)
    while True:
        free = ~pinned
        rest = n - caps[pinned].sum()
        w = pmf * free
        if w.sum() <= 0:  # target mass used up: fill by what is left
            w = (caps * free).astype(np.float64)
        share = np.where(pinned, caps, rest * w / w.sum())  # (n_bins,)
        over = free & (share > caps)
        if not over.any():
            break
        pinned |= over
    cum = np.concatenate([[0.0], np.cumsum(share)])  # (n_bins + 1,)
    cum[-1] = n
    counts = np.minimum(np.diff(np.floor(cum + u)).astype(np.int64), caps)
    short = n - int(counts.sum())
    if short > 0:  # only after float round-off against a cap
        room = np.where(counts < caps, share - counts, -np.inf)
        counts[np.argsort(-room, kind="stable")[:short]] += 1
    return counts


# ---------------------------------------------------------------- selection


def _try_take(i: int, corpus: Corpus, counts: NDArray[np.int64]) -> bool:
    """Accept playlist i if each of its tracks still occurs outside the test set afterwards."""
    tracks = corpus.track_ids[corpus.offsets[i] : corpus.offsets[i + 1]]
    u, m = np.unique(tracks, return_counts=True)
    if np.all(counts[u] > m):
        counts[u] -= m
        return True
    return False


def select_category(
    cat: Category,
    n: int,
    corpus: Corpus,
    pool: NDArray[np.bool_],
    counts: NDArray[np.int64],
    rng: np.random.Generator,
    context: dict[str, int],
    coverage: str,
    fill_pool: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], dict[str, Any]]:
    """Choose n playlists of category `cat` from `pool`, updating track `counts` in place.

    coverage "official" / "best-effort": accept a candidate only if all its tracks keep
    occurring in training. When that cannot give n playlists, "official" fails and
    "best-effort" completes the category from `fill_pool` with the candidates that take the
    fewest tracks out of training (`_fill_fewest_lost`).
    """
    enforce = coverage != "none"
    lengths = corpus.lengths
    bins = np.arange(cat.lo, cat.hi + 1)  # (n_bins,)
    cand = np.flatnonzero(pool & (lengths >= cat.lo) & (lengths <= cat.hi))
    cand = cand[rng.permutation(len(cand))]
    cand = cand[np.argsort(lengths[cand], kind="stable")]  # by length, random within a length
    starts = np.searchsorted(lengths[cand], bins, "left")  # (n_bins,)
    ends = np.searchsorted(lengths[cand], bins, "right")
    avail = ends - starts

    def fail(got: int, rejected: int) -> UsageError:
        return _shortfall(cat, n, got, rejected, context, enforce)

    if avail.sum() < n and coverage != "best-effort":
        raise fail(int(avail.sum()), 0)
    pmf, info = _target_pmf(avail, bins, cat)
    u = float(rng.random())
    ptr = starts.copy()
    got = np.zeros(len(bins), dtype=np.int64)
    chosen: list[int] = []
    rejected = 0
    while len(chosen) < n:
        caps = got + (ends - ptr)
        if caps.sum() < n:
            if coverage != "best-effort" or fill_pool is None:
                raise fail(len(chosen), rejected)
            mask = fill_pool & (lengths >= cat.lo) & (lengths <= cat.hi)
            mask[chosen] = False
            if mask.sum() < n - len(chosen):
                raise fail(len(chosen) + int(mask.sum()), rejected)
            rest = np.flatnonzero(mask)
            rest_bins = lengths[rest] - cat.lo  # (n_rest,)
            want = _fill_quota(cat, bins, got, rest_bins, n, u)
            extra, lost = _fill_fewest_lost(rest, rest_bins, want, corpus, counts, rng)
            chosen.extend(int(i) for i in extra)
            info["best_effort"] = {"filled": len(extra), "tracks_lost": lost}
            break
        want = _water_fill(pmf, caps, n, u) - got
        for b in np.flatnonzero(want > 0):
            while want[b] > 0 and ptr[b] < ends[b] and len(chosen) < n:
                i = int(cand[ptr[b]])
                ptr[b] += 1
                if not enforce or _try_take(i, corpus, counts):
                    chosen.append(i)
                    got[b] += 1
                    want[b] -= 1
                else:
                    rejected += 1
    info["rejected"] = rejected
    info["candidates"] = int(avail.sum())
    return np.sort(np.asarray(chosen, dtype=np.int64)), info


def _shortfall(
    cat: Category, n: int, got: int, rejected: int, context: dict[str, int], enforce: bool
) -> UsageError:
    """Why category `cat` cannot get its n playlists, with the counts that explain it."""
    hint = ", or --coverage best-effort / none (test tracks may then be missing from training)"
    out = context.get("held_out", 0)  # a validation split: the test split's playlists
    held = f"{out} in the test split, " if out else ""
    flag = "--validation" if out else "--per-category"
    return UsageError(
        f"category {cat.number} (num_tracks {cat.lo}-{cat.hi}) needs {n} playlists but only "
        f"{got} could be chosen: the corpus has {context['in_range']} playlists in that "
        f"range, {held}{context['taken']} taken by earlier categories, {context['private']} "
        "holding a track found in no other playlist, and "
        f"{rejected} rejected because a track would vanish from training; use a smaller "
        f"{flag}, a larger corpus{hint if enforce else ''}"
    )


def _fill_quota(
    cat: Category,
    bins: NDArray[np.int64],
    got: NDArray[np.int64],
    rest_bins: NDArray[np.int64],
    n: int,
    u: float,
) -> NDArray[np.int64]:
    """(n_bins,) how many more playlists each length bin should get to complete n in all.

    The same length target over everything left in range (`rest_bins`: the bin of each
    candidate) plus what is already taken (`got`); bins already above their quota give up
    places, the fullest first.
    """
    short = n - int(got.sum())  # got: (n_bins,) the playlists taken so far
    caps_all = got + np.bincount(rest_bins, minlength=len(bins))
    pmf_all, _ = _target_pmf(caps_all, bins, cat)
    quota = _water_fill(pmf_all, caps_all, n, u)
    want = np.maximum(quota - got, 0)
    while want.sum() > short:
        over = np.where(want > 0, got + want - quota, -(10**9))
        want[int(np.argmax(over))] -= 1
    return want


def _fill_fewest_lost(
    cand: NDArray[np.int64],
    cand_bins: NDArray[np.int64],
    want: NDArray[np.int64],
    corpus: Corpus,
    counts: NDArray[np.int64],
    rng: np.random.Generator,
) -> tuple[list[int], int]:
    """Take `want[b]` candidates of each length bin b, fewest training-track losses first.

    A candidate's loss is the number of its distinct tracks that would no longer occur in
    training if it became a test playlist (ties at random). Returns the chosen indices and the
    total loss, recomputed as they are taken (earlier picks may share tracks).
    """
    perm = rng.permutation(len(cand))
    cand, cand_bins = cand[perm], cand_bins[perm]

    def tracks(i: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        return np.unique(
            corpus.track_ids[corpus.offsets[i] : corpus.offsets[i + 1]], return_counts=True
        )

    chosen: list[int] = []
    total = 0
    for b in np.flatnonzero(want > 0):
        in_bin = cand[cand_bins == b]
        loss = np.empty(len(in_bin), dtype=np.int64)
        for j, i in enumerate(in_bin):
            u, m = tracks(int(i))
            loss[j] = int((counts[u] <= m).sum())
        for j in np.argsort(loss, kind="stable")[: want[b]]:
            i = int(in_bin[j])
            u, m = tracks(i)
            total += int((counts[u] <= m).sum())
            counts[u] = np.maximum(counts[u] - m, 0)
            chosen.append(i)
    return chosen, total
