"""Tests for models/sgns_workers.py: `sgns` with threads > 1 trains in Hogwild worker processes
that share the tables through mapped files. Checked: the workers split every epoch's batches
between them under one learning-rate schedule, a two-worker fit really trains, a failed worker
is one clear error, nothing is left in the temporary folder, subclasses are refused."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from harness.errors import UsageError
from models import sgns_workers
from models.sgns import Batch, SGNSRecommender, SkipGram
from models.sgns_corpus import LinearDecay, build_corpus
from tests.test_sgns import two_clusters


class Recording(SGNSRecommender):
    """Records (first token position's row, lr) of every step instead of training."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.steps: list[tuple[tuple[int, ...], float]] = []

    def _step(self, model: SkipGram, b: Batch, lr: float) -> tuple[Tensor, Tensor]:
        self.steps.append((tuple(b.tokens.tolist()), lr))
        return torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)


def test_workers_split_the_batches_of_one_schedule() -> None:
    train = two_clusters(n_playlists=40)
    est = Recording(dim=4, window=2, epochs=1, min_count=1, sample=1e-2, seed=1)
    c = build_corpus(train, 1, 1e-2, -0.5, torch.device("cpu"))
    model = SkipGram(len(c.vocab), 4, torch.Generator().manual_seed(0))

    def run(part: tuple[int, int]) -> tuple[list[tuple[tuple[int, ...], float]], int, float]:
        est.steps = []
        decay = LinearDecay(0.025, 0.0001, total=c.n_raw)
        sub = torch.Generator().manual_seed(7)  # the same subsampling draw in every worker
        gen = torch.Generator().manual_seed(part[0])
        _, pairs, n_kept = est._epoch(model, c, gen, decay, 2, 24, part, sub)
        assert float(pairs) == len(est.steps)
        return est.steps, n_kept, decay.lr()

    whole, n_whole, lr_end = run((0, 1))
    a, n_a, lr_a = run((0, 2))
    b, n_b, lr_b = run((1, 2))
    assert len(whole) >= 4 and a and b
    assert [t for t, _ in whole[0::2]] == [t for t, _ in a]  # every other batch each ...
    assert [t for t, _ in whole[1::2]] == [t for t, _ in b]
    assert [lr for _, lr in whole[0::2]] == [lr for _, lr in a]  # ... at the same lr
    assert [lr for _, lr in whole[1::2]] == [lr for _, lr in b]
    assert n_a + n_b == n_whole
    assert lr_a == lr_b == lr_end  # each worker's schedule ran over all batches


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
