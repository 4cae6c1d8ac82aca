"""`sgns` on several CPU cores: Hogwild! worker processes that share the embedding tables.

Why processes, and why no locks on the tables: one batch's ops are too small for torch's
intra-op threads (2 threads fitted 1.16-1.35x as fast as 1: bench/results.json at 4c94f86), and
two Python threads per batch were slower than one, because torch holds the GIL while it
dispatches each op.
So each worker is a process with one torch thread. The workers claim the batches of each epoch a
few at a time (`Claims`; the same subsampled corpus, and batch i gets the learning rate it gets
with one worker) and add their updates into the shared tables without locks, as word2vec's and
gensim's threads do (Hogwild!, Niu et al. 2011): two workers seldom update the same row at the
same moment, and when they do one update can be lost. So more than one worker is faster but not
bit-repeatable.

What the workers share lives in files of a temporary folder that each maps (numpy memmap): the
two tables, the corpus, the claim counters and the per-epoch sums. Not /dev/shm, which containers
keep small, and nothing pickled. Worker 0 is the calling process; the others run
`python -m models.sgns FOLDER W` (`worker_main`), which reads FOLDER/spec.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from harness.errors import UsageError
from models.sgns_corpus import Corpus, LinearDecay


class Trainer(Protocol):
    """What the workers need of `SGNSRecommender` (not imported here: it imports this)."""

    seed: int
    epochs: int
    threads: int
    knobs: Any

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def _epoch(self, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor, int]: ...

    def _progress(self, done: int, total: int, unit: str) -> None: ...


CORPUS_TENSORS = ("tokens", "seg", "keep_p", "neg_prob", "neg_alias")
SUMS = ("loss", "pairs", "tokens")  # per worker and epoch, in sums.npy (T, epochs, 3)


def worker_seed(seed: int, *path: int) -> int:
    """An independent 63-bit seed for one purpose (path) of a run seeded with `seed`."""
    return int(np.random.SeedSequence([int(seed), *path]).generate_state(2, np.uint64)[0] >> 1)


class Claims:
    """Hands out each epoch's batches CHUNK at a time from one counter per epoch, kept in a
    mapped file and moved under a file lock: a worker that starts late (a new process imports
    torch for seconds) or shares its core with another job takes fewer batches, where a fixed
    split would leave the others waiting for it."""

    CHUNK = 4  # batches per claim: one lock round trip per ~4 ms of training

    def __init__(self, folder: Path) -> None:
        self.counters = _mapped(folder / "claims.npy")  # (epochs,) int64 next unclaimed batch
        self.lock_path = folder / "claims.lock"

    def take(self, epoch: int, n_batches: int) -> Iterator[int]:
        """The batch indices of `epoch` this worker trains, until none is left."""
        import fcntl  # POSIX only, and only for threads > 1

        with open(self.lock_path, "a+b") as lock:
            while True:
                fcntl.lockf(lock, fcntl.LOCK_EX)
                first = int(self.counters[epoch])
                self.counters[epoch] = first + self.CHUNK
                fcntl.lockf(lock, fcntl.LOCK_UN)
                if first >= n_batches:
                    return
                yield from range(first, min(first + self.CHUNK, n_batches))


@dataclass
class Job:
    """What the workers train: the estimator (settings and step), the model (its tables), the
    corpus, the lr schedule, the window and the batch size, as `SGNSRecommender._train` set them."""

    est: Trainer
    model: nn.Module  # a SkipGram: its `inp` and `out` tables
    c: Corpus
    decay: LinearDecay
    window: int
    batch: int


def run_share(job: Job, worker: int, folder: Path) -> list[float]:
    """Worker `worker`: every epoch on the batches it claims; writes its sums (loss, positive
    pairs, tokens trained) into FOLDER/sums.npy (T, epochs, 3) after each epoch and returns its
    epoch seconds. The subsampling draw of epoch e is the same in every worker."""
    est = job.est
    gen = torch.Generator().manual_seed(worker_seed(est.seed, 0, worker))  # its own draws
    claims, sums = Claims(folder), _mapped(folder / "sums.npy")
    epoch_s = []
    for e in range(est.epochs):
        t0 = time.perf_counter()
        sub = torch.Generator().manual_seed(worker_seed(est.seed, 1, e))  # shared by all
        share = partial(claims.take, e)
        loss, pairs, n_kept = est._epoch(
            job.model, job.c, gen, job.decay, job.window, job.batch, share, sub
        )
        sums[worker, e] = (float(loss.item()), float(pairs.item()), n_kept)
        epoch_s.append(time.perf_counter() - t0)
        if worker == 0:
            est._progress(e + 1, est.epochs, "epoch")
    return epoch_s


def _mapped(path: Path, array: NDArray[Any] | None = None) -> NDArray[Any]:
    """A writable shared mapping of path.npy, written from `array` first when given."""
    if array is not None:
        np.save(path, np.ascontiguousarray(array))
    return np.load(path, mmap_mode="r+")


def train_workers(job: Job, n_workers: int) -> tuple[list[float], int, list[float]]:
    """Train `job.model` in place with n_workers Hogwild processes (this one is worker 0).

    Returns (loss per pair by epoch, tokens trained, worker 0's epoch seconds)."""
    est, model, c, decay = job.est, job.model, job.c, job.decay
    if os.name != "posix":  # Claims locks with fcntl
        raise UsageError(f"sgns: threads={est.threads} needs Linux or macOS here; use threads=1")
    with tempfile.TemporaryDirectory(prefix="sgns-workers-") as tmp:
        folder = Path(tmp)
        spec = {
            "params": est.get_params(),
            "knobs": asdict(est.knobs),
            "neg_per_slot": model.neg_per_slot,
            "decay": asdict(decay),
            "window": job.window,
            "batch": job.batch,
            "n_raw": c.n_raw,
            "n_workers": n_workers,
        }
        (folder / "spec.json").write_text(json.dumps(spec))
        for name in CORPUS_TENSORS:
            np.save(folder / f"{name}.npy", getattr(c, name).numpy())
        for name in ("inp", "out"):  # the parameters now live in the shared files
            table = _mapped(folder / f"{name}.npy", getattr(model, name).detach().numpy())
            getattr(model, name).data = torch.from_numpy(table)
        sums = _mapped(folder / "sums.npy", np.zeros((n_workers, est.epochs, len(SUMS))))
        _mapped(folder / "claims.npy", np.zeros(est.epochs, dtype=np.int64))
        procs = [_start(folder, w) for w in range(1, n_workers)]
        try:
            epoch_s = run_share(job, 0, folder)
            for w, p in enumerate(procs, start=1):
                if p.wait() != 0:
                    err = (folder / f"worker{w}.err").read_text().strip().splitlines()
                    last = err[-1] if err else "no message"
                    raise UsageError(f"sgns: worker {w} of {n_workers} failed: {last}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        for name in ("inp", "out"):  # copies, before the files go
            getattr(model, name).data = getattr(model, name).data.clone()
        total = np.asarray(sums).sum(axis=0)  # (epochs, 3)
    losses = [float(x) / max(float(p), 1.0) for x, p in total[:, :2]]
    return losses, int(total[:, 2].sum()), epoch_s


def _start(folder: Path, w: int) -> subprocess.Popen[bytes]:
    """Worker w as `python -m models.sgns`, importing the same `models` as this one."""
    paths = [p or os.getcwd() for p in sys.path]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}
    with open(folder / f"worker{w}.err", "wb") as err:
        cmd = [sys.executable, "-m", "models.sgns", str(folder), str(w)]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)


def worker_main(
    argv: list[str],
    make_est: Callable[..., Any],
    make_model: Callable[[int, int, torch.Generator], nn.Module],
) -> None:
    """Worker W >= 1 (argv: FOLDER W): map what worker 0 wrote and train its share. Called by
    `python -m models.sgns FOLDER W` with the estimator and model classes."""
    folder, w = Path(argv[0]), int(argv[1])
    torch.set_num_threads(1)
    spec = json.loads((folder / "spec.json").read_text())
    est = make_est(**spec["params"]).with_knobs(**spec["knobs"])
    tensors = {n: torch.from_numpy(_mapped(folder / f"{n}.npy")) for n in CORPUS_TENSORS}
    empty = np.zeros(0, dtype=np.int64)
    c = Corpus(counts=empty, vocab=empty, n_raw=spec["n_raw"], max_len=0, **tensors)
    model = make_model(1, est.dim, torch.Generator())
    model.inp.data = torch.from_numpy(_mapped(folder / "inp.npy"))
    model.out.data = torch.from_numpy(_mapped(folder / "out.npy"))
    model.neg_per_slot = spec["neg_per_slot"]
    decay = LinearDecay(**spec["decay"])
    run_share(Job(est, model, c, decay, spec["window"], spec["batch"]), w, folder)
