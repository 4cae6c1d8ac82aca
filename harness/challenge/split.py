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
test playlists. `make_validation` draws a second split, by the same rules, from the training
playlists only (`SPLIT_DIR/validation/`: `write_validation`, `load_validation`), for models that
learn from held-out tracks; the test split, its files and its fingerprint stay as they are.
The files live in `split_io.py`, the `Split` object and its checks in `split_core.py`, the
category table in `categories.py`, the per-category choice in `selection.py`; every name of
theirs that callers use is importable from here. The command
`split` (harness/cli/split.py) wires these to the command line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.challenge.categories import (
    CATEGORIES,
    COVERAGE,
    FILE_ORDER,
    METHOD,
    SELECTION_ORDER,
    Category,
    default_per_category,
    split_settings,
)
from harness.challenge.selection import select_category
from harness.challenge.split_core import (
    SPLIT_FORMAT,
    TEST_STREAMS,
    VALIDATION_STREAMS,
    Split,
    SplitRef,
    as_validation,
    check_split,
    split_fingerprint,
    train_catalogue,
    train_set,
    train_without,
)
from harness.challenge.split_io import (
    FILES,
    VALIDATION_DIR,
    check_split_target,
    load_split,
    load_validation,
    load_validation_split,
    read_split_ref,
    validation_train_set,
    write_split,
    write_validation,
)
from harness.data.corpus import Corpus, normalize_name
from harness.errors import UsageError
from harness.types import Queries

__all__ = [
    "CATEGORIES",
    "COVERAGE",
    "FILES",
    "FILE_ORDER",
    "METHOD",
    "SELECTION_ORDER",
    "SPLIT_FORMAT",
    "VALIDATION_DIR",
    "Category",
    "Split",
    "SplitRef",
    "as_validation",
    "check_split",
    "check_split_target",
    "default_per_category",
    "load_split",
    "load_validation",
    "load_validation_split",
    "make_split",
    "make_validation",
    "read_split_ref",
    "split_fingerprint",
    "split_settings",
    "train_set",
    "train_without",
    "validation_train_set",
    "write_split",
    "write_validation",
]


def _seed_positions(cat: Category, length: int, rng: np.random.Generator) -> NDArray[np.int64]:
    if cat.random_seeds:
        return np.sort(rng.choice(length, cat.n_seeds, replace=False))
    return np.arange(cat.n_seeds)


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
    return _draw(corpus, per_category, seed, coverage)


def make_validation(
    corpus: Corpus,
    split: Split | SplitRef,
    *,
    per_category: int | None = None,
    seed: int | None = None,
    coverage: str | None = None,
) -> Split:
    """A second challenge split drawn from the training playlists of `split` only.

    Same ten categories and rules; "training" for its coverage rule means the corpus minus the
    test and the validation playlists. per_category: default the test split's. seed: default
    the test split's; either way its generators are `default_rng([seed, category, 2])`
    (selection) and `[seed, category, 3]` (random seed positions), streams the test split
    (`[seed, category]`, `[seed, category, 1]`) never uses. coverage: default the test split's.
    The result's `of_split` is `split.fingerprint`. Needs no held-out track of `split`.
    """
    ref = split.ref if isinstance(split, Split) else split
    n = ref.settings["per_category"] if per_category is None else per_category
    rule = ref.settings.get("coverage", "best-effort") if coverage is None else coverage
    seed = ref.seed if seed is None else seed
    if seed < 0:
        raise UsageError(f"validation seed {seed}: must be >= 0")
    return _draw(corpus, n, seed, rule, held_out=ref.test_idx, of_split=ref.fingerprint)


def _draw(
    corpus: Corpus,
    per_category: int | None,
    seed: int,
    coverage: str,
    held_out: NDArray[np.int64] | None = None,
    of_split: str = "",
) -> Split:
    """A split of the playlists not in `held_out` (a validation split when given)."""
    if coverage not in COVERAGE:
        raise UsageError(f"coverage {coverage!r}: choose one of {', '.join(COVERAGE)}")
    out = np.zeros(0, dtype=np.int64) if held_out is None else held_out
    n = _per_category_count(corpus, per_category, out, validation=held_out is not None)
    streams = TEST_STREAMS if held_out is None else VALIDATION_STREAMS
    chosen, report = _choose_playlists(corpus, n, seed, coverage, out, streams[0])
    # seeds and holdouts, in file order
    test_idx = np.concatenate([chosen[c] for c in FILE_ORDER])  # (n_test,)
    cats = np.concatenate([np.full(n, c, dtype=np.int8) for c in FILE_ORDER])
    queries, hold_offsets, h_pos, h_ids = _seeds_and_holdouts(
        corpus, test_idx, cats, seed, streams[1]
    )
    outside = np.concatenate([test_idx, out])  # not training for this split
    _report_categories(report, chosen, corpus, outside, queries, h_ids, hold_offsets)
    source_fp = str(corpus.source.get("fingerprint") or "")
    split = Split(
        test_idx=test_idx,
        categories=cats,
        queries=queries,
        holdout_offsets=hold_offsets,
        holdout_ids=h_ids,
        holdout_pos=h_pos,
        seed=int(seed),
        settings=split_settings(n, coverage),
        fingerprint=split_fingerprint(source_fp, queries.pids, cats, queries, of_split),
        report={str(c): report[str(c)] for c in FILE_ORDER},
        of_split=of_split,
    )
    check_split(split, corpus, held_out)
    return split


def _per_category_count(
    corpus: Corpus, per_category: int | None, held_out: NDArray[np.int64], validation: bool
) -> int:
    """The playlists per category asked for (or the default), checked against the corpus
    without the `held_out` playlists (a validation split's: the test playlists)."""
    n_pl = corpus.n_playlists
    n = default_per_category(n_pl) if per_category is None else int(per_category)
    if n < 1 and validation:
        raise UsageError(f"--validation {n}: validation playlists per category must be at least 1")
    if n < 1:
        raise UsageError(
            f"per-category count must be at least 1 (got {n}; the default is 1 per 200 playlists, "
            f"and the corpus has {n_pl})"
        )
    lengths = corpus.lengths.copy()  # (n_playlists,)
    lengths[held_out] = -1  # in no category's range
    in_range = {
        c.number: int(((lengths >= c.lo) & (lengths <= c.hi)).sum()) for c in CATEGORIES.values()
    }
    flag = "--validation" if validation else "--per-category"
    where, has = ("the training playlists", "have") if validation else ("the corpus", "has")
    empty = [c for c in CATEGORIES.values() if in_range[c.number] == 0]
    if empty:  # no count helps: say so instead of advising 0, which is refused
        ranges = ", ".join(f"{c.number} ({c.lo}-{c.hi} tracks)" for c in empty)
        raise UsageError(
            f"{where} ({n_pl:,} playlists in the corpus) {has} no playlist for challenge "
            f"categor{'ies' if len(empty) > 1 else 'y'} {ranges}, so no ten-category split can "
            f"be drawn, whatever {flag}; use a larger corpus (e.g. synthetic preset tiny or "
            "larger)"
        )
    short = [c for c in CATEGORIES.values() if in_range[c.number] < n]
    if short:
        c, most = short[0], min(in_range.values())
        what = "validation category" if validation else "category"
        raise UsageError(
            f"{what} {c.number} needs {n} playlists with num_tracks {c.lo}-{c.hi} but {where} "
            f"{has} only {in_range[c.number]}; use {flag} {most} or less"
        )
    return n


def _choose_playlists(
    corpus: Corpus,
    n: int,
    seed: int,
    coverage: str,
    held_out: NDArray[np.int64],
    stream: tuple[int, ...],
) -> tuple[dict[int, NDArray[np.int64]], dict[str, Any]]:
    """(category -> its n test playlists' corpus indices, category -> selection report).

    Categories are chosen in `SELECTION_ORDER`, each from what the earlier ones left, with its
    own generator seeded by (seed, category, *stream): one category's draw does not shift
    another's. The `held_out` playlists are neither chosen nor counted as training.
    """
    lengths = corpus.lengths  # (n_playlists,)
    counts = np.bincount(corpus.track_ids, minlength=corpus.n_tracks).astype(np.int64)
    if len(held_out):  # their tracks are not training occurrences
        out_occ = np.repeat(np.isin(np.arange(corpus.n_playlists), held_out), lengths)
        counts -= np.bincount(corpus.track_ids[out_occ], minlength=corpus.n_tracks)
        del out_occ
    # a playlist holding a track found in no other playlist can never be a test playlist
    single = np.zeros(corpus.n_playlists, dtype=bool)
    nonempty = lengths > 0
    if coverage != "none" and nonempty.any():
        occ = counts.astype(np.int32)[corpus.track_ids]  # (n_occurrences,)
        single[nonempty] = np.minimum.reduceat(occ, corpus.offsets[:-1][nonempty]) == 1
        del occ
    outside = np.zeros(corpus.n_playlists, dtype=bool)
    outside[held_out] = True
    taken = outside.copy()
    pool = ~single & ~taken
    chosen: dict[int, NDArray[np.int64]] = {}
    report: dict[str, Any] = {}
    for number in SELECTION_ORDER:
        c = CATEGORIES[number]
        ranged = (lengths >= c.lo) & (lengths <= c.hi)
        context = {
            "in_range": int(ranged.sum()),
            "taken": int((ranged & taken & ~outside).sum()),
            "private": int((ranged & single & ~taken).sum()),
            "held_out": int((ranged & outside).sum()),
        }
        rng = np.random.default_rng([seed, number, *stream])
        idx, info = select_category(
            c, n, corpus, pool, counts, rng, context, coverage, fill_pool=~taken
        )
        pool[idx] = False
        taken[idx] = True
        chosen[number] = idx
        report[str(number)] = info
    return chosen, report


def _seeds_and_holdouts(
    corpus: Corpus,
    test_idx: NDArray[np.int64],
    cats: NDArray[np.int8],
    seed: int,
    stream: tuple[int, ...],
) -> tuple[Queries, NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """(queries, holdout offsets, holdout positions, holdout track ids) of the test playlists.

    Random seed positions come from one generator per category, seeded by
    (seed, category, *stream); stream (1,) for a test split.
    """
    seed_pos: list[NDArray[np.int64]] = []
    hold_pos: list[NDArray[np.int64]] = []
    titles = np.empty(len(test_idx), dtype=object)
    rngs = {c: np.random.default_rng([seed, c, *stream]) for c in FILE_ORDER}
    for j, (i, c) in enumerate(zip(test_idx, cats, strict=True)):
        cat = CATEGORIES[int(c)]
        length = int(corpus.lengths[i])
        sp = _seed_positions(cat, length, rngs[int(c)])
        keep = np.ones(length, dtype=bool)
        keep[sp] = False
        seed_pos.append(sp)
        hold_pos.append(np.flatnonzero(keep))
        titles[j] = normalize_name(corpus.names[i]) if cat.title else None
    starts = corpus.offsets[test_idx]  # (n_test,)
    seed_offsets, s_pos, s_ids = _ragged(seed_pos, starts, corpus)
    hold_offsets, h_pos, h_ids = _ragged(hold_pos, starts, corpus)
    queries = Queries(
        pids=corpus.pids[test_idx],
        seed_offsets=seed_offsets,
        seed_ids=s_ids,
        seed_pos=s_pos,
        titles=titles,
        categories=cats,
    )
    return queries, hold_offsets, h_pos, h_ids


def _report_categories(
    report: dict[str, Any],
    chosen: dict[int, NDArray[np.int64]],
    corpus: Corpus,
    outside: NDArray[np.int64],
    queries: Queries,
    h_ids: NDArray[np.int32],
    hold_offsets: NDArray[np.int64],
) -> None:
    """Add to each category's report its count, length statistics against the published target,
    and the seed and held-out track occurrences missing from training."""
    in_train = train_catalogue(outside, corpus)  # (n_tracks,) outside: not training
    cats = queries.categories
    owner_s = np.repeat(cats, np.diff(queries.seed_offsets))  # (n_seeds,)
    owner_h = np.repeat(cats, np.diff(hold_offsets))  # (n_holdouts,)
    for number in FILE_ORDER:
        c = CATEGORIES[number]
        stats = _length_stats(corpus.lengths[chosen[number]])
        entry = report[str(number)]
        entry.update(count=len(chosen[number]), num_tracks=stats)
        entry["not_in_train"] = {
            "seeds": int((~in_train[queries.seed_ids[owner_s == number]]).sum()),
            "holdouts": int((~in_train[h_ids[owner_h == number]]).sum()),
        }
        if c.mean is not None and c.std is not None:
            entry["target"] = {"mean": c.mean, "std": c.std}
            entry["deviation"] = {
                "mean": round(stats["mean"] - c.mean, 3),
                "std": round(stats["std"] - c.std, 3),
                "mean_pct": round(100 * (stats["mean"] / c.mean - 1), 1),
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
