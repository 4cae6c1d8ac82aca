"""`sgns`'s bookkeeping: the training corpus on the device, subsampling, negative sampling,
batches of whole playlists and the learning-rate decay (the math and the model: `sgns.py`).

Negatives are drawn from unigram**`ns_exponent` with Walker's alias method: two (V,) lookups per
draw instead of a binary search of the cumulative distribution (`searchsorted`, 9-17% of an
epoch's CPU time at 100k playlists in bench/sgns_profile.json); the same distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from harness.errors import UsageError
from models.base import TrainSet


@dataclass(frozen=True)
class Batch:
    """One batch of whole playlists on the training device."""

    tokens: Tensor  # (B,) int64 vocabulary rows, playlists back to back
    seg: Tensor  # (B,) playlist index of each token: positives never cross a change of seg
    win: Tensor  # (B,) int64 reduced window of each token (as centre), in 1..window
    neg: Tensor  # (B, K) int64 negatives of each token (as input); (B, 2W·K) in pair mode
    window: int  # the largest shift to look at


def keep_probability(counts: NDArray[np.int64], sample: float) -> NDArray[np.float64]:
    """word2vec's (and gensim's) subsampling: keep a word of count f with probability
    (sqrt(f / (s·N)) + 1) · s·N / f, capped at 1; N = total count. sample=0 keeps all."""
    f = counts.astype(np.float64)
    if sample <= 0:
        return np.ones_like(f)
    thr = sample * f.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(f / thr) + 1.0) * thr / f
    return np.minimum(np.nan_to_num(p, nan=1.0, posinf=1.0), 1.0)


def negative_distribution(counts: NDArray[np.int64], ns_exponent: float) -> NDArray[np.float64]:
    """Unigram**α over rows with a positive count (any real α), summing to one, (V,)."""
    w = np.where(counts > 0, np.power(np.maximum(counts, 1).astype(np.float64), ns_exponent), 0.0)
    return w / w.sum()


@numba.njit(cache=True)
def alias_table(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Walker's alias table of distribution p (V,), built as Vose does: draw a column i
    uniformly, keep it with probability prob[i], else take alias[i]."""
    n = len(p)
    scaled = p * n  # (V,) mass of each row in units of one column
    prob = np.ones(n)
    alias = np.arange(n)
    small, large = np.empty(n, np.int64), np.empty(n, np.int64)  # stacks
    n_small = n_large = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[n_small] = i
            n_small += 1
        else:
            large[n_large] = i
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        s, g = small[n_small], large[n_large - 1]
        prob[s], alias[s] = scaled[s], g  # column s: s, topped up with g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            n_large -= 1
            small[n_small] = g
            n_small += 1
    return prob, alias  # columns left on either stack keep themselves (rounding leftovers)


@dataclass(frozen=True)
class Corpus:
    """The training playlists as vocabulary rows, with what an epoch samples from, on the
    training device. V = vocabulary size, N' = tokens of vocabulary tracks."""

    counts: NDArray[np.int64]  # (n_tracks,) occurrences in training
    vocab: NDArray[np.int64]  # (V,) track id of each row: tracks seen >= min_count times
    tokens: Tensor  # (N',) int64 row of each token, playlists back to back
    seg: Tensor  # (N',) int32 playlist index of each token
    keep_p: Tensor  # (V,) float32 subsampling keep probability of each row
    neg_prob: Tensor  # (V,) float64 alias table of the negative-sampling distribution
    neg_alias: Tensor  # (V,) int64
    n_raw: int  # tokens before min_count: the unit of the lr decay and of words/s
    max_len: int  # the longest playlist: the window of window=0


def build_corpus(
    train: TrainSet, min_count: int, sample: float, ns_exponent: float, dev: torch.device
) -> Corpus:
    """Keep the tracks seen at least min_count times; map tokens to rows; upload."""
    counts = np.bincount(train.track_ids, minlength=train.n_tracks)  # (n_tracks,)
    vocab = np.flatnonzero(counts >= min_count)  # (V,)
    if len(vocab) == 0:
        raise UsageError(
            f"sgns: no track occurs min_count={min_count} times in the "
            f"{train.n_playlists:,} training playlists; lower min_count"
        )
    row_of = np.full(train.n_tracks, -1, dtype=np.int64)  # (n_tracks,)
    row_of[vocab] = np.arange(len(vocab))
    rows = row_of[train.track_ids]  # (N,) -1 for dropped tracks
    keep = rows >= 0  # (N,)
    lengths = np.diff(train.offsets)  # (P,)
    seg = np.repeat(np.arange(train.n_playlists, dtype=np.int32), lengths)[keep]  # (N',)
    vcounts = counts[vocab]  # (V,)
    prob, alias = alias_table(negative_distribution(vcounts, ns_exponent))
    return Corpus(
        counts=counts,
        vocab=vocab,
        tokens=torch.from_numpy(rows[keep]).to(dev),
        seg=torch.from_numpy(seg).to(dev),
        keep_p=torch.from_numpy(keep_probability(vcounts, sample)).float().to(dev),
        neg_prob=torch.from_numpy(prob).to(dev),
        neg_alias=torch.from_numpy(alias).to(dev),
        n_raw=len(train.track_ids),
        max_len=int(lengths.max(initial=1)),
    )


def batch_bounds(seg: Tensor, batch: int) -> list[tuple[int, int]]:
    """(lo, hi) slices of about `batch` tokens that start and end at playlist boundaries.

    seg: (M,) non-decreasing playlist index. A playlist longer than `batch` is one batch.
    """
    m = len(seg)
    if m == 0:
        return []
    starts = torch.ones(m, dtype=torch.bool, device=seg.device)  # (M,)
    starts[1:] = seg[1:] != seg[:-1]
    first = torch.nonzero(starts).squeeze(1)  # (n_playlists_kept,) first token of each
    targets = torch.arange(0, m, batch, device=seg.device)  # (n_batches,)
    pos = torch.searchsorted(first, targets).cpu().numpy()  # (n_batches,) index into first
    first_np = np.append(first.cpu().numpy(), m)  # (n_playlists_kept + 1,)
    cut = first_np[pos]  # the first playlist boundary at or after each target
    cuts = np.unique(np.append(cut, m))
    cuts = cuts[cuts > 0]
    lo = np.concatenate([[0], cuts[:-1]])
    return list(zip(lo.tolist(), cuts.tolist(), strict=True))


def draw_batch(
    t: Tensor, seg: Tensor, window: int, whole: bool, k: int, c: Corpus, gen: torch.Generator
) -> Batch:
    """A batch of tokens t (B,) with their reduced windows (B,) and k negatives each (B, k)."""
    dev = t.device
    if whole:
        win = torch.full_like(t, window)  # (B,)
    else:
        win = torch.randint(1, window + 1, t.shape, generator=gen, device=dev)  # (B,)
    col = torch.randint(len(c.neg_prob), (len(t), k), generator=gen, device=dev)  # (B, k)
    u = torch.rand(len(t), k, generator=gen, device=dev, dtype=c.neg_prob.dtype)  # (B, k)
    neg = torch.where(u < rows(c.neg_prob, col), col, rows(c.neg_alias, col))  # (B, k)
    return Batch(t, seg, win, neg, window)


def rows(table: Tensor, idx: Tensor) -> Tensor:
    """table[idx] for an index of any shape: rows (idx.shape + table.shape[1:]).

    index_select, not advanced indexing: on the CPU `table[idx]` (aten::index) took about 5x as
    long for the same rows (bench/row_ops.py)."""
    return table.index_select(0, idx.reshape(-1)).view(*idx.shape, *table.shape[1:])


@dataclass
class LinearDecay:
    """word2vec's learning rate: linear from alpha to min_alpha over `total` raw tokens."""

    alpha: float
    min_alpha: float
    total: int
    done: int = 0  # raw tokens processed so far

    def lr(self) -> float:
        frac = self.done / self.total
        return max(self.alpha - (self.alpha - self.min_alpha) * frac, self.min_alpha)
