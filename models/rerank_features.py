"""The reranker's stage 1 and its features: the union of the base models' candidates per query,
and one feature row per (query, candidate) pair.

Everything works on one batch of queries at a time with flat pair arrays (query position, track
id) sorted by query then track: the base models' ranked lists become sorted int64 keys
`query * n_tracks + track`, so ranks, scores and labels are found with `np.searchsorted`, and
per-query statistics are gathered from small sparse matrices. No dense playlists × tracks (or
queries × tracks) matrix is built; the largest dense block is (queries × playlists) for the
co-occurrence feature, cut to `DENSE_BUDGET` floats.

Features (all float32; NaN is "does not apply", which LightGBM treats as missing):
- per base model m: `m_rank` (1-based rank in m's top M, M + 1 when m did not propose the
  track), and for models with `recommend_scored`: `m_score` and `m_score_norm` (score divided by
  the query's largest |score|);
- `n_models`: how many base models proposed the track; `best_rank`: its best rank among them;
- `log_pop`: log(1 + playlists holding the track); `artist_log_pop`: log(1 + occurrences of
  its artist's tracks);
- `n_seeds`, `has_title`: the query's seed count and whether it has a title;
- `pop_vs_seeds`: `log_pop` minus the seeds' mean; `seed_artists`: distinct seed artists per
  seed (NaN without seeds);
- `artist_share`, `album_share`: fraction of the seeds by the track's artist / on its album;
- `title_count`, `title_share`, `title_log_n`: training playlists with the query's normalised
  title that hold the track, that count over the title's playlists, and log(1 + the title's
  playlists) (0 for an unknown title, NaN without one); `title_word_share`: the same share per
  word of the title, averaged over its words known in training;
- `cooc_mean`: co-occurrences of the track with the seeds (playlists holding both, summed over
  the seeds) per seed; `cooc_frac`: fraction of the track's playlists that hold any seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from models.base import IntArray, Queries, TrainSet
from models.cooc_kernel import csr_lookup, seed_cooccurrence
from models.knn import sparse_from_csr, work_batches

F32 = NDArray[np.float32]
# most floats of the dense (queries × playlists) seed-count block of the co-occurrence feature
DENSE_BUDGET = 16_000_000
# most nonzeros of the candidate rows (candidate × playlists) gathered at once for it
COOC_WORK = 20_000_000


@dataclass(frozen=True)
class Candidates:
    """The candidate pairs of a batch of b queries, sorted by query then track id."""

    query: NDArray[np.int64]  # (n_pairs,) query position in the batch
    track: IntArray  # (n_pairs,) candidate track id
    offsets: NDArray[np.int64]  # (b + 1,) pairs of query i are offsets[i]:offsets[i + 1]
    n_tracks: int

    @property
    def keys(self) -> NDArray[np.int64]:
        return self.query * self.n_tracks + self.track  # (n_pairs,) sorted

    def __len__(self) -> int:
        return len(self.track)


def list_keys(lists: IntArray, n_tracks: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Keys `query * n_tracks + track` of a ranked (b, M) list (-1 padded) and their 1-based
    ranks, sorted by key."""
    q, j = np.nonzero(lists >= 0)  # (n,) each
    keys = q.astype(np.int64) * n_tracks + lists[q, j]
    order = np.argsort(keys, kind="stable")
    return keys[order], (j[order] + 1).astype(np.int64)


def seed_keys(queries: Queries, n_tracks: int) -> NDArray[np.int64]:
    """Keys of every (query, seed) pair of the batch."""
    qi = np.repeat(np.arange(len(queries), dtype=np.int64), queries.n_seeds)
    return qi * n_tracks + queries.seed_ids.astype(np.int64)


def union_candidates(lists: Sequence[IntArray], queries: Queries, n_tracks: int) -> Candidates:
    """Every track some base model proposed for a query, seeds removed (stage 1)."""
    b = len(queries)
    parts = [list_keys(ranked, n_tracks)[0] for ranked in lists]
    keys = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)  # sorted
    keys = keys[~np.isin(keys, seed_keys(queries, n_tracks))]
    query = keys // n_tracks
    offsets = np.searchsorted(query, np.arange(b + 1)).astype(np.int64)
    return Candidates(query, (keys % n_tracks).astype(np.int32), offsets, n_tracks)


def lookup(
    sorted_keys: NDArray[np.int64], values: NDArray[np.generic], keys: NDArray[np.int64]
) -> tuple[NDArray[np.generic], NDArray[np.bool_]]:
    """values[i] where sorted_keys[i] == key, for each key; and whether it was found."""
    if not len(sorted_keys):
        return np.zeros(len(keys), values.dtype), np.zeros(len(keys), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    found = sorted_keys[pos] == keys
    return values[pos], found


def labels(cands: Candidates, holdout_offsets: NDArray[np.int64], holdout_ids: IntArray) -> F32:
    """1 where the candidate is a held-out track of its query, else 0: (n_pairs,)."""
    qi = np.repeat(np.arange(len(holdout_offsets) - 1, dtype=np.int64), np.diff(holdout_offsets))
    held = np.unique(qi * cands.n_tracks + holdout_ids.astype(np.int64))
    return np.isin(cands.keys, held).astype(np.float32)


def artist_labels(
    cands: Candidates, holdout_offsets: NDArray[np.int64], holdout_ids: IntArray,
    track_artist: IntArray,
) -> F32:  # fmt: skip
    """1 where the candidate's artist is an artist of its query's held-out tracks: (n_pairs,).
    The challenge's R-precision credits such a track (a quarter of a hit) when it is not one."""
    qi = np.repeat(np.arange(len(holdout_offsets) - 1, dtype=np.int64), np.diff(holdout_offsets))
    n_artists = int(track_artist.max()) + 1 if len(track_artist) else 1
    held = np.unique(qi * n_artists + track_artist[holdout_ids].astype(np.int64))
    keys = cands.query * n_artists + track_artist[cands.track].astype(np.int64)
    return np.isin(keys, held).astype(np.float32)


def model_features(
    name: str, cands: Candidates, ranked: IntArray, scores: F32 | None
) -> dict[str, F32]:
    """`name_rank` (M + 1 where absent) and, with scores, `name_score` and `name_score_norm`."""
    m = ranked.shape[1]
    keys, ranks = list_keys(ranked, cands.n_tracks)
    rank, found = lookup(keys, ranks, cands.keys)
    out = {f"{name}_rank": np.where(found, rank, m + 1).astype(np.float32)}
    if scores is not None:
        q, j = np.nonzero(ranked >= 0)
        flat = scores[q, j]  # (n,) in the order of np.nonzero, i.e. by (query, rank)
        vals = flat[np.argsort(q.astype(np.int64) * cands.n_tracks + ranked[q, j], kind="stable")]
        got, found = lookup(keys, vals, cands.keys)
        score = np.where(found, got, np.nan).astype(np.float32)
        with np.errstate(invalid="ignore"):
            top = np.nanmax(np.where(ranked >= 0, np.abs(scores), np.nan), axis=1, initial=0.0)
        top = np.where(top > 0, top, 1.0).astype(np.float32)  # (b,)
        out[f"{name}_score"] = score
        out[f"{name}_score_norm"] = score / top[cands.query]
    return out


class TrackStats:
    """What the pair features need from the training playlists, computed once per fit.

    df (T,) playlists per track; BT (T, P) binary track → playlists; title_tracks
    (n_titles, T) playlists of each normalised title holding each track; title_n (n_titles,).
    """

    def __init__(self, train: TrainSet) -> None:
        T = train.n_tracks
        B = sparse_from_csr(train.offsets, train.track_ids, T)  # (P, T) binary
        self.n_tracks = T
        self.n_playlists = B.shape[0]
        self.BT = B.T.tocsr()  # (T, P)
        self.df = np.diff(self.BT.indptr).astype(np.float32)  # (T,)
        titles = train.titles.astype(str)
        names, title_of = np.unique(titles, return_inverse=True)  # (n_titles,), (P,)
        self.title_index = {str(t): i for i, t in enumerate(names)}
        self.title_n = np.bincount(title_of, minlength=len(names)).astype(np.float32)
        # (n_titles, P) one-hot @ (P, T) binary = distinct playlists per (title, track)
        onehot = sp.csr_matrix(
            (np.ones(len(title_of), np.float32), title_of, np.arange(len(title_of) + 1)),
            shape=(self.n_playlists, len(names)),
        )
        self.title_tracks = (onehot.T.tocsr() @ B).tocsr()  # (n_titles, T)
        self.title_tracks.sort_indices()
        # the same per word of the titles: (n_words, T) and (n_words,)
        words = [str(t).split() for t in names]
        vocab = sorted({w for ws in words for w in ws})
        self.word_index = {w: i for i, w in enumerate(vocab)}
        title_words = sp.csr_matrix(
            (
                np.ones(sum(len(set(ws)) for ws in words), np.float32),
                [self.word_index[w] for ws in words for w in sorted(set(ws))],
                np.cumsum([0] + [len(set(ws)) for ws in words]),
            ),
            shape=(len(names), len(vocab)),
        )  # (n_titles, n_words) binary
        playlist_words = (onehot @ title_words).tocsr()  # (P, n_words)
        self.word_n = np.diff(playlist_words.tocsc().indptr).astype(np.float32)  # (n_words,)
        self.word_tracks = (playlist_words.T.tocsr() @ B).tocsr()  # (n_words, T)
        self.word_tracks.sort_indices()
        self.artist = train.track_artist
        self.album = train.track_album
        # (n_artists,) occurrences of each artist's tracks in training
        self.artist_pop = np.bincount(
            train.track_artist[train.track_ids],
            minlength=int(train.track_artist.max(initial=0)) + 1,
        ).astype(np.float32)

    def title_ids(self, titles: NDArray[np.object_]) -> NDArray[np.int64]:
        """Row of each query's title in title_tracks: -1 unknown, -2 no title."""
        return np.array(
            [-2 if t is None else self.title_index.get(str(t), -1) for t in titles], np.int64
        )


def gather(m: sp.csr_matrix, rows: NDArray[np.int64], cols: NDArray[np.integer]) -> F32:
    """m[rows[i], cols[i]] for each i (zeros where absent): (n,), by binary search in each row
    (`csr_lookup`); m is made canonical (sorted, repeats summed) first if it is not."""
    out = np.zeros(len(rows), np.float32)  # (n,)
    if not len(rows):
        return out
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    # numba compiles for the matrix's own index dtypes: no copy of its arrays
    csr_lookup(m.indptr, m.indices, m.data, rows.astype(np.int64), cols.astype(np.int64), out)
    return out


def share_of_seeds(
    attr: IntArray, queries: Queries, cands: Candidates, n_seeds: NDArray[np.int64]
) -> F32:
    """Fraction of each query's seeds with the candidate's attribute (artist, album); NaN
    without seeds."""
    b, width = len(queries), int(attr.max(initial=0)) + 1
    qi = np.repeat(np.arange(b), n_seeds)
    counts = sp.csr_matrix(
        (np.ones(len(qi), np.float32), (qi, attr[queries.seed_ids])), shape=(b, width)
    )  # (b, n_attr) seeds per attribute value (duplicates summed)
    got = gather(counts, cands.query, attr[cands.track])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (got / n_seeds[cands.query]).astype(np.float32)


def cooccurrence(stats: TrackStats, queries: Queries, cands: Candidates) -> tuple[F32, F32]:
    """Per pair: playlists holding both the track and a seed, summed over the seeds, and the
    number of the track's playlists holding any seed. Queries go in chunks whose dense
    (chunk × P) seed-count block and gathered candidate rows stay under the budgets."""
    P = stats.n_playlists
    total, anyseed = np.zeros(len(cands), np.float32), np.zeros(len(cands), np.float32)
    work = np.add.reduceat(
        np.append(stats.df[cands.track], 0.0).astype(np.float64), cands.offsets[:-1]
    ) * (np.diff(cands.offsets) > 0)  # (b,) nonzeros of each query's candidate rows
    max_rows = max(1, DENSE_BUDGET // max(P, 1))
    bt_ptr, bt_idx = stats.BT.indptr, stats.BT.indices  # (T + 1,), (nnz,) as scipy keeps them
    for sl in work_batches(work, COOC_WORK, max_rows):
        rows = np.arange(sl.start, sl.stop)
        sub = queries.subset(rows)
        Q = sparse_from_csr(sub.seed_offsets, sub.seed_ids, stats.n_tracks)  # (c, T) binary
        seeds_in = (Q @ stats.BT).toarray().astype(np.float32, copy=False)  # (c, P)
        a, e = cands.offsets[sl.start], cands.offsets[sl.stop]
        tracks = cands.track[a:e].astype(np.int64)  # (pairs,)
        rows_in = (cands.query[a:e] - sl.start).astype(np.int64)  # (pairs,) row in seeds_in
        seed_cooccurrence(bt_ptr, bt_idx, seeds_in, tracks, rows_in, total[a:e], anyseed[a:e])
    return total, anyseed


def title_features(stats: TrackStats, queries: Queries, cands: Candidates) -> dict[str, F32]:
    """`title_count`, `title_share`, `title_log_n` (0 for an unknown title, NaN without one)."""
    tq = stats.title_ids(queries.titles)[cands.query]  # (n_pairs,) -2 none, -1 unknown
    known, none = tq >= 0, tq == -2
    count = np.zeros(len(cands), np.float32)
    count[known] = gather(stats.title_tracks, tq[known], cands.track[known])
    title_n = np.where(known, stats.title_n[np.maximum(tq, 0)], 0.0).astype(np.float32)
    share = np.divide(count, title_n, out=np.zeros(len(cands), np.float32), where=title_n > 0)
    for col in (count, title_n, share):
        col[none] = np.nan
    return {
        "has_title": (~none).astype(np.float32),
        "title_count": count,
        "title_share": share,
        "title_log_n": np.log1p(title_n),
    }


def word_share(stats: TrackStats, queries: Queries, cands: Candidates) -> F32:
    """Per pair: over the words of the query's title known in training, the mean share of the
    playlists whose title has the word that hold the track (0 with no known word, NaN without
    a title). Catches titles never seen whole ("good vibes ✨" from "good", "vibes")."""
    words = [
        []
        if t is None
        else [stats.word_index[w] for w in set(str(t).split()) if w in stats.word_index]
        for t in queries.titles
    ]
    n_words = np.array([len(w) for w in words], np.int64)  # (b,)
    flat = np.array([w for ws in words for w in ws], np.int64)  # (sum n_words,)
    first = np.concatenate([[0], np.cumsum(n_words)])  # (b + 1,)
    # one row per (pair, word of its query)
    per_pair = n_words[cands.query]  # (n_pairs,)
    pair = np.repeat(np.arange(len(cands)), per_pair)
    within = np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
    word = flat[first[cands.query[pair]] + within]
    vals = gather(stats.word_tracks, word, cands.track[pair]) / stats.word_n[word]
    total = np.bincount(pair, weights=vals, minlength=len(cands))
    out = np.divide(total, per_pair, out=np.zeros(len(cands)), where=per_pair > 0)
    out[np.array([t is None for t in queries.titles], bool)[cands.query]] = np.nan
    return out.astype(np.float32)


def seed_profile(stats: TrackStats, queries: Queries) -> tuple[F32, F32]:
    """Per query (b,): the mean log popularity of its seeds and its distinct seed artists per
    seed (how focused the playlist is); NaN without seeds."""
    b, n = len(queries), queries.n_seeds
    qi = np.repeat(np.arange(b, dtype=np.int64), n)  # (n_seeds,)
    logpop = np.log1p(stats.df[queries.seed_ids]).astype(np.float64)
    width = len(stats.artist_pop)
    distinct = np.bincount(
        np.unique(qi * width + stats.artist[queries.seed_ids]) // width, minlength=b
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(qi, weights=logpop, minlength=b) / n
        return mean.astype(np.float32), (distinct / n).astype(np.float32)


def pair_features(stats: TrackStats, queries: Queries, cands: Candidates) -> dict[str, F32]:
    """The model-independent features of every candidate pair (see the module docstring)."""
    n_seeds = queries.n_seeds
    qn = n_seeds[cands.query].astype(np.float32)  # (n_pairs,)
    df = stats.df[cands.track]
    log_pop = np.log1p(df)
    seed_pop, seed_artists = seed_profile(stats, queries)
    total, anyseed = cooccurrence(stats, queries, cands)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "log_pop": log_pop,
            "artist_log_pop": np.log1p(stats.artist_pop[stats.artist[cands.track]]),
            "n_seeds": qn,
            "pop_vs_seeds": log_pop - seed_pop[cands.query],
            "seed_artists": seed_artists[cands.query],
            "artist_share": share_of_seeds(stats.artist, queries, cands, n_seeds),
            "album_share": share_of_seeds(stats.album, queries, cands, n_seeds),
            **title_features(stats, queries, cands),
            "title_word_share": word_share(stats, queries, cands),
            "cooc_mean": np.where(qn > 0, total / qn, np.nan).astype(np.float32),
            "cooc_frac": np.where((qn > 0) & (df > 0), anyseed / df, np.nan).astype(np.float32),
        }


def summary_features(columns: dict[str, F32], names: Sequence[str], m: int) -> dict[str, F32]:
    """`n_models` and `best_rank` from the per-model rank columns."""
    ranks = np.stack([columns[f"{n}_rank"] for n in names], axis=1)  # (n_pairs, n_models)
    return {
        "n_models": (ranks <= m).sum(axis=1).astype(np.float32),
        "best_rank": ranks.min(axis=1),
    }
