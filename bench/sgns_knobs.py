"""The `sgns` knobs for benchmarks and experiments: settings that are not hyperparameters.

`models/sgns.py` exposes ten hyperparameters (named as in `w2v`); its other training settings
are `Knobs` fields fixed at measured defaults (ns_exponent, alpha, min_alpha, batch_tokens,
gpu_batch_scale, batch_lr_scale, neg_mode, chunk), which bench code changes per model:

    SGNSRecommender(epochs=3).with_knobs(batch_tokens=65536)

Two experiments the model no longer carries live here, in `SGNSLab` (a subclass with two more
knobs), because docs/sgns.md shows why neither is a setting anyone should use:
- `loss="softmax"`: the seed's naive design (full softmax over the catalogue, autograd, dense
  gradients), kept to show why negative sampling is needed; it refuses more than
  `SOFTMAX_MAX_TRACKS` tracks.
- `row_power`: divide each row's summed gradient by (its occurrences in the batch)**row_power
  (0: plain sum, as sequential SGD adds them; 1: the mean). Measured harmful: a row
  legitimately occurs ~2·window times per token, and scaled rows learn too slowly.

`build_sgns(**settings)` takes one flat dict of hyperparameters and knobs (what the bench
scripts pass around as JSON) and returns the model with them set.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from typing_extensions import Self

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.errors import ParameterError, UsageError  # noqa: E402
from models.base import TrainSet  # noqa: E402
from models.sgns import Batch, Knobs, SGNSRecommender, SkipGram  # noqa: E402

SOFTMAX_MAX_TRACKS = 50_000
LOSSES = ("neg", "softmax")


@dataclass(frozen=True)
class LabKnobs(Knobs):
    """`Knobs` plus the two experiments: loss "neg" | "softmax", row_power in [0, 1]."""

    loss: str = "neg"
    row_power: float = 0.0


class SGNSLab(SGNSRecommender):
    """`sgns` with the softmax demo and row_power; at their defaults it trains exactly as the
    model does (same code path, same vectors)."""

    knobs: Knobs = LabKnobs()

    def check_params(self) -> None:
        super().check_params()
        k = self.lab_knobs()
        bad = [f"knobs.loss={k.loss!r}"] if k.loss not in LOSSES else []
        bad += [f"knobs.row_power={k.row_power!r}"] if not 0 <= k.row_power <= 1 else []
        if bad:
            raise ParameterError(f"sgns: invalid hyperparameter(s) {', '.join(bad)}")

    def lab_knobs(self) -> LabKnobs:
        assert isinstance(self.knobs, LabKnobs), "SGNSLab's knobs are LabKnobs"
        return self.knobs

    def _fit(self, train: TrainSet) -> Self:
        counts = np.bincount(train.track_ids, minlength=train.n_tracks)  # (n_tracks,)
        n_rows = int((counts >= self.min_count).sum())
        if self.lab_knobs().loss == "softmax" and n_rows > SOFTMAX_MAX_TRACKS:
            raise UsageError(
                f"sgns: loss='softmax' computes a dense score over every track for every pair; "
                f"{n_rows:,} tracks exceed the limit SOFTMAX_MAX_TRACKS={SOFTMAX_MAX_TRACKS:,} "
                f"(use loss='neg', or raise min_count)"
            )
        return super()._fit(train)

    def _step(self, model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
        k = self.lab_knobs()
        if k.loss == "softmax":
            return softmax_step(model, b, lr)
        if k.row_power:
            scratch = torch.zeros(model.inp.shape[0], device=b.tokens.device)  # (V,)
            return row_power_step(model, b, lr * k.batch_lr_scale, k.row_power, scratch)
        return super()._step(model, b, lr)

    def _start_loss(self, n_rows: int) -> float:
        """ln V for the full softmax (every score 0 before the first step)."""
        if self.lab_knobs().loss == "softmax":
            return math.log(n_rows)
        return super()._start_loss(n_rows)


def build_sgns(**settings: Any) -> SGNSRecommender:
    """An sgns model from one flat dict of hyperparameters and knobs; `SGNSLab` when it names
    loss or row_power."""
    lab = {f.name for f in fields(LabKnobs)}
    knobs = {k: v for k, v in settings.items() if k in lab}
    params = {k: v for k, v in settings.items() if k not in lab}
    cls = SGNSLab if {"loss", "row_power"} & set(knobs) else SGNSRecommender
    return cls(**params).with_knobs(**knobs)


# ------------------------------------------------------------------- the softmax demo's math


def softmax_loss(model: SkipGram, x: Tensor, y: Tensor) -> Tensor:
    """Full-softmax cross-entropy of predicting y from x, summed: the seed's design."""
    logits = model.inp[x] @ model.out.T  # (P, V)
    return torch.nn.functional.cross_entropy(logits, y, reduction="sum")


def softmax_step(model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
    """One SGD step of the full-softmax skip-gram on the batch's pairs (autograd, dense)."""
    x, y = batch_pairs(b)  # (P,), (P,)
    n = torch.tensor(float(len(x)), dtype=torch.float64, device=x.device)
    if len(x) == 0:
        return torch.zeros((), dtype=torch.float64, device=x.device), n
    model.zero_grad(set_to_none=True)
    loss = softmax_loss(model, x, y)  # () summed over pairs
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


# ------------------------------------------------------------------------ row_power's step


@torch.no_grad()
def row_power_step(
    model: SkipGram, b: Batch, lr: float, power: float, scratch: Tensor
) -> tuple[Tensor, Tensor]:
    """`SkipGram.sgd_step` with each row's summed gradient divided by its count**power.

    scratch: (V,) float zeros, used to count row occurrences in the batch (left zeroed).
    """
    loss, gU, gV, gVn, n_pairs = model.batch_grads(b)
    neg = b.neg.reshape(-1)  # (B·K,)
    gVn = gVn.reshape(len(neg), -1)  # (B·K, d)
    gU = gU * occurrence_scale(b.tokens, scratch, power).unsqueeze(1)  # (B, d)
    rows = torch.cat([b.tokens, neg])  # (B + B·K,)
    scale = occurrence_scale(rows, scratch, power).unsqueeze(1)  # (B + B·K, 1)
    gV, gVn = gV * scale[: len(gV)], gVn * scale[len(gV) :]
    model.inp.index_add_(0, b.tokens, gU, alpha=-lr)
    model.out.index_add_(0, b.tokens, gV, alpha=-lr)
    model.out.index_add_(0, neg, gVn, alpha=-lr)
    return loss, n_pairs


def occurrence_scale(rows: Tensor, scratch: Tensor, power: float) -> Tensor:
    """c**-power per entry, c = how often that entry's row occurs in `rows`: (R,) -> (R,)."""
    scratch.index_add_(0, rows, torch.ones(len(rows), dtype=scratch.dtype, device=rows.device))
    c = scratch[rows]  # (R,)
    scratch[rows] = 0
    return c.pow(-power)
