"""`sgns`: skip-gram with negative sampling written from scratch in PyTorch (no gensim).

The math is a small `nn.Module` (`SkipGram`: input and output embeddings, the loss and its
closed-form gradients); the bookkeeping is apart (`SGNSRecommender.fit`: vocabulary, subsampling,
negative table, batches, learning-rate decay, seeding, device).

How a batch is trained (the fast path, identical on CPU and CUDA):
- Batches are runs of whole playlists of about `batch_tokens` tokens, cut from the subsampled
  corpus each epoch; nothing of size "all pairs" is ever built.
- Token i is the input of the pairs (i, j), j = i ± 1..window, masked at playlist edges and by
  the centre j's reduced window (word2vec's random window in 1..window; `window=0`: the whole
  playlist, no shrinking). Each token's rows are gathered once: the context slots are a
  sliding-window view (`unfold`) of the batch's own output rows, the K negatives one (B, K, d)
  gather; scores and gradients are a `bmm` or a broadcast multiply each, and the updates three
  `index_add_` (input rows; output rows of the tokens; output rows of the negatives).
- Negatives: `negative` draws per (input token) from the unigram**`ns_exponent` table, weighted by
  the number of positive pairs that token is the input of, so in expectation the gradient equals
  word2vec's (K negatives per pair) at 1/(window+1) of the cost.
- Gradients are written out in closed form and applied with one `index_add_` per table (plain
  SGD, like word2vec), at lr × `batch_lr_scale` (1.0 by default): a batch reads every row as it
  was when the batch began, so it loses the compounding of word2vec's one-pair-at-a-time
  updates; docs/sgns.md measures what that costs and when a larger step helps.

`loss="softmax"` is the seed's naive design (full softmax over the catalogue, autograd, dense
gradients): kept for small catalogues to show why negative sampling is needed; it refuses beyond
`SOFTMAX_MAX_TRACKS`.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn
from typing_extensions import Self

from harness.errors import ParameterError, UsageError
from models.base import IntArray, Queries, Recommender, TrainSet
from models.vectors import normalize_rows, recommend_from_vectors

SOFTMAX_MAX_TRACKS = 50_000
LOSSES = ("neg", "softmax")
DEVICES = ("auto", "cpu", "cuda")


# ---------------------------------------------------------------------------------- the math


@dataclass(frozen=True)
class Batch:
    """One batch of whole playlists on the training device.

    tokens: (B,) int64 track ids (vocabulary rows), playlists back to back.
    seg: (B,) int playlist index of each token; positives never cross a change of seg.
    win: (B,) int64 reduced window of each token (as centre), in 1..window.
    neg: (B, K) int64 negative samples for each token (as input); (B, 2W·K) in pair mode.
    window: the largest shift to look at.
    """

    tokens: Tensor
    seg: Tensor
    win: Tensor
    neg: Tensor
    window: int


class SkipGram(nn.Module):
    """Input embeddings `inp` (the track vectors) and output embeddings `out`.

    For a pair (input x, output y) the score is inp[x]·out[y]; the loss is
    -log σ(inp[x]·out[y]) - Σ_k log σ(-inp[x]·out[n_k]). Initialised like gensim 4: inp
    uniform in ±1/dim (word2vec's C code: ±0.5/dim, worse on rare tracks here), out zero.
    `neg_per_slot` > 0 switches to K negatives per (token, offset) slot (neg_mode="pair").
    """

    def __init__(self, n_rows: int, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        inp = (torch.rand(n_rows, dim, generator=generator) * 2 - 1) / dim  # (V, d) ±1/dim
        self.inp = nn.Parameter(inp)  # (V, d)
        self.out = nn.Parameter(torch.zeros(n_rows, dim))  # (V, d)
        self.neg_per_slot = 0

    # -- reference losses (autograd): the gradient check and the softmax option use these

    def pair_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Σ_pairs -log σ(inp[x]·out[y]); x, y: (P,) input and output rows."""
        pos = (self.inp[x] * self.out[y]).sum(-1)  # (P,)
        return -F.logsigmoid(pos).sum()

    def negative_loss(self, tokens: Tensor, neg: Tensor, weight: Tensor) -> Tensor:
        """Σ_i w_i Σ_k -log σ(-inp[t_i]·out[neg_ik]); tokens: (N,), neg: (N, K), weight: (N,)."""
        u = self.inp[tokens]  # (N, d)
        s = torch.bmm(self.out[neg], u.unsqueeze(-1)).squeeze(-1)  # (N, K)
        return -(F.logsigmoid(-s).sum(-1) * weight).sum()

    def softmax_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Full-softmax cross-entropy of predicting y from x, summed: the seed's design."""
        logits = self.inp[x] @ self.out.T  # (P, V)
        return F.cross_entropy(logits, y, reduction="sum")

    # -- the fast path: closed-form gradients

    @torch.no_grad()
    def batch_grads(self, b: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Loss and closed-form gradients of one batch (the parameters are not touched).

        Token i is the input of the pairs (i, j), j = i + o, o in ±1..W, j in the same playlist
        and |o| within j's (the centre's) reduced window, plus K negatives. Each token's rows
        are gathered once: the context slots are a sliding-window view of the batch's own
        output rows (no gather per pair), the negatives one (B, K, d) gather.

        Returns (loss, g_inp, g_out_tok, g_out_neg, n_pairs): g_inp (B, d) the gradient at
        inp[tokens]; g_out_tok (B, d) at out[tokens]; g_out_neg (B, K, d) at out[neg];
        n_pairs () the number of positive pairs.
        """
        t, seg, win, neg = b.tokens, b.seg, b.win, b.neg  # (B,), (B,), (B,), (B, K)
        n, w, k = len(t), b.window, neg.shape[1]
        d = self.inp.shape[1]
        dev = t.device
        offs = torch.arange(-w, w + 1, device=dev)  # (2W+1,) slot c is offset c - W
        j = torch.arange(n, device=dev).unsqueeze(1) + offs  # (B, 2W+1) context positions
        jc = j.clamp(0, n - 1)  # (B, 2W+1)
        valid = (offs != 0) & (j == jc) & (seg[jc] == seg.unsqueeze(1)) & (win[jc] >= offs.abs())
        pos_w = valid.to(self.inp.dtype)  # (B, 2W+1)
        n_pos = pos_w.sum(1)  # (B,) pairs of each input token

        U = self.inp[t]  # (B, d)
        V = self.out[t]  # (B, d)
        Vp = torch.cat([V.new_zeros(w, d), V, V.new_zeros(w, d)])  # (B+2W, d)
        Vc = Vp.unfold(0, 2 * w + 1, 1)  # (B, d, 2W+1) view: Vc[i, :, c] = V[i + c - W]
        Vn = self.out[neg]  # (B, K, d)
        s_ctx = torch.bmm(U.unsqueeze(1), Vc).squeeze(1)  # (B, 2W+1)
        s_neg = (Vn * U.unsqueeze(1)).sum(-1)  # (B, K) (faster than a batched gemv on CPU)
        if k == 2 * w * self.neg_per_slot and self.neg_per_slot:  # K negatives per pair slot
            keep = torch.cat([pos_w[:, :w], pos_w[:, w + 1 :]], dim=1)  # (B, 2W)
            neg_w = keep.repeat_interleave(self.neg_per_slot, dim=1)  # (B, 2W·K)
        else:
            neg_w = n_pos.unsqueeze(1).expand(n, k)  # (B, K)
        g_ctx = (torch.sigmoid(s_ctx) - 1) * pos_w  # (B, 2W+1) dL/ds, 0 where masked
        g_neg = torch.sigmoid(s_neg) * neg_w  # (B, K)
        loss = -(F.logsigmoid(s_ctx) * pos_w).sum(dtype=torch.float64)
        loss = loss - (F.logsigmoid(-s_neg) * neg_w).sum(dtype=torch.float64)

        gU = torch.bmm(g_ctx.unsqueeze(1), Vc.transpose(1, 2)).squeeze(1)  # (B, d)
        gU += (g_neg.unsqueeze(-1) * Vn).sum(1)  # (B, d)
        gVp = torch.zeros_like(Vp)  # (B+2W, d) overlap-add of the context slots
        for c in range(2 * w + 1):
            if c != w:
                gVp[c : c + n] += g_ctx[:, c : c + 1] * U  # (B, d) into rows i + c - W
        gVn = g_neg.unsqueeze(-1) * U.unsqueeze(1)  # (B, K, d)
        return loss, gU, gVp[w : w + n], gVn, pos_w.sum(dtype=torch.float64)

    @torch.no_grad()
    def sgd_step(
        self, b: Batch, lr: float, row_power: float, scratch: Tensor
    ) -> tuple[Tensor, Tensor]:
        """One SGD step on a batch; returns (summed loss, number of positive pairs) as 0-d
        tensors on the device (no host sync per batch).

        scratch: (V,) float zeros, used to count row occurrences in the batch (left zeroed).
        """
        loss, gU, gV, gVn, n_pairs = self.batch_grads(b)
        neg = b.neg.reshape(-1)  # (B·K,)
        gVn = gVn.reshape(len(neg), -1)  # (B·K, d)
        if row_power:
            gU = gU * _occurrence_scale(b.tokens, scratch, row_power).unsqueeze(1)  # (B, d)
            rows = torch.cat([b.tokens, neg])  # (B + B·K,)
            scale = _occurrence_scale(rows, scratch, row_power).unsqueeze(1)  # (B + B·K, 1)
            gV, gVn = gV * scale[: len(gV)], gVn * scale[len(gV) :]
        self.inp.index_add_(0, b.tokens, gU, alpha=-lr)
        self.out.index_add_(0, b.tokens, gV, alpha=-lr)
        self.out.index_add_(0, neg, gVn, alpha=-lr)
        return loss, n_pairs


def _occurrence_scale(rows: Tensor, scratch: Tensor, power: float) -> Tensor:
    """c**-power per entry, c = how often that entry's row occurs in `rows`: (R,) -> (R,)."""
    scratch.index_add_(0, rows, torch.ones(len(rows), dtype=scratch.dtype, device=rows.device))
    c = scratch[rows]  # (R,)
    scratch[rows] = 0
    return c.pow(-power)


# ---------------------------------------------------------------------------- bookkeeping


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


def negative_cdf(counts: NDArray[np.int64], ns_exponent: float) -> NDArray[np.float64]:
    """Cumulative unigram**α distribution over rows with a positive count (any real α)."""
    w = np.where(counts > 0, np.power(np.maximum(counts, 1).astype(np.float64), ns_exponent), 0.0)
    cdf = np.cumsum(w)  # (V,)
    return cdf / cdf[-1]


class SGNSRecommender(Recommender):
    """Skip-gram with negative sampling in PyTorch; same hyperparameter names as `w2v`.

    Parameters
    ----------
    dim, window, negative, ns_exponent, sample, epochs, min_count, candidate_min_count, seed :
        as in `w2v` (window 0 = the whole playlist, no shrinking).
    lr, min_lr : SGD learning rate, decayed linearly from lr to min_lr over all epochs
        (word2vec's alpha / min_alpha).
    batch_tokens : tokens per batch (whole playlists; about). On CUDA the batch is this times
        `gpu_batch_scale`.
    row_power : a row seen c times in a batch gets its summed gradient scaled by c**-row_power
        (0, the default: plain sum, as sequential SGD would add them; 1: mean). Measured
        harmful: a row legitimately occurs ~2·window times per token (docs/sgns.md).
    batch_lr_scale : the negative-sampling step uses lr × batch_lr_scale (default 1.0, the
        textbook update). Batched updates read every row as it was at the start of the batch,
        losing the compounding of word2vec's one-pair-at-a-time SGD: on planted clusters
        (3 epochs) 1.0 gave rare-track purity 0.78 vs gensim's 0.88 and 1.4 matched gensim;
        on the synthetic MPD split 1.0 matched gensim's R-precision (-1.3%) and 1.4 lost 19%
        (docs/sgns.md).
    neg_mode : "token" (K negatives per input token, weighted by its pair count) or "pair"
        (K per pair, word2vec's exact scheme; about 4x the work at window 5).
    device : "auto" (CUDA when available, else CPU), "cpu" or "cuda".
    threads : CPU threads (0: all cores); fixed for determinism. Default 1: on the 2-core
        machine 1 thread fitted the default synthetic split in 64 s, 2 threads in 100 s.
    loss : "neg" (negative sampling) or "softmax" (full softmax; at most SOFTMAX_MAX_TRACKS).
    chunk : queries per scoring block in `recommend`.
    """

    cold_start = "title"
    deterministic = True
    determinism_note = (
        "byte-identical on CPU for a seed and thread count; CUDA index_add_ uses atomics, "
        "so CUDA runs are not bit-repeatable"
    )

    def __init__(
        self,
        dim: int = 64,
        window: int = 10,
        negative: int = 5,
        ns_exponent: float = -0.5,
        sample: float = 1e-3,
        epochs: int = 20,
        min_count: int = 50,
        candidate_min_count: int = 0,
        seed: int = 0,
        lr: float = 0.025,
        min_lr: float = 0.0001,
        batch_tokens: int = 1024,
        gpu_batch_scale: int = 64,
        row_power: float = 0.0,
        batch_lr_scale: float = 1.0,
        device: str = "auto",
        threads: int = 1,
        loss: str = "neg",
        neg_mode: str = "token",
        chunk: int = 256,
    ) -> None:
        self.dim = dim
        self.window = window
        self.negative = negative
        self.ns_exponent = ns_exponent
        self.sample = sample
        self.epochs = epochs
        self.min_count = min_count
        self.candidate_min_count = candidate_min_count
        self.seed = seed
        self.lr = lr
        self.min_lr = min_lr
        self.batch_tokens = batch_tokens
        self.gpu_batch_scale = gpu_batch_scale
        self.row_power = row_power
        self.batch_lr_scale = batch_lr_scale
        self.device = device
        self.threads = threads
        self.loss = loss
        self.neg_mode = neg_mode
        self.chunk = chunk

    # -- checks and setup

    def check_params(self) -> None:
        checks = [
            ("dim", self.dim >= 1),
            ("window", self.window >= 0),
            ("negative", self.negative >= 1),
            ("epochs", self.epochs >= 1),
            ("min_count", self.min_count >= 1),
            ("candidate_min_count", self.candidate_min_count >= 0),
            ("sample", self.sample >= 0),
            ("lr", self.lr > 0),
            ("min_lr", 0 <= self.min_lr <= self.lr),
            ("batch_tokens", self.batch_tokens >= 2),
            ("gpu_batch_scale", self.gpu_batch_scale >= 1),
            ("row_power", 0 <= self.row_power <= 1),
            ("batch_lr_scale", self.batch_lr_scale > 0),
            ("ns_exponent", bool(np.isfinite(self.ns_exponent))),
            ("device", self.device in DEVICES),
            ("threads", self.threads >= 0),
            ("loss", self.loss in LOSSES),
            ("neg_mode", self.neg_mode in ("token", "pair")),
            ("chunk", self.chunk >= 1),
        ]
        bad = [name for name, ok in checks if not ok]
        if bad:
            got = ", ".join(f"{n}={getattr(self, n)!r}" for n in bad)
            raise ParameterError(f"sgns: invalid hyperparameter(s) {got}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("sgns: device='cuda' but torch.cuda.is_available() is False")

    def _device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    # -- training

    def _fit(self, train: TrainSet) -> Self:
        """Train on the training playlists; keep unit input vectors in `vectors_`."""
        dev = self._device()
        threads_before = torch.get_num_threads()
        if dev.type == "cpu":
            torch.set_num_threads(self.threads or (os.cpu_count() or 1))
        try:
            self._train(train, dev)
        finally:
            torch.set_num_threads(threads_before)
        return self

    def _train(self, train: TrainSet, dev: torch.device) -> None:
        t_start = time.perf_counter()
        counts = np.bincount(train.track_ids, minlength=train.n_tracks)  # (n_tracks,)
        vocab = np.flatnonzero(counts >= self.min_count)  # (V,) track id of each row
        if len(vocab) == 0:
            raise UsageError(
                f"sgns: no track occurs min_count={self.min_count} times in the "
                f"{train.n_playlists:,} training playlists; lower min_count"
            )
        if self.loss == "softmax" and len(vocab) > SOFTMAX_MAX_TRACKS:
            raise UsageError(
                f"sgns: loss='softmax' computes a dense score over every track for every pair; "
                f"{len(vocab):,} tracks exceed the limit SOFTMAX_MAX_TRACKS={SOFTMAX_MAX_TRACKS:,} "
                f"(use loss='neg', or raise min_count)"
            )
        row_of = np.full(train.n_tracks, -1, dtype=np.int64)  # (n_tracks,)
        row_of[vocab] = np.arange(len(vocab))
        rows = row_of[train.track_ids]  # (N,) -1 for dropped tracks
        keep = rows >= 0
        lengths = np.diff(train.offsets)  # (P,)
        seg = np.repeat(np.arange(train.n_playlists, dtype=np.int32), lengths)[keep]  # (N',)
        rows = rows[keep]  # (N',)
        vcounts = counts[vocab]  # (V,)

        gen = torch.Generator(device=dev).manual_seed(int(self.seed))
        cpu_gen = torch.Generator().manual_seed(int(self.seed))
        model = SkipGram(len(vocab), self.dim, cpu_gen).to(dev)
        model.neg_per_slot = self.negative if self.neg_mode == "pair" else 0
        tok_d = torch.from_numpy(rows).to(dev)  # (N',)
        seg_d = torch.from_numpy(seg).to(dev)  # (N',)
        keep_p = torch.from_numpy(keep_probability(vcounts, self.sample)).float().to(dev)  # (V,)
        cdf = torch.from_numpy(negative_cdf(vcounts, self.ns_exponent)).to(dev)  # (V,) f64
        scratch = torch.zeros(len(vocab), device=dev)  # (V,)
        whole = self.window == 0
        max_len = int(lengths.max(initial=1))
        w = max_len if whole else int(self.window)
        batch = self.batch_tokens * (self.gpu_batch_scale if dev.type == "cuda" else 1)
        # a batch much longer than the vocabulary repeats every row many times, and the summed
        # gradients overshoot (diverge on tens of tracks): cap it at a quarter of the vocabulary
        batch = max(1, min(batch, len(vocab) // 4))

        n_raw = len(train.track_ids)
        total = max(n_raw * self.epochs, 1)
        done = 0
        epoch_s: list[float] = []
        losses: list[float] = []
        n_trained = 0
        t_train = time.perf_counter()
        for _ in range(self.epochs):
            t0 = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
            pair_sum = torch.zeros((), dtype=torch.float64, device=dev)
            # subsampling: (N',) mask, drawn on the device
            u = torch.rand(len(tok_d), generator=gen, device=dev)  # (N',)
            kept = u < keep_p[tok_d]  # (N',)
            e_tok, e_seg = tok_d[kept], seg_d[kept]  # (M,) each
            n_trained += len(e_tok)
            for lo, hi in _batch_bounds(e_seg, batch):
                t, s = e_tok[lo:hi], e_seg[lo:hi]  # (b,) each
                win = (
                    torch.full_like(t, w)
                    if whole
                    else torch.randint(1, w + 1, t.shape, generator=gen, device=dev)
                )  # (b,)
                kk = self.negative * (2 * w if self.neg_mode == "pair" else 1)
                r = torch.rand(len(t), kk, generator=gen, device=dev, dtype=cdf.dtype)
                neg = torch.searchsorted(cdf, r).clamp_(max=len(vocab) - 1)  # (b, K)
                b = Batch(t, s, win, neg, w)
                frac = done / total
                lr = max(self.lr - (self.lr - self.min_lr) * frac, self.min_lr)
                if self.loss == "softmax":
                    loss, pairs = _softmax_step(model, b, lr)
                else:
                    lr_b = lr * self.batch_lr_scale
                    loss, pairs = model.sgd_step(b, lr_b, self.row_power, scratch)
                loss_sum += loss
                pair_sum += pairs
                # raw progress: the share of the epoch's raw tokens this batch stands for
                done += int(round(n_raw * (hi - lo) / max(len(e_tok), 1)))
            losses.append(float(loss_sum.item()) / max(float(pair_sum.item()), 1.0))  # syncs
            epoch_s.append(time.perf_counter() - t0)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        train_s = time.perf_counter() - t_train

        _check_converging(losses, self._start_loss(len(vocab)), self.lr, batch)
        inp = model.inp.detach().cpu().numpy()  # (V, d)
        del model, tok_d, seg_d, e_tok, e_seg, kept, u, rows, seg  # free before the copies below
        vectors = np.zeros((train.n_tracks, self.dim), dtype=np.float32)  # (n_tracks, d)
        vectors[vocab] = normalize_rows(inp)
        del inp
        if not np.isfinite(vectors).all():
            raise UsageError(f"sgns: training diverged (non-finite vectors); lower lr={self.lr}")
        self.vectors_ = vectors
        self.candidates_ = counts >= self.candidate_min_count  # (n_tracks,)
        self.device_ = str(dev)
        # CUDA index_add_ uses atomics: repeatable on CPU only
        self.deterministic_ = dev.type == "cpu"
        self.fit_info_: dict[str, Any] = {
            "device": str(dev),
            "threads": torch.get_num_threads() if dev.type == "cpu" else None,
            "vocab_size": int(len(vocab)),
            "raw_words_per_epoch": int(n_raw),
            "trained_words": int(n_trained),
            "batch_tokens": int(batch),
            "prepare_s": round(t_train - t_start, 3),
            "train_s": round(train_s, 3),
            "words_per_s": round(n_raw * self.epochs / train_s, 1) if train_s > 0 else None,
            "epoch_s": [round(x, 3) for x in epoch_s],
            "loss_per_pair": [round(x, 5) for x in losses],
            "final_loss": round(losses[-1], 5) if losses else None,
        }

    def _start_loss(self, n_rows: int) -> float:
        """Loss per positive pair before any step (output rows zero, so every score is 0):
        ln 2 for the pair and K·ln 2 for its negatives; ln V for the full softmax."""
        return math.log(n_rows) if self.loss == "softmax" else (1 + self.negative) * math.log(2)

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        """Top-k by cosine to the mean seed vector; -1 rows where no seed has a vector."""
        dev = self.device_ if self.device_ != "cuda" or torch.cuda.is_available() else "cpu"
        return recommend_from_vectors(
            self.vectors_, queries, k, chunk=self.chunk, device=dev, candidates=self.candidates_
        )


DIVERGED_FACTOR = 10.0


def _check_converging(losses: list[float], start: float, lr: float, batch: int) -> None:
    """Refuse a fit whose loss per pair blew up: finite vectors from a diverged run are noise.

    Measured on an H100 (docs/sgns.md): at lr 0.025 the full-MPD-size corpus trained with
    65,536-token batches (loss per pair 5.6, 4.8, 1.7 over 3 epochs, from 4.2) and diverged
    with 131,072 (8,012, 58,923, 17,886) while every vector stayed finite.
    """
    if not all(math.isfinite(x) and x <= DIVERGED_FACTOR * start for x in losses):  # NaN too
        per_epoch = ", ".join(f"{x:.4g}" for x in losses)
        raise UsageError(
            f"sgns: training diverged: loss per pair by epoch [{per_epoch}] against "
            f"{start:.3g} before the first step (limit {DIVERGED_FACTOR:g}x); lower lr={lr} "
            f"or the batch ({batch:,} tokens: batch_tokens, gpu_batch_scale on CUDA)"
        )


def _batch_bounds(seg: Tensor, batch: int) -> list[tuple[int, int]]:
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


def _softmax_step(model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
    """One SGD step of the full-softmax skip-gram on the batch's pairs (autograd, dense)."""
    x, y = batch_pairs(b)  # (P,), (P,)
    n = torch.tensor(float(len(x)), dtype=torch.float64, device=x.device)
    if len(x) == 0:
        return torch.zeros((), dtype=torch.float64, device=x.device), n
    model.zero_grad(set_to_none=True)
    loss = model.softmax_loss(x, y)  # () summed over pairs
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            assert p.grad is not None
            p.sub_(lr * p.grad)  # (V, d) dense: every row moves every step
    return loss.detach().double(), n


def batch_pairs(b: Batch) -> tuple[Tensor, Tensor]:
    """Explicit (input, output) rows of every positive pair of the batch: ((P,), (P,))."""
    t, seg, win = b.tokens, b.seg, b.win
    xs, ys = [], []
    for o in range(1, min(b.window, len(t) - 1) + 1):
        same = seg[o:] == seg[:-o]  # (B-o,)
        m1 = same & (win[:-o] >= o)  # input right, output left
        m2 = same & (win[o:] >= o)  # input left, output right
        xs += [t[o:][m1], t[:-o][m2]]
        ys += [t[:-o][m1], t[o:][m2]]
    if not xs:
        empty = t[:0]
        return empty, empty
    return torch.cat(xs), torch.cat(ys)
