"""`sgns`: skip-gram with negative sampling written from scratch in PyTorch (no gensim).

Top to bottom: the math (`SkipGram`: input and output embeddings, the loss, its closed-form
gradients and the SGD step; the bookkeeping, vocabulary, subsampling, windows and negatives,
batches, learning-rate decay, is in `sgns_corpus.py`), then `SGNSRecommender`: ten
hyperparameters named as in `w2v` where shared, seeding, device, the epoch loop, recommend.
Settings that are not hyperparameters are `Knobs`, fixed at measured defaults (docs/sgns.md).

A batch is a run of whole playlists (~`batch_tokens` tokens) of the subsampled corpus; token i
is the input of the pairs (i, j), j within the centre j's reduced window and the same playlist,
plus `negative` draws from unigram**`ns_exponent` weighted by i's pair count (in expectation
word2vec's K negatives per pair, at 1/(window+1) of the cost). Every row is read as it was when
the batch began and updated by one row scatter-add per table: plain SGD as in word2vec, less the
compounding of its one-pair-at-a-time updates (docs/sgns.md measures what that costs).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn
from typing_extensions import Self

from harness.errors import ParameterError, UsageError
from models.base import IntArray, Queries, Recommender, TrainSet
from models.sgns_corpus import (
    Batch,
    Corpus,
    LinearDecay,
    batch_bounds,
    build_corpus,
    draw_batch,
    rows,
)
from models.sgns_workers import Job, train_workers, worker_main
from models.vectors import normalize_rows, recommend_from_vectors

NEG_MODES = ("token", "pair")
DEVICES = ("auto", "cpu", "cuda")
DIVERGED_FACTOR = 10.0

# ---------------------------------------------------------------------------------- the math


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

    # -- the fast path: closed-form gradients

    @torch.no_grad()
    def batch_grads(
        self, b: Batch, scale: float = 1.0
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Loss and closed-form gradients of one batch (the parameters are not touched).

        Token i is the input of the pairs (i, j), j = i + o, o in ±1..W, j in the same playlist
        and |o| within j's (the centre's) reduced window, plus K negatives. Each token's rows
        are gathered once: the context slots are a sliding-window view of the batch's own
        output rows (no gather per pair), the negatives one (B, K, d) gather.

        Returns (loss, g_inp, g_out_tok, g_out_neg, n_pairs): g_inp (B, d) the gradient at
        inp[tokens]; g_out_tok (B, d) at out[tokens]; g_out_neg (B, K, d) at out[neg];
        n_pairs () the number of positive pairs. The gradients come times `scale` (the step
        passes -lr): scaling the (B, 2W+1) and (B, K) score gradients saves three row-sized
        multiplies per step.
        """
        t, seg, win, neg = b.tokens, b.seg, b.win, b.neg  # (B,), (B,), (B,), (B, K)
        n, w, k = len(t), b.window, neg.shape[1]
        d = self.inp.shape[1]
        dev = t.device
        offs = torch.arange(-w, w + 1, device=dev)  # (2W+1,) slot c is offset c - W
        j = torch.arange(n, device=dev).unsqueeze(1) + offs  # (B, 2W+1) context positions
        jc = j.clamp(0, n - 1)  # (B, 2W+1)
        seg_c, win_c = rows(seg, jc), rows(win, jc)  # (B, 2W+1) each
        valid = (offs != 0) & (j == jc) & (seg_c == seg.unsqueeze(1)) & (win_c >= offs.abs())
        pos_w = valid.to(self.inp.dtype)  # (B, 2W+1)
        n_pos = pos_w.sum(1)  # (B,) pairs of each input token

        U = rows(self.inp, t)  # (B, d)
        V = rows(self.out, t)  # (B, d)
        Vp = torch.cat([V.new_zeros(w, d), V, V.new_zeros(w, d)])  # (B+2W, d)
        Vc = Vp.unfold(0, 2 * w + 1, 1)  # (B, d, 2W+1) view: Vc[i, :, c] = V[i + c - W]
        Vn = rows(self.out, neg)  # (B, K, d)
        s_ctx = torch.bmm(U.unsqueeze(1), Vc).squeeze(1)  # (B, 2W+1)
        s_neg = (Vn * U.unsqueeze(1)).sum(-1)  # (B, K) (faster than a batched gemv on CPU)
        if k == 2 * w * self.neg_per_slot and self.neg_per_slot:  # K negatives per pair slot
            keep = torch.cat([pos_w[:, :w], pos_w[:, w + 1 :]], dim=1)  # (B, 2W)
            neg_w = keep.repeat_interleave(self.neg_per_slot, dim=1)  # (B, 2W·K)
        else:
            neg_w = n_pos.unsqueeze(1).expand(n, k)  # (B, K)
        loss = -(F.logsigmoid(s_ctx) * pos_w).sum(dtype=torch.float64)
        loss = loss - (F.logsigmoid(-s_neg) * neg_w).sum(dtype=torch.float64)
        g_ctx = (torch.sigmoid(s_ctx) - 1) * (pos_w * scale)  # (B, 2W+1) dL/ds, 0 if masked
        g_neg = torch.sigmoid(s_neg) * (neg_w * scale)  # (B, K)

        gU = torch.bmm(g_ctx.unsqueeze(1), Vc.transpose(1, 2)).squeeze(1)  # (B, d)
        gU += (g_neg.unsqueeze(-1) * Vn).sum(1)  # (B, d)
        gVp = torch.zeros_like(Vp)  # (B+2W, d) overlap-add of the context slots
        for c in range(2 * w + 1):
            if c != w:  # one fused multiply-add into rows i + c - W
                gVp[c : c + n].addcmul_(g_ctx[:, c : c + 1], U)  # (B, d)
        gVn = g_neg.unsqueeze(-1) * U.unsqueeze(1)  # (B, K, d)
        return loss, gU, gVp[w : w + n], gVn, pos_w.sum(dtype=torch.float64)

    @torch.no_grad()
    def sgd_step(self, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
        """One SGD step on a batch; returns (summed loss, number of positive pairs) as 0-d
        tensors on the device (no host sync per batch)."""
        loss, dU, dV, dVn, n_pairs = self.batch_grads(b, scale=-lr)  # the updates
        neg = b.neg.reshape(-1)  # (B·K,)
        add_rows(self.inp, b.tokens, dU)  # (B, d) rows
        add_rows(self.out, b.tokens, dV)  # (B, d) rows
        add_rows(self.out, neg, dVn.reshape(len(neg), -1))  # (B·K, d) rows
        return loss, n_pairs


def add_rows(table: Tensor, idx: Tensor, src: Tensor, alpha: float = 1.0) -> None:
    """table[idx[i]] += alpha * src[i], in order of i (repeated rows accumulate).

    On the CPU scatter_add_ over the row index broadcast to (B, d): index_add_ took 1.4-2.3x as
    long there (bench/row_ops.py); the same sums up to float rounding. On CUDA index_add_, as
    measured there."""
    if table.device.type == "cpu":
        table.scatter_add_(0, idx.unsqueeze(1).expand_as(src), src if alpha == 1 else src * alpha)
    else:
        table.index_add_(0, idx, src, alpha=alpha)


def _check_converging(losses: list[float], start: float, alpha: float, batch: int) -> None:
    """Refuse a fit whose loss per pair blew up: finite vectors from a diverged run are noise.

    Measured on an H100 (docs/sgns.md): at alpha 0.025 the full-MPD-size corpus trained with
    65,536-token batches (loss per pair 5.6, 4.8, 1.7 over 3 epochs, from 4.2) and diverged
    with 131,072 (8,012, 58,923, 17,886) while every vector stayed finite.
    """
    if not all(math.isfinite(x) and x <= DIVERGED_FACTOR * start for x in losses):  # NaN too
        per_epoch = ", ".join(f"{x:.4g}" for x in losses)
        raise UsageError(
            f"sgns: training diverged: loss per pair by epoch [{per_epoch}] against "
            f"{start:.3g} before the first step (limit {DIVERGED_FACTOR:g}x); lower alpha={alpha}"
            f" or the batch ({batch:,} tokens): Knobs alpha, batch_tokens, gpu_batch_scale, set"
            " in Python with SGNSRecommender(...).with_knobs(...), not on the command line"
            " (docs/sgns.md)"
        )


# ---------------------------------------------------------------------------- the recommender


@dataclass(frozen=True)
class Knobs:
    """Training settings that are not hyperparameters: fixed at measured defaults for users,
    changed by bench/ and tests with `SGNSRecommender.with_knobs` (docs/sgns.md measures them).

    ns_exponent : as in `w2v`, at its tuned default (negative-sampling exponent, any real).
    alpha, min_alpha : as in `w2v`: the learning rate, decayed linearly from alpha to min_alpha.
    batch_tokens : tokens per batch (whole playlists), × gpu_batch_scale on CUDA (65,536: a
        full-MPD-size corpus trained on an H100; 131,072 diverged); ≤ a quarter of the vocabulary.
    batch_lr_scale : the step is lr × batch_lr_scale (1.0 matched gensim on the synthetic split).
    neg_mode : "token" (K negatives per input token, weighted by its pair count) or "pair"
        (K per pair, word2vec's exact scheme; about 4x the work at window 5).
    chunk : queries per scoring block in `recommend`.
    """

    ns_exponent: float = -0.5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    batch_tokens: int = 1024
    gpu_batch_scale: int = 64
    batch_lr_scale: float = 1.0
    neg_mode: str = "token"
    chunk: int = 256


class SGNSRecommender(Recommender):
    """Skip-gram with negative sampling in PyTorch; same hyperparameter names as `w2v`.

    Parameters
    ----------
    dim, window, negative, sample, epochs, min_count, candidate_min_count, seed :
        as in `w2v` (window 0 = the whole playlist, no shrinking).
    device : "auto" (CUDA when available, else CPU), "cpu" or "cuda".
    threads : CPU worker processes, like `w2v`'s workers (0: all cores). 1, the default, is
        byte-identical for a seed; more train Hogwild-style, each process on its share of the
        batches (models/sgns_workers.py): faster (bench/results.md), not repeatable.

    Everything else is a `Knobs` field (`knobs`), left out of `get_params`, run keys and
    `clone`: bench/ sets them with `with_knobs`.
    """

    cold_start = "title"
    deterministic = True
    determinism_note = (
        "byte-identical on CPU for a seed with threads=1; more threads are Hogwild processes "
        "whose updates race, and CUDA index_add_ uses atomics: neither is bit-repeatable"
    )
    knobs: Knobs = Knobs()

    def __init__(
        self,
        dim: int = 64,
        window: int = 10,
        negative: int = 5,
        sample: float = 1e-3,
        epochs: int = 20,
        min_count: int = 50,
        candidate_min_count: int = 0,
        seed: int = 0,
        device: str = "auto",
        threads: int = 1,
    ) -> None:
        self.dim = dim
        self.window = window
        self.negative = negative
        self.sample = sample
        self.epochs = epochs
        self.min_count = min_count
        self.candidate_min_count = candidate_min_count
        self.seed = seed
        self.device = device
        self.threads = threads

    def with_knobs(self, **changes: Any) -> Self:
        """Bench and tests only: change some `Knobs` fields of this model; returns self."""
        self.knobs = replace(self.knobs, **changes)
        return self

    def check_params(self) -> None:
        checks = {
            "dim": self.dim >= 1,
            "window": self.window >= 0,
            "negative": self.negative >= 1,
            "sample": self.sample >= 0,
            "epochs": self.epochs >= 1,
            "min_count": self.min_count >= 1,
            "candidate_min_count": self.candidate_min_count >= 0,
            "device": self.device in DEVICES,
            "threads": self.threads >= 0,
        }
        bad = [f"{n}={getattr(self, n)!r}" for n, ok in checks.items() if not ok]
        k = self.knobs
        knobs = {
            "ns_exponent": bool(np.isfinite(k.ns_exponent)),
            "alpha": k.alpha > 0,
            "min_alpha": 0 <= k.min_alpha <= k.alpha,
            "batch_tokens": k.batch_tokens >= 2,
            "gpu_batch_scale": k.gpu_batch_scale >= 1,
            "batch_lr_scale": k.batch_lr_scale > 0,
            "neg_mode": k.neg_mode in NEG_MODES,
            "chunk": k.chunk >= 1,
        }
        bad += [f"knobs.{n}={getattr(k, n)!r}" for n, ok in knobs.items() if not ok]
        if bad:
            raise ParameterError(f"sgns: invalid hyperparameter(s) {', '.join(bad)}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("sgns: device='cuda' but torch.cuda.is_available() is False")

    def _fit(self, train: TrainSet) -> Self:
        """Train on the training playlists; keep unit input vectors in `vectors_`."""
        auto = "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(auto if self.device == "auto" else self.device)
        threads_before = torch.get_num_threads()
        if dev.type == "cpu":  # more than one thread: worker processes of one thread each
            torch.set_num_threads(1)
        try:
            inp, vocab, counts, info = self._train(train, dev)
        finally:
            torch.set_num_threads(threads_before)
        # the model and the corpus on the device are freed by now, before these copies
        vectors = np.zeros((train.n_tracks, self.dim), dtype=np.float32)  # (n_tracks, d)
        vectors[vocab] = normalize_rows(inp)
        del inp
        if not np.isfinite(vectors).all():
            raise UsageError(
                f"sgns: training diverged (non-finite vectors); lower alpha={self.knobs.alpha}"
            )
        self.vectors_ = vectors
        self.candidates_ = counts >= self.candidate_min_count  # (n_tracks,)
        self.device_ = str(dev)
        # CUDA index_add_ uses atomics; Hogwild workers race
        self.deterministic_ = dev.type == "cpu" and info["threads"] == 1
        self.fit_info_: dict[str, Any] = info
        return self

    def _train(
        self, train: TrainSet, dev: torch.device
    ) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.int64], dict[str, Any]]:
        """Seed, build the corpus and the model, run the epochs; returns (input embeddings
        (V, d), vocab (V,), counts (n_tracks,), fit_info)."""
        t_start = time.perf_counter()
        k = self.knobs
        c = build_corpus(train, self.min_count, self.sample, k.ns_exponent, dev)
        gen = torch.Generator(device=dev).manual_seed(int(self.seed))  # sampling, on the device
        init_gen = torch.Generator().manual_seed(int(self.seed))  # initialisation, on the CPU
        model = SkipGram(len(c.vocab), self.dim, init_gen).to(dev)
        model.neg_per_slot = self.negative if k.neg_mode == "pair" else 0
        window = c.max_len if self.window == 0 else int(self.window)
        # a batch much longer than the vocabulary repeats every row many times, and the summed
        # gradients overshoot (diverge on tens of tracks): cap it at a quarter of the vocabulary
        batch = k.batch_tokens * (k.gpu_batch_scale if dev.type == "cuda" else 1)
        batch = max(1, min(batch, len(c.vocab) // 4))
        decay = LinearDecay(k.alpha, k.min_alpha, total=max(c.n_raw * self.epochs, 1))
        epoch_s: list[float] = []
        losses: list[float] = []
        n_trained = 0
        workers = (self.threads or os.cpu_count() or 1) if dev.type == "cpu" else 1  # 0: all
        t_train = time.perf_counter()
        if workers > 1:
            if type(self) is not SGNSRecommender:  # the other workers run this class's step
                raise UsageError(
                    f"sgns: threads={self.threads} trains SGNSRecommender only, not a subclass"
                )
            job = Job(self, model, c, decay, window, batch)
            losses, n_trained, epoch_s = train_workers(job, workers)
        for e in range(self.epochs if workers == 1 else 0):
            t0 = time.perf_counter()
            loss, pairs, n_kept = self._epoch(model, c, gen, decay, window, batch)
            losses.append(float(loss.item()) / max(float(pairs.item()), 1.0))  # syncs
            n_trained += n_kept
            epoch_s.append(time.perf_counter() - t0)
            self._progress(e + 1, self.epochs, "epoch")
        if dev.type == "cuda":
            torch.cuda.synchronize()
        train_s = time.perf_counter() - t_train
        _check_converging(losses, self._start_loss(len(c.vocab)), k.alpha, batch)
        info = {
            "device": str(dev),
            "threads": workers if dev.type == "cpu" else None,
            "vocab_size": len(c.vocab),
            "raw_words_per_epoch": c.n_raw,
            "trained_words": n_trained,
            "batch_tokens": batch,
            "prepare_s": round(t_train - t_start, 3),
            "train_s": round(train_s, 3),
            "words_per_s": round(c.n_raw * self.epochs / train_s, 1) if train_s > 0 else None,
            "epoch_s": [round(x, 3) for x in epoch_s],
            "loss_per_pair": [round(x, 5) for x in losses],
            "final_loss": round(losses[-1], 5) if losses else None,
            "knobs": asdict(k),
        }
        return model.inp.detach().cpu().numpy(), c.vocab, c.counts, info

    def _epoch(
        self,
        model: SkipGram,
        c: Corpus,
        gen: torch.Generator,
        decay: LinearDecay,
        window: int,
        batch: int,
        claims: Callable[[int], Iterable[int]] | None = None,
        sub_gen: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor, int]:
        """One pass over the subsampled corpus: every batch, or those that `claims(n_batches)`
        yields (a worker's share); the lr of batch i is the same either way. Subsampling draws
        from `sub_gen` (default `gen`). Returns (summed loss, positive pairs, tokens trained)."""
        dev = c.tokens.device
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        pair_sum = torch.zeros((), dtype=torch.float64, device=dev)
        n_neg = self.negative * (2 * window if self.knobs.neg_mode == "pair" else 1)
        whole = self.window == 0
        u_gen = gen if sub_gen is None else sub_gen
        u = torch.rand(len(c.tokens), generator=u_gen, device=dev)  # (N',) subsampling draws
        kept = u < c.keep_p[c.tokens]  # (N',)
        tokens, seg = c.tokens[kept], c.seg[kept]  # (M,), (M,)
        bounds = batch_bounds(seg, batch)
        # raw progress: the share of the epoch's raw tokens each batch stands for
        raw = [int(round(c.n_raw * (hi - lo) / max(len(tokens), 1))) for lo, hi in bounds]
        done = np.concatenate([[0], np.cumsum(raw, dtype=np.int64)]) + decay.done  # (n+1,)
        n_kept = 0
        for i in range(len(bounds)) if claims is None else claims(len(bounds)):
            lo, hi = bounds[i]
            decay.done = int(done[i])
            b = draw_batch(tokens[lo:hi], seg[lo:hi], window, whole, n_neg, c, gen)
            loss, pairs = self._step(model, b, decay.lr())
            loss_sum += loss
            pair_sum += pairs
            n_kept += hi - lo
        decay.done = int(done[-1])
        return loss_sum, pair_sum, n_kept

    def _step(self, model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
        """One update on a batch: (summed loss, positive pairs). bench/sgns_knobs.py overrides
        this (and `_start_loss`) for its experiments."""
        return model.sgd_step(b, lr * self.knobs.batch_lr_scale)

    def _start_loss(self, n_rows: int) -> float:
        """Loss per positive pair before any step (output rows zero, so every score is 0):
        ln 2 for the pair and K·ln 2 for its negatives."""
        return (1 + self.negative) * math.log(2)

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        """Top-k by cosine to the mean seed vector; -1 rows where no seed has a vector."""
        dev = self.device_ if self.device_ != "cuda" or torch.cuda.is_available() else "cpu"
        v, chunk, cand = self.vectors_, self.knobs.chunk, self.candidates_
        return recommend_from_vectors(v, queries, k, chunk=chunk, device=dev, candidates=cand)


if __name__ == "__main__":  # a worker process of `threads` > 1 (models/sgns_workers.py)
    worker_main(sys.argv[1:], SGNSRecommender, SkipGram)
