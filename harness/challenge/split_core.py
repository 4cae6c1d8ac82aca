"""The `Split` object, its fingerprint, its invariants, and the training set it leaves.

Shared by the drawing (`split.py`) and the files (`split_io.py`): a split drawn and a split read
back are the same object and pass the same `check_split`. A validation split (drawn from the
training playlists of a test split, `SPLIT_DIR/validation/`) is a `Split` too, whose `of_split`
names the test split; `as_validation` turns it into the `harness.types.Validation` models get.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.challenge.categories import CATEGORIES
from harness.data.corpus import Corpus
from harness.errors import DataError
from harness.types import Queries, TrainSet, Validation

SPLIT_FORMAT = 1
# the random streams of a draw: numpy generators seeded by [seed, category, *stream], one for
# choosing the playlists and one for random seed positions; a validation split's never meet
# the test split's, so both can share one seed
TEST_STREAMS: tuple[tuple[int, ...], tuple[int, ...]] = ((), (1,))
VALIDATION_STREAMS: tuple[tuple[int, ...], tuple[int, ...]] = ((2,), (3,))


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
    # a validation split: the fingerprint of the test split whose training playlists it was
    # drawn from ("" for a test split)
    of_split: str = ""

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

    @property
    def ref(self) -> SplitRef:
        """What a validation split needs of this split (no held-out tracks)."""
        return SplitRef(self.test_idx, self.seed, self.settings, self.fingerprint)


@dataclass(frozen=True)
class SplitRef:
    """A test split as its validation split knows it: which corpus playlists it holds, its
    seed, settings and fingerprint, never their held-out tracks. `read_split_ref` reads one
    from a split folder without opening its ground_truth.json."""

    test_idx: NDArray[np.int64]  # (n_test,) corpus playlist indices
    seed: int
    settings: dict[str, Any]
    fingerprint: str


def split_fingerprint(
    source_fp: str, pids: NDArray[np.int64], cats: NDArray[np.int8], q: Queries, of_split: str = ""
) -> str:
    """Hash of what defines a split: the source corpus, test pids, categories, seed positions;
    for a validation split also the test split it belongs to (`of_split`)."""
    head = f"mpd-harness split v{SPLIT_FORMAT}\0{source_fp}\0"
    if of_split:  # a test split's hash stays what it was before validation splits existed
        head += f"validation of {of_split}\0"
    h = hashlib.sha256(head.encode())
    for a in (pids.astype("<i8"), cats.astype("<i1"), q.seed_offsets.astype("<i8")):
        h.update(a.tobytes())
    h.update(q.seed_pos.astype("<i4").tobytes())
    return h.hexdigest()[:16]


def check_split(split: Split, corpus: Corpus, outside: NDArray[np.int64] | None = None) -> None:
    """Assert the split's invariants; raises DataError (a bug or a foreign split) otherwise.

    outside: playlists that are not training playlists either (for a validation split, the
    test playlists): the split must not hold any, and the coverage rule counts without them.
    """
    idx = split.test_idx
    if len(np.unique(idx)) != len(idx):
        raise DataError("split: a test playlist appears in two categories")
    out = np.zeros(0, dtype=np.int64) if outside is None else outside
    if np.isin(idx, out).any():
        raise DataError("validation split: holds a playlist of the test split")
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
    missing = ~train_catalogue(np.concatenate([idx, out]), corpus)[test_tracks]
    if missing.any():
        raise DataError(
            f"split: {int(missing.sum())} test track occurrences are absent from training "
            f"(e.g. {corpus.track_uris[test_tracks[missing][0]]})"
        )


def train_catalogue(test_idx: NDArray[np.int64], corpus: Corpus) -> NDArray[np.bool_]:
    """(n_tracks,) True for the tracks that occur in the training playlists."""
    counts = np.bincount(corpus.track_ids, minlength=corpus.n_tracks)
    test_occ = np.repeat(np.isin(np.arange(corpus.n_playlists), test_idx), corpus.lengths)
    counts -= np.bincount(corpus.track_ids[test_occ], minlength=corpus.n_tracks)
    return counts > 0


def train_set(corpus: Corpus, split: Split) -> TrainSet:
    """The training playlists (corpus minus the test set) in CSR form; ids keep the catalogue."""
    return train_without(corpus, split.test_idx)


def train_without(corpus: Corpus, test_idx: NDArray[np.int64]) -> TrainSet:
    """Every playlist of the corpus but `test_idx`, in corpus order, as a TrainSet."""
    mask = np.ones(corpus.n_playlists, dtype=bool)  # (n_playlists,)
    mask[test_idx] = False
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


def train_rows(test_idx: NDArray[np.int64], corpus: Corpus) -> NDArray[np.int64]:
    """(n_playlists,) each corpus playlist's row in `train_set` (-1 for the test playlists)."""
    mask = np.ones(corpus.n_playlists, dtype=bool)
    mask[test_idx] = False
    rows = np.cumsum(mask) - 1
    rows[~mask] = -1
    return rows.astype(np.int64)


def as_validation(validation: Split, split: SplitRef, corpus: Corpus) -> Validation:
    """The validation split as models get it on `TrainSet.validation`: rows of the training set
    of the test split `split`, queries, held-out track ids, fingerprint."""
    if validation.of_split != split.fingerprint:
        raise DataError(
            f"validation split {validation.fingerprint} belongs to split {validation.of_split}, "
            f"not {split.fingerprint}"
        )
    rows = train_rows(split.test_idx, corpus)[validation.test_idx]  # (n_validation,)
    if (rows < 0).any():
        raise DataError("validation split: holds a playlist of the test split")
    return Validation(
        rows=rows,
        queries=validation.queries,
        holdout_offsets=validation.holdout_offsets,
        holdout_ids=validation.holdout_ids,
        fingerprint=validation.fingerprint,
    )
