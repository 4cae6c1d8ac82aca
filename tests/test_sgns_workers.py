"""Tests for models/sgns_workers.py: `sgns` with threads > 1 trains in Hogwild worker processes
that share the tables through mapped files. Checked: a worker's share of an epoch's batches
gets the learning rates those batches get in a one-worker epoch, the claims hand out every batch
once, a two-worker fit really trains, a failed worker
is one clear error, nothing is left in the temporary folder, subclasses are refused."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_sgns import two_clusters  # pytest puts tests/ on sys.path
from torch import Tensor

from harness.errors import UsageError
from models import sgns_workers
from models.sgns import Batch, SGNSRecommender, SkipGram
from models.sgns_corpus import LinearDecay, build_corpus


class Recording(SGNSRecommender):
    """Records (first token position's row, lr) of every step instead of training."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.steps: list[tuple[tuple[int, ...], float]] = []

    def _step(self, model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
        self.steps.append((tuple(b.tokens.tolist()), lr))
        return torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)


def test_a_share_of_the_batches_gets_the_learning_rates_of_the_whole_epoch() -> None:
    train = two_clusters(n_playlists=40)
    est = Recording(dim=4, window=2, epochs=1, min_count=1, sample=1e-2, seed=1)
    c = build_corpus(train, 1, 1e-2, -0.5, torch.device("cpu"))
    model = SkipGram(len(c.vocab), 4, torch.Generator().manual_seed(0))

    def run(claims: Callable[[int], Iterable[int]] | None) -> tuple[list[Any], int, int]:
        est.steps = []
        decay = LinearDecay(0.025, 0.0001, total=c.n_raw)
        sub = torch.Generator().manual_seed(7)  # the same subsampling draw in every worker
        _, pairs, n_kept = est._epoch(model, c, torch.Generator(), decay, 2, 24, claims, sub)
        assert float(pairs) == len(est.steps)
        return est.steps, n_kept, decay.done

    whole, n_whole, done = run(None)
    odd, n_odd, done_odd = run(lambda n: range(1, n, 2))
    even, n_even, _ = run(lambda n: range(0, n, 2))
    assert len(whole) >= 4 and abs(done - c.n_raw) <= len(whole)  # an epoch, rounded per batch
    assert [t for t, _ in whole[1::2]] == [t for t, _ in odd]
    assert [lr for _, lr in whole[1::2]] == [lr for _, lr in odd]  # at the same rates
    assert [lr for _, lr in whole[0::2]] == [lr for _, lr in even]
    assert n_odd + n_even == n_whole and done_odd == done


def test_claims_hand_out_every_batch_once(tmp_path: Path) -> None:
    np.save(tmp_path / "claims.npy", np.zeros(2, dtype=np.int64))
    a, b = sgns_workers.Claims(tmp_path), sgns_workers.Claims(tmp_path)  # two workers
    got: dict[str, list[int]] = {"a": [], "b": []}
    ia, ib = a.take(0, 23), b.take(0, 23)
    for i in range(30):  # interleaved; a takes two claims for each of b's
        it, key = (ib, "b") if i % 3 == 2 else (ia, "a")
        got[key] += [x for _, x in zip(range(a.CHUNK), it, strict=False)]
    assert sorted(got["a"] + got["b"]) == list(range(23)) and len(got["b"]) >= a.CHUNK
    assert list(a.take(1, 5)) == [0, 1, 2, 3, 4] and list(b.take(1, 5)) == []  # epoch 1 apart


def test_two_workers_train_and_clean_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    train = two_clusters()
    m = SGNSRecommender(dim=16, window=3, epochs=5, seed=0, threads=2, sample=0, min_count=1)
    m.with_knobs(batch_tokens=24).fit(train)
    assert m.fit_info_["threads"] == 2
    assert not m.deterministic_  # the workers' updates race
    losses = m.fit_info_["loss_per_pair"]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert m.fit_info_["trained_words"] == 5 * len(train.track_ids)  # sample=0 keeps all
    v = m.vectors_  # (20, 16) unit rows
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    assert ((sims.argmax(1) < 10) == (np.arange(20) < 10)).all()  # clusters separate
    assert list(tmp_path.iterdir()) == []  # the shared files are gone


def test_a_failed_worker_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(folder: Path, w: int) -> object:
        err = open(folder / f"worker{w}.err", "wb")
        code = (
            "import sys; sys.stderr.write('Traceback\\nMemoryError: out of memory\\n'); sys.exit(3)"
        )
        return sgns_workers.subprocess.Popen([sys.executable, "-c", code], stderr=err)

    monkeypatch.setattr(sgns_workers, "_start", failing)
    m = SGNSRecommender(dim=4, window=2, epochs=1, threads=2, min_count=1, device="cpu")
    with pytest.raises(UsageError, match=r"^sgns: worker 1 of 2 failed: MemoryError: out of"):
        m.fit(two_clusters(n_playlists=20))


def test_a_subclass_trains_with_one_thread_only() -> None:
    class Sub(SGNSRecommender):
        pass

    with pytest.raises(UsageError, match="threads=2 trains SGNSRecommender only"):
        Sub(dim=4, epochs=1, threads=2, min_count=1, device="cpu").fit(two_clusters(20))


def test_worker_seeds_differ_by_purpose() -> None:
    seeds = {sgns_workers.worker_seed(0, a, b) for a in (0, 1) for b in range(4)}
    assert len(seeds) == 8 and all(0 <= s < 2**63 for s in seeds)
    assert sgns_workers.worker_seed(0, 0, 1) == sgns_workers.worker_seed(0, 0, 1)
    assert sgns_workers.worker_seed(1, 0, 1) != sgns_workers.worker_seed(0, 0, 1)


def test_workers_outside_posix_are_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sgns_workers.os, "name", "nt")
    with pytest.raises(UsageError, match="threads=2 needs Linux or macOS here; use threads=1"):
        SGNSRecommender(dim=4, epochs=1, threads=2, min_count=1, device="cpu").fit(two_clusters(20))
