"""Tests for models/sgns.py: the closed-form gradients against autograd, training behaviour,
determinism, hyperparameters and knobs, the softmax demo's size limit (bench/sgns_knobs.py), and
CUDA checks that skip without a GPU."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from torch import Tensor

from harness.errors import ParameterError, UsageError
from models import get_model
from models.base import Queries, TrainSet
from models.sgns import (
    Batch,
    Knobs,
    SGNSRecommender,
    SkipGram,
    _check_converging,
)
from models.sgns_corpus import (
    alias_table,
    build_corpus,
    draw_batch,
    keep_probability,
    negative_distribution,
)
from models.w2v import W2VRecommender

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from sgns_knobs import SOFTMAX_MAX_TRACKS, SGNSLab, batch_pairs, build_sgns  # noqa: E402

sys.path.pop(0)

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# -- reference losses (autograd): the closed-form gradients are checked against these


def pair_loss(model: SkipGram, x: Tensor, y: Tensor) -> Tensor:
    """Σ_pairs -log σ(inp[x]·out[y]); x, y: (P,) input and output rows."""
    pos = (model.inp[x] * model.out[y]).sum(-1)  # (P,)
    return -F.logsigmoid(pos).sum()


def negative_loss(model: SkipGram, tokens: Tensor, neg: Tensor, weight: Tensor) -> Tensor:
    """Σ_i w_i Σ_k -log σ(-inp[t_i]·out[neg_ik]); tokens: (N,), neg: (N, K), weight: (N,)."""
    u = model.inp[tokens]  # (N, d)
    s = torch.bmm(model.out[neg], u.unsqueeze(-1)).squeeze(-1)  # (N, K)
    return -(F.logsigmoid(-s).sum(-1) * weight).sum()


def make_train(playlists: list[list[int]], n_tracks: int) -> TrainSet:
    lens = [len(p) for p in playlists]
    offsets = np.zeros(len(playlists) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return TrainSet(
        offsets=offsets,
        track_ids=np.concatenate(playlists).astype(np.int32),
        titles=np.array([""] * len(playlists), dtype=object),
        n_tracks=n_tracks,
        track_artist=np.zeros(n_tracks, dtype=np.int32),
        track_album=np.zeros(n_tracks, dtype=np.int32),
    )


def two_clusters(
    n_playlists: int = 200, per: int = 10, length: int = 12, seed: int = 0
) -> TrainSet:
    """Playlists drawn from tracks 0..per-1 or per..2per-1, never both."""
    rng = np.random.default_rng(seed)
    pls = [(rng.integers(0, per, length) + per * (i % 2)).tolist() for i in range(n_playlists)]
    return make_train(pls, 2 * per)


def tiny_batch(gen: torch.Generator, k: int = 3) -> tuple[SkipGram, Batch]:
    model = SkipGram(7, 4, gen)
    with torch.no_grad():
        model.out.normal_(0, 0.5, generator=gen)  # non-zero so that every term has a gradient
        model.inp.normal_(0, 0.5, generator=gen)
    tokens = torch.tensor([0, 1, 2, 1, 3, 4, 5, 6, 0, 2])  # (B,)
    seg = torch.tensor([0, 0, 0, 0, 1, 1, 2, 3, 3, 3])  # (B,) playlists 4, 2, 1, 3 long
    win = torch.tensor([1, 2, 3, 1, 2, 1, 3, 2, 1, 3])  # (B,)
    neg = torch.randint(0, 7, (10, k), generator=gen)  # (B, K)
    return model, Batch(tokens, seg, win, neg, window=3)


def brute_pairs(b: Batch) -> list[tuple[int, int]]:
    """(input position, output position) by the definition: same playlist, |i-j| <= win[j]."""
    n = len(b.tokens)
    return [
        (i, j)
        for i in range(n)
        for j in range(n)
        if i != j and b.seg[i] == b.seg[j] and abs(i - j) <= min(int(b.win[j]), b.window)
    ]


def test_closed_form_gradients_match_autograd() -> None:
    gen = torch.Generator().manual_seed(0)
    model, b = tiny_batch(gen)
    pairs = brute_pairs(b)
    x = torch.tensor([int(b.tokens[i]) for i, _ in pairs])
    y = torch.tensor([int(b.tokens[j]) for _, j in pairs])
    n_pos = torch.tensor([sum(1 for i, _ in pairs if i == p) for p in range(len(b.tokens))])
    ref = pair_loss(model, x, y) + negative_loss(model, b.tokens, b.neg, n_pos.float())
    ref.backward()
    loss, g_inp, g_tok, g_neg, _ = model.batch_grads(b)
    dense_inp = torch.zeros_like(model.inp).index_add_(0, b.tokens, g_inp)
    dense_out = torch.zeros_like(model.out).index_add_(0, b.tokens, g_tok)
    dense_out.index_add_(0, b.neg.reshape(-1), g_neg.reshape(-1, 4))
    assert model.inp.grad is not None and model.out.grad is not None
    torch.testing.assert_close(float(loss), float(ref.detach()), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dense_inp, model.inp.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dense_out, model.out.grad, rtol=1e-5, atol=1e-6)


def test_pair_mode_gradients_match_autograd() -> None:
    """neg_mode="pair": K negatives for each (token, offset slot), word2vec's scheme."""
    gen = torch.Generator().manual_seed(5)
    model, b0 = tiny_batch(gen, k=2 * 3 * 2)  # W=3 window, K=2 per slot
    model.neg_per_slot = 2
    b = Batch(b0.tokens, b0.seg, b0.win, b0.neg, window=3)
    pairs = brute_pairs(b)
    x = torch.tensor([int(b.tokens[i]) for i, _ in pairs])
    y = torch.tensor([int(b.tokens[j]) for _, j in pairs])
    slots = [j - i + 3 if j < i else j - i + 2 for i, j in pairs]  # offsets -3..-1, 1..3 -> 0..5
    negs = torch.stack(
        [b.neg[i, 2 * s : 2 * s + 2] for (i, _), s in zip(pairs, slots, strict=True)]
    )
    ref = pair_loss(model, x, y) + negative_loss(model, x, negs, torch.ones(len(pairs)))
    ref.backward()
    loss, g_inp, g_tok, g_neg, _ = model.batch_grads(b)
    dense_inp = torch.zeros_like(model.inp).index_add_(0, b.tokens, g_inp)
    dense_out = torch.zeros_like(model.out).index_add_(0, b.tokens, g_tok)
    dense_out.index_add_(0, b.neg.reshape(-1), g_neg.reshape(-1, 4))
    assert model.inp.grad is not None and model.out.grad is not None
    torch.testing.assert_close(float(loss), float(ref.detach()), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dense_inp, model.inp.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dense_out, model.out.grad, rtol=1e-5, atol=1e-6)


def test_batch_pairs_match_the_definition() -> None:
    _, b = tiny_batch(torch.Generator().manual_seed(1))
    x, y = batch_pairs(b)
    got = sorted(zip(x.tolist(), y.tolist(), strict=True))
    want = sorted((int(b.tokens[i]), int(b.tokens[j])) for i, j in brute_pairs(b))
    assert got == want


def test_sgd_step_applies_minus_lr_times_gradient() -> None:
    gen = torch.Generator().manual_seed(2)
    model, b = tiny_batch(gen)
    before_inp, before_out = model.inp.detach().clone(), model.out.detach().clone()
    _, g_inp, g_tok, g_neg, _ = model.batch_grads(b)
    model.sgd_step(b, lr=0.1)
    want_inp = before_inp.index_add(0, b.tokens, g_inp, alpha=-0.1)
    want_out = before_out.index_add(0, b.tokens, g_tok, alpha=-0.1)
    want_out.index_add_(0, b.neg.reshape(-1), g_neg.reshape(-1, 4), alpha=-0.1)
    assert not torch.equal(model.inp.detach(), before_inp)
    assert not torch.equal(model.out.detach(), before_out)
    torch.testing.assert_close(model.inp.detach(), want_inp)
    torch.testing.assert_close(model.out.detach(), want_out)


def test_loss_falls_and_two_clusters_separate() -> None:
    train = two_clusters()
    # 20 tracks: with big batches every row would get ~100 summed gradients per step; small
    # batches (2 playlists) keep the steps sequential-like (see docs/sgns.md)
    m = SGNSRecommender(dim=16, window=3, epochs=5, seed=0, threads=1, sample=0, min_count=1)
    m.with_knobs(batch_tokens=24).fit(train)
    losses = m.fit_info_["loss_per_pair"]
    assert losses[-1] < losses[0]
    v = m.vectors_  # (20, 16) unit rows
    sims = v @ v.T  # (20, 20)
    same = np.zeros_like(sims, dtype=bool)
    same[:10, :10] = same[10:, 10:] = True
    np.fill_diagonal(same, False)
    diff = ~same
    np.fill_diagonal(diff, False)
    assert sims[same].mean() > sims[diff].mean() + 0.5
    # every track's nearest neighbour is in its own cluster
    np.fill_diagonal(sims, -np.inf)
    assert ((sims.argmax(1) < 10) == (np.arange(20) < 10)).all()


def test_deterministic_on_cpu_for_a_seed() -> None:
    train = two_clusters(n_playlists=60)
    kw: dict[str, Any] = {
        "dim": 8,
        "window": 2,
        "epochs": 2,
        "threads": 1,
        "device": "cpu",
        "min_count": 1,
    }
    a = SGNSRecommender(seed=3, **kw).fit(train).vectors_
    b = SGNSRecommender(seed=3, **kw).fit(train).vectors_
    c = SGNSRecommender(seed=4, **kw).fit(train).vectors_
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_min_count_rows_are_zero_and_recommend_skips_them() -> None:
    train = make_train([[0, 1, 2, 3], [0, 1, 2, 4], [0, 1, 3, 2]], n_tracks=6)
    m = SGNSRecommender(dim=4, window=2, epochs=2, min_count=2, threads=1).fit(train)
    assert not m.vectors_[4].any() and not m.vectors_[5].any()
    np.testing.assert_allclose(np.linalg.norm(m.vectors_[:4], axis=1), 1.0, rtol=1e-5)
    q = Queries(
        pids=np.array([7]),
        seed_offsets=np.array([0, 1]),
        seed_ids=np.array([0], dtype=np.int32),
        seed_pos=np.array([0], dtype=np.int32),
        titles=np.array([None], dtype=object),
        categories=np.array([2], dtype=np.int8),
    )
    recs = m.recommend(q, k=5)
    assert recs.shape == (1, 5)
    assert sorted(recs[0, :3].tolist()) == [1, 2, 3] and (recs[0, 3:] == -1).all()


def test_whole_playlist_window_trains() -> None:
    m = SGNSRecommender(dim=8, window=0, epochs=2, threads=1, sample=0, min_count=1).fit(
        two_clusters(40)
    )
    assert m.fit_info_["final_loss"] is not None and np.isfinite(m.vectors_).all()


def test_softmax_trains_small_and_refuses_large() -> None:
    m = SGNSLab(dim=8, window=2, epochs=3, threads=1, sample=0, min_count=1)
    m.with_knobs(loss="softmax").fit(two_clusters(60))
    assert m.fit_info_["loss_per_pair"][-1] < m.fit_info_["loss_per_pair"][0]
    n = SOFTMAX_MAX_TRACKS + 1
    big = make_train([list(range(n))], n_tracks=n)
    with pytest.raises(UsageError, match="SOFTMAX_MAX_TRACKS"):
        SGNSLab(min_count=1).with_knobs(loss="softmax").fit(big)


def test_subsampling_and_negative_distribution() -> None:
    counts = np.array([0, 1, 10, 1000])
    p = keep_probability(counts, 1e-3)
    assert p[1] == 1.0 and p[3] < p[2] <= 1.0
    assert (keep_probability(counts, 0) == 1).all()
    for alpha in (0.75, 0.0, -0.5):
        w = negative_distribution(counts, alpha)
        assert w[0] == 0.0 and w.sum() == pytest.approx(1.0)
        want = np.array([1.0, 10.0, 1000.0]) ** alpha
        np.testing.assert_allclose(w[1:], want / want.sum())


@pytest.mark.parametrize("alpha", [0.75, -0.5])
def test_alias_table_holds_the_distribution_exactly(alpha: float) -> None:
    counts = np.random.default_rng(0).zipf(1.3, size=5000)
    counts[::97] = 0  # rows never drawn
    p = negative_distribution(counts, alpha)
    prob, alias = alias_table(p)
    n = len(p)
    # mass of row i: its own column's kept share plus what other columns hand over to it
    implied = prob + np.bincount(alias, weights=1.0 - prob, minlength=n)
    implied -= np.where(alias == np.arange(n), 1.0 - prob, 0.0)
    np.testing.assert_allclose(implied / n, p, rtol=1e-9, atol=1e-15)
    assert (implied[counts == 0] < 1e-9).all()


def test_negatives_are_drawn_from_the_distribution() -> None:
    counts = np.array([1, 5, 50, 500])
    train = make_train([np.repeat(np.arange(4), counts).tolist()], 4)
    c = build_corpus(train, 1, 0.0, 0.75, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    t = torch.zeros(100_000, dtype=torch.int64)
    neg = draw_batch(t, t, 1, False, 2, c, gen).neg.reshape(-1).numpy()  # (200_000,)
    freq = np.bincount(neg, minlength=4) / len(neg)
    np.testing.assert_allclose(freq, negative_distribution(counts, 0.75), atol=0.004)


def test_a_diverged_fit_is_refused_though_its_vectors_are_finite() -> None:
    """lr 0.3 on 50+50 tracks: loss per pair ~1e20+ while every vector stays finite; the fit
    must say so rather than hand back noise (CUDA with 131k-token batches did the same)."""
    train = two_clusters(n_playlists=400, per=50)
    kw: dict[str, Any] = {"dim": 16, "window": 3, "epochs": 3, "sample": 0, "min_count": 1}
    SGNSRecommender(**kw).with_knobs(alpha=0.2).fit(train)  # still converges
    with pytest.raises(UsageError, match=r"diverged: loss per pair by epoch \[\d\.\d+e\+\d+") as e:
        SGNSRecommender(**kw).with_knobs(alpha=0.3).fit(train)
    assert "with_knobs(...), not on the command line" in str(e.value)  # says how to set them


def test_divergence_limit_on_the_measured_h100_runs() -> None:
    start = 6 * math.log(2)  # K = 5: ln 2 for the pair, 5 ln 2 for its negatives
    _check_converging([5.63676, 4.78144, 1.7399], start, 0.025, 65536)  # 65k batch: trained
    for bad in ([8012.34, 58922.8, 17885.9], [3.0, float("nan")], [42.0]):  # 131k batch: not
        with pytest.raises(UsageError, match="lower alpha=0.025 or the batch"):
            _check_converging(bad, start, 0.025, 131072)


def test_registered_and_bad_parameters_refused() -> None:
    assert isinstance(get_model("sgns", dim=8), SGNSRecommender)
    with pytest.raises(UsageError, match="negative"):
        SGNSRecommender(negative=0).fit(two_clusters(4))


def test_ten_hyperparameters_named_and_defaulted_as_in_w2v() -> None:
    params = SGNSRecommender().get_params()
    w2v = W2VRecommender().get_params()
    assert len(params) <= 10
    assert set(params) - set(w2v) == {"device", "threads"}
    assert {n: params[n] for n in set(params) & set(w2v)} == {
        n: w2v[n] for n in set(params) & set(w2v)
    }
    knobs = Knobs()  # w2v's hyperparameters that are sgns knobs keep w2v's names and defaults
    assert (knobs.ns_exponent, knobs.min_alpha) == (w2v["ns_exponent"], w2v["min_alpha"])
    # but the learning rate: w2v's 0.1 diverges in sgns (docs/sgns.md), which keeps 0.025
    assert knobs.alpha == 0.025 < w2v["alpha"]


def test_knobs_are_checked_but_are_not_hyperparameters() -> None:
    m = SGNSRecommender(dim=8).with_knobs(batch_tokens=64)
    assert m.knobs.batch_tokens == 64 and SGNSRecommender.knobs == Knobs()
    assert "batch_tokens" not in m.get_params() and clone(m).knobs == Knobs()
    with pytest.raises(ParameterError, match=r"knobs\.batch_tokens=1\b"):
        SGNSRecommender().with_knobs(batch_tokens=1).check_params()
    with pytest.raises(ParameterError, match=r"knobs\.min_alpha=0\.5"):
        SGNSRecommender().with_knobs(alpha=0.1, min_alpha=0.5).check_params()
    with pytest.raises(TypeError, match="lr"):
        SGNSRecommender().with_knobs(lr=0.1)
    with pytest.raises(UsageError, match="no parameter batch_tokens"):
        get_model("sgns", batch_tokens=64)


def test_the_bench_lab_at_its_defaults_trains_as_the_model() -> None:
    """bench/sgns_knobs.py's subclass changes nothing until one of its own knobs is set."""
    train = two_clusters(n_playlists=60)
    kw: dict[str, Any] = {"dim": 8, "window": 2, "epochs": 2, "threads": 1, "min_count": 1}
    want = SGNSRecommender(**kw, device="cpu").fit(train).vectors_
    assert np.array_equal(SGNSLab(**kw, device="cpu").fit(train).vectors_, want)
    row_power = SGNSLab(**kw, device="cpu").with_knobs(row_power=0.5).fit(train).vectors_
    assert not np.array_equal(row_power, want)
    assert type(build_sgns(**kw, alpha=0.05)) is SGNSRecommender
    lab = build_sgns(**kw, alpha=0.05, row_power=0.5)
    assert type(lab) is SGNSLab and lab.knobs.alpha == 0.05 and lab.get_params()["dim"] == 8
    with pytest.raises(ParameterError, match="knobs.loss='hinge'"):
        lab.with_knobs(loss="hinge").check_params()


@pytest.mark.cuda
@cuda
def test_cuda_gradients_match_cpu() -> None:
    gen = torch.Generator().manual_seed(0)
    model, b = tiny_batch(gen)
    cpu = model.batch_grads(b)
    gpu_b = Batch(b.tokens.cuda(), b.seg.cuda(), b.win.cuda(), b.neg.cuda(), window=b.window)
    gpu = model.cuda().batch_grads(gpu_b)
    for c, g in zip(cpu, gpu, strict=True):
        torch.testing.assert_close(g.cpu(), c, rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@cuda
def test_cuda_two_clusters_separate() -> None:
    m = SGNSRecommender(dim=16, window=3, epochs=5, device="cuda", sample=0, min_count=1)
    m.with_knobs(batch_tokens=24).fit(two_clusters())
    v = m.vectors_
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    assert ((sims.argmax(1) < 10) == (np.arange(20) < 10)).all()
