"""The challenge split: ten categories of test playlists, their seeds and held-out tracks.

`make_split` is a pure function of (corpus, seed, settings) that reproduces the RecSys Challenge
2018 test set on any MPD-format corpus (mpd-facts §2):

- Ten categories, `per_category` playlists each: seed count, title kept or withheld, first-K or K
  random seed positions (seeds keep their original `pos`); holdouts are all the other tracks.
- Eligible playlists have num_tracks in the category's range. Within it, the selected lengths
  follow the minimum-change tilt of the corpus's own length distribution whose mean and std equal
  the published ones (an exponential tilt exp(a·z + b·z²), z the length scaled to [-1, 1]); each
  length gets its quota and is filled by playlists drawn at random. On the real MPD the tilt is
  small; on other corpora it corrects the shape as far as the corpus allows, and the manifest
  says how close it got.
- The official constraint: every seed and held-out track still appears in the training playlists.
  A candidate is accepted only if each of its tracks keeps a count ≥ 1 outside the test set
  (rejected candidates are replaced by others of the same length when possible). Small corpora
  cannot meet it (most long playlists hold a track found nowhere else): `coverage="none"` drops
  the rule explicitly, and the manifest counts the test tracks missing from training.
- Test pids are disjoint across categories. Selection goes from the narrowest, longest ranges to
  the widest (`SELECTION_ORDER`); the file lists categories in the real file's order
  (`FILE_ORDER`), pids ascending within a category.

`write_split` writes the split directory (architecture.md) atomically; `load_split` reads it back
against a corpus and checks that it belongs to that corpus; `train_set` is the corpus minus the
test playlists. The command `split` wires these to the command line.
"""

from __future__ import annotations

import argparse
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray
from scipy.optimize import least_squares

from harness import __version__
from harness.atomic import atomic_dir, read_json, write_json
from harness.challenge.challenge_set import category_of, queries_from_playlists
from harness.data.corpus import Corpus, normalize_name
from harness.errors import DataError, HarnessError, UsageError
from harness.types import Queries, TrainSet

SPLIT_FORMAT = 1
FILES = ("challenge_set.json", "ground_truth.json", "track_artists.parquet", "manifest.json")


@dataclass(frozen=True)
class Category:
    """One challenge category (mpd-facts §2): seeds, title, seed layout, length range and target."""

    number: int
    n_seeds: int
    title: bool
    random_seeds: bool
    lo: int  # num_tracks range, inclusive
    hi: int
    mean: float | None  # published num_tracks mean/std of the real category (None: not published)
    std: float | None


CATEGORIES: dict[int, Category] = {
    c.number: c
    for c in (
        Category(1, 0, True, False, 10, 50, 28.6, 11.2),
        Category(2, 1, True, False, 10, 78, 23.8, 8.7),
        Category(3, 5, True, False, 10, 100, None, None),
        Category(4, 5, False, False, 40, 100, 63.0, 16.5),
        Category(5, 10, True, False, 40, 100, 63.5, 17.2),
        Category(6, 10, False, False, 40, 100, 63.6, 16.7),
        Category(7, 25, True, False, 101, 250, 150.0, 38.6),
        Category(8, 25, True, True, 101, 250, 151.7, 38.6),
        Category(9, 100, True, False, 150, 250, 189.0, 28.0),
        Category(10, 100, True, True, 150, 250, 187.5, 27.0),
    )
}
FILE_ORDER = (1, 3, 4, 5, 6, 7, 8, 9, 10, 2)  # block order of the real challenge_set.json
SELECTION_ORDER = (9, 10, 7, 8, 4, 5, 6, 1, 2, 3)  # scarcest lengths first
METHOD = "length-quota-tilt"
# "official": every seed and held-out track still occurs in training (the challenge's rule);
# "none": no such requirement, for corpora too small to meet it (the manifest counts the misses)
COVERAGE = ("official", "best-effort", "none")


def default_per_category(n_playlists: int) -> int:
    """1,000 per category on the full MPD; 1 in 200 playlists on smaller corpora (5% in test)."""
    return min(1000, n_playlists // 200)


@dataclass
class Split:
    """Test playlists (corpus indices, in challenge-file order) with seeds and holdouts."""

    test_idx: NDArray[np.int64]  # (n_test,) corpus playlist indices
    categories: NDArray[np.int8]  # (n_test,) 1..10
    queries: Queries  # same order; titles normalised, None in categories 4 and 6
    holdout_offsets: NDArray[np.int64]  # (n_test + 1,)
    holdout_ids: NDArray[np.int32]  # (n_holdouts,) track ids, position order
    holdout_pos: NDArray[np.int32]  # (n_holdouts,) original positions
    seed: int
    settings: dict[str, Any]
    fingerprint: str
    report: dict[str, Any] = field(default_factory=dict)  # per-category selection statistics

    @property
    def n_test(self) -> int:
        return len(self.test_idx)

    def holdouts(self, i: int) -> NDArray[np.int32]:
        """Held-out track ids of test playlist `i` (split order)."""
        return self.holdout_ids[self.holdout_offsets[i] : self.holdout_offsets[i + 1]]

    def train_mask(self, n_playlists: int) -> NDArray[np.bool_]:
        """(n_playlists,) True for training playlists (every playlist not in the test set)."""
        mask = np.ones(n_playlists, dtype=bool)
        mask[self.test_idx] = False
        return mask


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


def _select(
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
        hint = ", or --coverage best-effort / none (test tracks may then be missing from training)"
        return UsageError(
            f"category {cat.number} (num_tracks {cat.lo}-{cat.hi}) needs {n} playlists but only "
            f"{got} could be chosen: the corpus has {context['in_range']} playlists in that "
            f"range, {context['taken']} taken by earlier categories, {context['private']} "
            "holding a track found in no other playlist, and "
            f"{rejected} rejected because a track would vanish from training; use a smaller "
            f"--per-category, a larger corpus{hint if enforce else ''}"
        )

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
            # the same length target over everything left in range, minus what is already taken
            caps_all = got + np.bincount(rest_bins, minlength=len(bins))
            pmf_all, _ = _target_pmf(caps_all, bins, cat)
            quota = _water_fill(pmf_all, caps_all, n, u)
            want = np.maximum(quota - got, 0)
            while want.sum() > n - len(chosen):  # bins already above quota: trim the fullest
                over = np.where(want > 0, got + want - quota, -(10**9))
                want[int(np.argmax(over))] -= 1
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


def _seed_positions(cat: Category, length: int, rng: np.random.Generator) -> NDArray[np.int64]:
    if cat.random_seeds:
        return np.sort(rng.choice(length, cat.n_seeds, replace=False))
    return np.arange(cat.n_seeds)


def split_fingerprint(
    source_fp: str, pids: NDArray[np.int64], cats: NDArray[np.int8], q: Queries
) -> str:
    """Hash of what defines a split: the source corpus, test pids, categories, seed positions."""
    h = hashlib.sha256(f"mpd-harness split v{SPLIT_FORMAT}\0{source_fp}\0".encode())
    for a in (pids.astype("<i8"), cats.astype("<i1"), q.seed_offsets.astype("<i8")):
        h.update(a.tobytes())
    h.update(q.seed_pos.astype("<i4").tobytes())
    return h.hexdigest()[:16]


def _length_stats(x: NDArray[np.int64]) -> dict[str, float]:
    return {
        "mean": round(float(x.mean()), 3),
        "std": round(float(x.std()), 3),
        "min": int(x.min()),
        "max": int(x.max()),
    }


def make_split(
    corpus: Corpus,
    *,
    seed: int = 0,
    per_category: int | None = None,
    coverage: str = "best-effort",
) -> Split:
    """Draw the ten challenge categories from `corpus` (see the module docstring for the rules).

    coverage: "official" (every test track still occurs in training; fails when the corpus
    cannot give that), "best-effort" (the official rule wherever the corpus allows it, then
    the candidates that take the fewest tracks out of training; the report counts them) or
    "none" (no rule).
    Raises UsageError when the corpus cannot give `per_category` playlists to a category.
    """
    if coverage not in COVERAGE:
        raise UsageError(f"coverage {coverage!r}: choose one of {', '.join(COVERAGE)}")
    enforce = coverage != "none"
    n_pl = corpus.n_playlists
    n = default_per_category(n_pl) if per_category is None else int(per_category)
    if n < 1:
        raise UsageError(
            f"per-category count must be at least 1 (got {n}; the default is 1 per 200 playlists, "
            f"and the corpus has {n_pl})"
        )
    lengths = corpus.lengths  # (n_playlists,)
    counts = np.bincount(corpus.track_ids, minlength=corpus.n_tracks).astype(np.int64)
    # a playlist holding a track found in no other playlist can never be a test playlist
    nonempty = lengths > 0
    single = np.zeros(n_pl, dtype=bool)
    if enforce and nonempty.any():
        occ = counts.astype(np.int32)[corpus.track_ids]  # (n_occurrences,)
        single[nonempty] = np.minimum.reduceat(occ, corpus.offsets[:-1][nonempty]) == 1
        del occ
    for c in CATEGORIES.values():
        in_range = int(((lengths >= c.lo) & (lengths <= c.hi)).sum())
        if in_range < n:
            raise UsageError(
                f"category {c.number} needs {n} playlists with num_tracks {c.lo}-{c.hi} but the "
                f"corpus has only {in_range}; use --per-category {in_range} or less"
            )
    pool = ~single
    taken = np.zeros(n_pl, dtype=bool)
    chosen: dict[int, NDArray[np.int64]] = {}
    report: dict[str, Any] = {}
    for number in SELECTION_ORDER:
        c = CATEGORIES[number]
        ranged = (lengths >= c.lo) & (lengths <= c.hi)
        context = {
            "in_range": int(ranged.sum()),
            "taken": int((ranged & taken).sum()),
            "private": int((ranged & single & ~taken).sum()),
        }
        rng = np.random.default_rng([seed, number])
        idx, info = _select(c, n, corpus, pool, counts, rng, context, coverage, fill_pool=~taken)
        pool[idx] = False
        taken[idx] = True
        chosen[number] = idx
        report[str(number)] = info

    # seeds and holdouts, in file order
    blocks = [chosen[c] for c in FILE_ORDER]
    test_idx = np.concatenate(blocks)
    cats = np.concatenate([np.full(n, c, dtype=np.int8) for c in FILE_ORDER])
    seed_pos: list[NDArray[np.int64]] = []
    hold_pos: list[NDArray[np.int64]] = []
    titles = np.empty(len(test_idx), dtype=object)
    rngs = {c: np.random.default_rng([seed, c, 1]) for c in FILE_ORDER}
    for j, (i, c) in enumerate(zip(test_idx, cats, strict=True)):
        cat = CATEGORIES[int(c)]
        length = int(lengths[i])
        sp = _seed_positions(cat, length, rngs[int(c)])
        keep = np.ones(length, dtype=bool)
        keep[sp] = False
        seed_pos.append(sp)
        hold_pos.append(np.flatnonzero(keep))
        titles[j] = normalize_name(corpus.names[i]) if cat.title else None
    starts = corpus.offsets[test_idx]  # (n_test,)
    seed_offsets, s_pos, s_ids = _ragged(seed_pos, starts, corpus)
    hold_offsets, h_pos, h_ids = _ragged(hold_pos, starts, corpus)
    pids = corpus.pids[test_idx]
    queries = Queries(
        pids=pids,
        seed_offsets=seed_offsets,
        seed_ids=s_ids,
        seed_pos=s_pos,
        titles=titles,
        categories=cats,
    )
    source_fp = str(corpus.source.get("fingerprint") or "")
    in_train = _train_catalogue(test_idx, corpus)  # (n_tracks,)
    owner_s = np.repeat(cats, np.diff(seed_offsets))
    owner_h = np.repeat(cats, np.diff(hold_offsets))
    for number in FILE_ORDER:
        c = CATEGORIES[number]
        stats = _length_stats(lengths[chosen[number]])
        entry = report[str(number)]
        entry.update(count=len(chosen[number]), num_tracks=stats)
        entry["not_in_train"] = {
            "seeds": int((~in_train[s_ids[owner_s == number]]).sum()),
            "holdouts": int((~in_train[h_ids[owner_h == number]]).sum()),
        }
        if c.mean is not None and c.std is not None:
            entry["target"] = {"mean": c.mean, "std": c.std}
            entry["deviation"] = {
                "mean": round(stats["mean"] - c.mean, 3),
                "std": round(stats["std"] - c.std, 3),
            }
    split = Split(
        test_idx=test_idx,
        categories=cats,
        queries=queries,
        holdout_offsets=hold_offsets,
        holdout_ids=h_ids,
        holdout_pos=h_pos,
        seed=int(seed),
        settings=split_settings(n, coverage),
        fingerprint=split_fingerprint(source_fp, pids, cats, queries),
        report={str(c): report[str(c)] for c in FILE_ORDER},
    )
    check_split(split, corpus)
    return split


def split_settings(per_category: int, coverage: str = "best-effort") -> dict[str, Any]:
    """Everything besides the seed that determines a split."""
    return {
        "per_category": per_category,
        "coverage": coverage,
        "method": METHOD,
        "selection_order": list(SELECTION_ORDER),
        "categories": {
            str(c.number): {
                "seeds": c.n_seeds,
                "title": c.title,
                "seed_positions": "random" if c.random_seeds else "first",
                "num_tracks": [c.lo, c.hi],
                "target": None if c.mean is None else {"mean": c.mean, "std": c.std},
            }
            for c in CATEGORIES.values()
        },
    }


def _ragged(
    positions: list[NDArray[np.int64]], starts: NDArray[np.int64], corpus: Corpus
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """CSR offsets, positions and track ids of per-playlist position lists."""
    offsets = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in positions], out=offsets[1:])
    pos = np.concatenate(positions) if offsets[-1] else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(positions)), np.diff(offsets))  # (n_items,)
    ids = corpus.track_ids[starts[owner] + pos]
    return offsets, pos.astype(np.int32), ids.astype(np.int32)


def check_split(split: Split, corpus: Corpus) -> None:
    """Assert the split's invariants; raises DataError (a bug or a foreign split) otherwise."""
    idx = split.test_idx
    if len(np.unique(idx)) != len(idx):
        raise DataError("split: a test playlist appears in two categories")
    lengths = corpus.lengths[idx]
    n_s = np.diff(split.queries.seed_offsets)
    n_h = np.diff(split.holdout_offsets)
    if not np.array_equal(n_s + n_h, lengths):
        raise DataError("split: seeds + holdouts do not cover each test playlist")
    for number, c in CATEGORIES.items():
        sel = split.categories == number
        if np.any(n_s[sel] != c.n_seeds) or np.any((lengths[sel] < c.lo) | (lengths[sel] > c.hi)):
            raise DataError(f"split: category {number} has wrong seed counts or lengths")
    if split.settings.get("coverage", "official") != "official":
        return
    test_tracks = np.concatenate([split.queries.seed_ids, split.holdout_ids])
    missing = ~_train_catalogue(idx, corpus)[test_tracks]
    if missing.any():
        raise DataError(
            f"split: {int(missing.sum())} test track occurrences are absent from training "
            f"(e.g. {corpus.track_uris[test_tracks[missing][0]]})"
        )


# ---------------------------------------------------------------- files


def _track_objects(corpus: Corpus, ids: NDArray[np.int32], pos: NDArray[np.int32]) -> list[Any]:
    """`corpus.track_object(id, pos)` for many tracks at once (same keys, same order)."""
    artist = corpus.track_artist[ids]  # (n,)
    album = corpus.track_album[ids]
    cols = zip(
        pos.tolist(),
        corpus.artist_names[artist].tolist(),
        corpus.track_uris[ids].tolist(),
        corpus.artist_uris[artist].tolist(),
        corpus.track_names[ids].tolist(),
        corpus.album_uris[album].tolist(),
        corpus.track_duration[ids].tolist(),
        corpus.album_names[album].tolist(),
        strict=True,
    )
    keys = ("pos", "artist_name", "track_uri", "artist_uri") + (
        "track_name",
        "album_uri",
        "duration_ms",
        "album_name",
    )
    return [dict(zip(keys, row, strict=True)) for row in cols]


def _challenge_doc(split: Split, corpus: Corpus) -> dict[str, Any]:
    """challenge_set.json in the official schema and key order."""
    q = split.queries
    last = int(corpus.modified_at.max()) if corpus.n_playlists else 0
    # a date derived from the data, not the clock, keeps the file byte-identical across runs
    date = datetime.fromtimestamp(last, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    tracks = _track_objects(corpus, q.seed_ids, q.seed_pos)
    offsets = q.seed_offsets.tolist()
    n_tracks = corpus.lengths[split.test_idx].tolist()  # (n_test,)
    names = corpus.names[split.test_idx].tolist()
    pids = corpus.pids[split.test_idx].tolist()
    playlists = []
    for j, number in enumerate(split.categories.tolist()):
        lo, hi = offsets[j], offsets[j + 1]
        p: dict[str, Any] = {}
        if CATEGORIES[number].title:
            p["name"] = names[j]
        p["num_holdouts"] = n_tracks[j] - (hi - lo)
        p["pid"] = pids[j]
        p["num_tracks"] = n_tracks[j]
        p["tracks"] = tracks[lo:hi]
        p["num_samples"] = hi - lo
        playlists.append(p)
    return {"date": date, "version": "v1", "playlists": playlists}


def _ground_truth_doc(split: Split, corpus: Corpus) -> dict[str, Any]:
    uris = corpus.track_uris[split.holdout_ids].tolist()  # (n_holdouts,)
    artists = corpus.artist_uris[corpus.track_artist[split.holdout_ids]].tolist()
    items = [
        {"pos": p, "track_uri": t, "artist_uri": a}
        for p, t, a in zip(split.holdout_pos.tolist(), uris, artists, strict=True)
    ]
    offsets = split.holdout_offsets.tolist()
    pids = corpus.pids[split.test_idx].tolist()
    out = [
        {"pid": pid, "category": number, "holdouts": items[offsets[j] : offsets[j + 1]]}
        for j, (pid, number) in enumerate(zip(pids, split.categories.tolist(), strict=True))
    ]
    return {"playlists": out}


def _train_catalogue(test_idx: NDArray[np.int64], corpus: Corpus) -> NDArray[np.bool_]:
    """(n_tracks,) True for the tracks that occur in the training playlists."""
    counts = np.bincount(corpus.track_ids, minlength=corpus.n_tracks)
    test_occ = np.repeat(np.isin(np.arange(corpus.n_playlists), test_idx), corpus.lengths)
    counts -= np.bincount(corpus.track_ids[test_occ], minlength=corpus.n_tracks)
    return counts > 0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_split_target(out_dir: str | Path) -> None:
    """Refuse a target that holds anything but an earlier split: writing replaces the folder."""
    p = Path(out_dir)
    if not p.exists():
        return
    if not p.is_dir():
        raise UsageError(f"{p}: exists and is not a folder; choose another split folder")
    if any(p.iterdir()) and not (p / "manifest.json").is_file():
        raise UsageError(
            f"{p}: a folder that is not a split (no manifest.json) and not empty; writing a split "
            "replaces the whole folder, so choose a new or empty one"
        )


def write_split(split: Split, corpus: Corpus, out_dir: str | Path) -> None:
    """Write the split directory atomically: a killed write leaves no loadable half split.

    It replaces `out_dir` as a whole: only an empty folder or an earlier split may be there."""
    check_split_target(out_dir)
    with atomic_dir(out_dir) as tmp:
        write_json(tmp / "challenge_set.json", _challenge_doc(split, corpus))
        write_json(tmp / "ground_truth.json", _ground_truth_doc(split, corpus), indent=False)
        tracks = np.flatnonzero(_train_catalogue(split.test_idx, corpus))
        table = pa.table(
            {
                "track_uri": pa.array(corpus.track_uris[tracks].tolist(), type=pa.string()),
                "artist_uri": pa.array(
                    corpus.artist_uris[corpus.track_artist[tracks]].tolist(), type=pa.string()
                ),
            }
        )
        pq.write_table(table, tmp / "track_artists.parquet", compression="zstd")
        write_json(tmp / "manifest.json", _manifest(split, corpus, tmp))


def _manifest(split: Split, corpus: Corpus, directory: Path) -> dict[str, Any]:
    return {
        "format_version": SPLIT_FORMAT,
        "harness_version": __version__,
        "seed": split.seed,
        "settings": split.settings,
        "fingerprint": split.fingerprint,
        "source_fingerprint": corpus.source.get("fingerprint"),
        "source": corpus.source,
        "synthetic": bool(corpus.source.get("synthetic", False)),
        "n_playlists": corpus.n_playlists,
        "n_test": split.n_test,
        "n_train": corpus.n_playlists - split.n_test,
        "categories": split.report,
        "files": {name: _sha256(directory / name) for name in FILES if name != "manifest.json"},
    }


def load_split(split_dir: str | Path, corpus: Corpus) -> Split:
    """Read a split directory written by `write_split` for `corpus`.

    Raises HarnessError when files are missing or changed, or the split was made from another
    corpus (source fingerprint, pids, URIs or seed positions do not match).
    """
    d = Path(split_dir)
    for name in FILES:
        if not (d / name).is_file():
            raise HarnessError(f"{d}: not a split directory (missing {name})")
    manifest = read_json(d / "manifest.json")
    if manifest.get("format_version") != SPLIT_FORMAT:
        raise HarnessError(
            f"{d / 'manifest.json'}: split format {manifest.get('format_version')} "
            f"!= {SPLIT_FORMAT}; re-run `mpd-harness split`"
        )
    have, want = corpus.source.get("fingerprint"), manifest.get("source_fingerprint")
    if have != want:
        raise HarnessError(
            f"{d}: this split was made from corpus {want} ({manifest.get('source', {}).get('path')})"
            f" but the corpus given has fingerprint {have}; split that corpus again"
        )
    digests = manifest.get("files", {})
    for name in FILES[:-1]:
        if _sha256(d / name) != digests.get(name):
            raise HarnessError(f"{d / name}: changed since the split was written (sha256 differs)")
    cs_path, gt_path = d / "challenge_set.json", d / "ground_truth.json"
    # the sha256 check above proved these are the files write_split wrote: no re-validation
    playlists = read_json(cs_path)["playlists"]
    queries = queries_from_playlists(playlists, corpus, where=str(cs_path), strict=True)
    gt = read_json(gt_path)["playlists"]
    if [g["pid"] for g in gt] != queries.pids.tolist():
        raise HarnessError(f"{gt_path}: pids differ from {cs_path} (order or content)")
    unknown = [int(p) for p in queries.pids if int(p) not in corpus.pid_index]
    if unknown:
        raise HarnessError(f"{cs_path}: pid {unknown[0]} is not in the corpus")
    test_idx = np.array([corpus.pid_index[int(p)] for p in queries.pids], dtype=np.int64)
    for j, g in enumerate(gt):
        if g["category"] != category_of(playlists[j]):
            raise HarnessError(f"{gt_path}: pid {g['pid']}: category differs from {cs_path}")
    index = corpus.track_index
    hold_offsets = np.zeros(len(gt) + 1, dtype=np.int64)
    np.cumsum([len(g["holdouts"]) for g in gt], out=hold_offsets[1:])
    try:
        h_ids = np.array([index[h["track_uri"]] for g in gt for h in g["holdouts"]], np.int32)
    except KeyError as e:
        raise HarnessError(f"{gt_path}: track {e.args[0]} is not in the corpus") from None
    h_pos = np.array([h["pos"] for g in gt for h in g["holdouts"]], dtype=np.int32)
    owner_h = np.repeat(np.arange(len(gt)), np.diff(hold_offsets))
    owner_s = np.repeat(np.arange(len(gt)), np.diff(queries.seed_offsets))
    starts = corpus.offsets[test_idx]
    ok = np.array_equal(corpus.track_ids[starts[owner_h] + h_pos], h_ids) and np.array_equal(
        corpus.track_ids[starts[owner_s] + queries.seed_pos], queries.seed_ids
    )
    if not ok:
        raise HarnessError(f"{d}: seeds or holdouts do not match the corpus playlists")
    q = Queries(
        pids=queries.pids,
        seed_offsets=queries.seed_offsets,
        seed_ids=queries.seed_ids,
        seed_pos=queries.seed_pos,
        titles=queries.titles,
        categories=queries.categories,
    )
    source_fp = str(corpus.source.get("fingerprint") or "")
    fp = split_fingerprint(source_fp, q.pids, q.categories, q)
    if fp != manifest.get("fingerprint"):
        raise HarnessError(f"{d}: split fingerprint {fp} != manifest {manifest.get('fingerprint')}")
    split = Split(
        test_idx=test_idx,
        categories=q.categories,
        queries=q,
        holdout_offsets=hold_offsets,
        holdout_ids=h_ids,
        holdout_pos=h_pos,
        seed=int(manifest["seed"]),
        settings=manifest["settings"],
        fingerprint=fp,
        report=manifest.get("categories", {}),
    )
    check_split(split, corpus)
    return split


def train_set(corpus: Corpus, split: Split) -> TrainSet:
    """The training playlists (corpus minus the test set) in CSR form; ids keep the catalogue."""
    mask = split.train_mask(corpus.n_playlists)  # (n_playlists,)
    lengths = corpus.lengths[mask]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    occ = np.repeat(mask, corpus.lengths)  # (n_occurrences,)
    return TrainSet(
        offsets=offsets,
        track_ids=corpus.track_ids[occ],
        titles=corpus.normalized_names[mask],
        n_tracks=corpus.n_tracks,
        track_artist=corpus.track_artist,
        track_album=corpus.track_album,
    )


# ---------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mpd_path", metavar="MPD_PATH", help="MPD folder, slice file or zip")
    parser.add_argument("--out", required=True, metavar="SPLIT_DIR", help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--per-category",
        type=int,
        default=None,
        metavar="N",
        help="playlists per category (default: min(1000, playlists // 200))",
    )
    parser.add_argument(
        "--coverage",
        choices=COVERAGE,
        default="best-effort",
        help="best-effort (default): the official rule (every seed and held-out track still "
        "occurs in training) wherever the corpus allows it, then the playlists that take the "
        "fewest tracks out of training, counted in the manifest; official: fail instead; "
        "none: no such rule",
    )
    parser.add_argument("--cache-dir", default=None, help="corpus cache directory")
    parser.add_argument(
        "--lenient", action="store_true", help="skip malformed playlists instead of failing"
    )


def run(args: argparse.Namespace) -> int:
    from harness.data.ingest import load_corpus

    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be >= 0")
    check_split_target(args.out)  # before the slow steps
    corpus = load_corpus(
        args.mpd_path, cache_dir=args.cache_dir, lenient=args.lenient, progress=True
    )
    split = make_split(
        corpus, seed=args.seed, per_category=args.per_category, coverage=args.coverage
    )
    write_split(split, corpus, args.out)
    print(
        f"split {split.fingerprint}: {split.n_test} test playlists "
        f"({split.settings['per_category']} per category), "
        f"{corpus.n_playlists - split.n_test} training playlists -> {args.out}"
    )
    for number in FILE_ORDER:
        r = split.report[str(number)]
        s = r["num_tracks"]
        target = r.get("target")
        goal = f" (target {target['mean']}±{target['std']})" if target else ""
        print(
            f"  category {number:>2}: {r['count']} playlists, num_tracks "
            f"{s['mean']:.1f}±{s['std']:.1f} in {s['min']}-{s['max']}{goal}, "
            f"{r['rejected']} rejected, {sum(r['not_in_train'].values())} tracks not in training"
        )
    return 0
