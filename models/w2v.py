"""`w2v`: gensim word2vec (skip-gram, negative sampling) over playlists as sentences of track ids.

A thin adapter: the training set becomes a corpus (one playlist per sentence), gensim learns the
track vectors, and only those vectors are kept (`vectors_`, unit rows, zero rows for tracks
without a vector). Recommendation is shared with the PyTorch skip-gram: `models.vectors`.

gensim is imported inside `fit`, so `import models` works where gensim is not installed.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Self

from harness.errors import ParameterError, UsageError
from models.base import IntArray, Queries, Recommender, TrainSet
from models.vectors import normalize_rows, recommend_from_vectors

CORPUS_MODES = ("iterable", "file")


class PlaylistSentences:
    """Restartable iterable of playlists as lists of int track ids (gensim's `corpus_iterable`).

    Converts one playlist at a time from the CSR arrays, so memory stays O(longest playlist)
    instead of O(n_occurrences) Python objects. Int tokens hash the same under every
    PYTHONHASHSEED, and gensim accepts any hashable token.
    """

    def __init__(self, offsets: NDArray[np.int64], track_ids: IntArray) -> None:
        self.offsets = offsets
        self.track_ids = track_ids

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[list[int]]:
        ids, off = self.track_ids, self.offsets
        for i in range(len(off) - 1):
            yield ids[off[i] : off[i + 1]].tolist()


def write_corpus_file(path: Path, offsets: NDArray[np.int64], track_ids: IntArray) -> None:
    """One playlist per line, track ids separated by spaces (gensim's LineSentence format).

    A scratch file read only by gensim during `fit` (deleted afterwards), so not atomic.
    """
    with open(path, "w", encoding="ascii", newline="\n") as f:
        for i in range(len(offsets) - 1):
            f.write(" ".join(map(str, track_ids[offsets[i] : offsets[i + 1]].tolist())))
            f.write("\n")


class W2VRecommender(Recommender):
    """Skip-gram with negative sampling (gensim `Word2Vec`, sg=1, hs=0) on track-id playlists.

    Parameters
    ----------
    dim : embedding size.
    window : context size on each side; 0 means the whole playlist (every other track of the
        playlist is a context, no random window shrinking). With window > 0 the effective window
        of each centre is drawn uniformly from 1..window, as in word2vec.
    negative : negative samples per positive pair.
    ns_exponent : exponent α of the negative-sampling distribution count**α; any real
        (0: uniform over tracks, negative: unpopular tracks sampled more).
    sample : subsampling threshold of frequent tracks (0 disables).
    epochs : passes over the training playlists.
    min_count : tracks seen fewer times in training get no vector (zero row), so they are
        never recommended: rarely seen tracks keep near-random vectors that, once normalised,
        crowd the top of the cosine ranking (the sweep in docs/word2vec.md).
    candidate_min_count : tracks seen fewer times in training are not recommended, though
        their vectors still serve as seeds; 0 (default) leaves only `min_count` to decide.
    workers : training threads. 1 (the default) is deterministic; more is faster, not repeatable.
    seed : seed of gensim's initialisation and sampling.
    alpha, min_alpha : learning rate, decayed linearly from alpha to min_alpha. 0.1, not
        word2vec's 0.025: on validation splits of the synthetic MPD at 10k, 100k and 1M
        playlists it was better at every epoch count measured, 3 epochs at 100k 0.82x knn
        against 0.43x (docs/word2vec.md, bench/embedding_epochs.jsonl).
    corpus : "iterable" (default) streams lists of int ids from memory (one Python producer
        thread, no disk, every token trained); "file" writes the playlists to a temporary text
        file and trains with gensim's `corpus_file` path (C++ reader without the GIL, meant to
        scale with many workers; each worker reads a byte range, so with workers > 1 a fraction
        of a percent of the tokens is skipped per epoch).
    chunk : queries per scoring block in `recommend`.
    """

    cold_start = "title"
    checkpoints = True  # a snapshot after each epoch (tune prunes on its validation score)
    deterministic = True
    determinism_note = (
        "byte-identical vectors and recommendations only with workers=1 (the default); "
        "workers>1 races between threads (Hogwild). Tokens are ints in 'iterable' mode; "
        "the tests and noxfile also fix PYTHONHASHSEED=0, recorded in fit_info_."
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
        workers: int = 1,
        seed: int = 0,
        alpha: float = 0.1,
        min_alpha: float = 0.0001,
        corpus: str = "iterable",
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
        self.workers = workers
        self.seed = seed
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.corpus = corpus
        self.chunk = chunk

    def check_params(self) -> None:
        """Reject values gensim would accept silently or fail on obscurely."""
        checks = [
            ("dim", self.dim >= 1),
            ("window", self.window >= 0),
            ("negative", self.negative >= 1),
            ("epochs", self.epochs >= 1),
            ("min_count", self.min_count >= 1),
            ("candidate_min_count", self.candidate_min_count >= 0),
            ("workers", self.workers >= 1),
            ("sample", self.sample >= 0),
            ("alpha", self.alpha > 0),
            ("min_alpha", 0 <= self.min_alpha <= self.alpha),
            ("ns_exponent", bool(np.isfinite(self.ns_exponent))),
            ("corpus", self.corpus in CORPUS_MODES),
            ("chunk", self.chunk >= 1),
        ]
        bad = [name for name, ok in checks if not ok]
        if bad:
            got = ", ".join(f"{n}={getattr(self, n)!r}" for n in bad)
            raise ParameterError(f"w2v: invalid hyperparameter(s) {got}")

    def _fit(self, train: TrainSet) -> Self:
        """Train word2vec on the training playlists; keep unit track vectors in `vectors_`."""
        lengths = np.diff(train.offsets)  # (n_playlists,)
        counts = np.bincount(train.track_ids, minlength=train.n_tracks)  # (n_tracks,)
        if not (counts >= self.min_count).any():
            raise UsageError(
                f"w2v: no track occurs min_count={self.min_count} times in the "
                f"{train.n_playlists} training playlists; lower min_count"
            )
        whole = self.window == 0
        window = max(int(lengths.max(initial=1)) - 1, 1) if whole else int(self.window)
        model = self._word2vec(window, shrink=not whole)

        def on_epoch(done: int, gensim_model: Any) -> None:
            def snapshot() -> Recommender:  # the vectors so far, on a copy
                return copy.copy(self)._keep(gensim_model, counts, train.n_tracks)

            self._progress(done, self.epochs, "epoch")
            self._checkpoint(done, self.epochs, snapshot)

        timer = _epoch_timer(on_epoch)
        trained, raw, t_prep, t_train = self._train(model, train, counts, timer)
        self._keep(model, counts, train.n_tracks)
        self.fit_info_: dict[str, Any] = {
            "pythonhashseed": os.environ.get("PYTHONHASHSEED"),
            "gensim": _gensim_version(),
            "workers": self.workers,
            "corpus": self.corpus,
            "window_used": window,
            "vocab_size": len(model.wv.index_to_key),
            "raw_words_per_epoch": int(lengths.sum()),
            "trained_words": int(trained),  # after min_count and subsampling, all epochs
            "prepare_s": round(t_prep, 3),
            "train_s": round(t_train, 3),
            "words_per_s": round(raw / t_train, 1) if t_train > 0 else None,
            "epoch_s": [round(t, 3) for t in timer.times],
        }
        return self

    def _keep(self, model: Any, counts: NDArray[np.intp], n_tracks: int) -> Self:
        """Set the fitted state from the gensim model's vectors (also mid-training: a checkpoint
        snapshot is a copy of the recommender with them)."""
        keys = np.fromiter((int(k) for k in model.wv.index_to_key), dtype=np.int64)  # (V,)
        vectors = np.zeros((n_tracks, self.dim), dtype=np.float32)  # (n_tracks, dim)
        vectors[keys] = normalize_rows(model.wv.vectors)
        self.vectors_ = vectors
        # several gensim worker threads update the vectors Hogwild-style: not repeatable
        self.deterministic_ = self.workers == 1
        self.candidates_ = counts >= self.candidate_min_count  # (n_tracks,)
        return self

    def _word2vec(self, window: int, shrink: bool) -> Any:
        """An untrained gensim skip-gram with negative sampling and our hyperparameters."""
        from gensim.models import Word2Vec

        return Word2Vec(
            vector_size=self.dim,
            window=window,
            shrink_windows=shrink,
            sg=1,
            hs=0,
            negative=self.negative,
            ns_exponent=float(self.ns_exponent),
            sample=self.sample,
            min_count=self.min_count,
            workers=self.workers,
            seed=self.seed,
            alpha=self.alpha,
            min_alpha=self.min_alpha,
            epochs=self.epochs,
        )

    def _train(
        self, model: Any, train: TrainSet, counts: NDArray[np.intp], timer: Any
    ) -> tuple[int, int, float, float]:
        """Vocabulary from the counts, then training; (trained words, raw words, prepare s,
        train s)."""
        # only the tracks gensim would keep (same result, less memory); ascending ids, so ties in
        # gensim's stable frequency sort stay in id order
        kept = np.flatnonzero(counts >= self.min_count)
        as_key = str if self.corpus == "file" else int
        t0 = time.perf_counter()
        model.build_vocab_from_freq(
            {as_key(t): int(counts[t]) for t in kept.tolist()}, corpus_count=train.n_playlists
        )
        with tempfile.TemporaryDirectory(prefix="w2v-") as tmp:
            if self.corpus == "file":
                path = Path(tmp) / "playlists.txt"
                write_corpus_file(path, train.offsets, train.track_ids)
                source: dict[str, Any] = {"corpus_file": str(path)}
            else:
                source = {"corpus_iterable": PlaylistSentences(train.offsets, train.track_ids)}
            t_prep = time.perf_counter() - t0
            t1 = time.perf_counter()
            trained, raw = model.train(
                **source,
                total_examples=train.n_playlists,
                total_words=int(np.diff(train.offsets).sum()),
                epochs=self.epochs,
                callbacks=[timer],
            )
            t_train = time.perf_counter() - t1
        return trained, raw, t_prep, t_train

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        """Top-k by cosine to the mean seed vector; -1 rows where no seed has a vector."""
        return recommend_from_vectors(
            self.vectors_, queries, k, chunk=self.chunk, candidates=self.candidates_
        )


def _gensim_version() -> str:
    import gensim

    return str(gensim.__version__)


def _epoch_timer(on_epoch: Callable[[int, Any], None]) -> Any:
    """A gensim callback that keeps the wall time of every epoch in `.times` and calls
    `on_epoch(epochs done, the gensim model)` (gensim is imported here, on first fit, not with
    the module)."""
    from gensim.models.callbacks import CallbackAny2Vec

    class EpochTimer(CallbackAny2Vec):  # type: ignore[misc]
        def __init__(self) -> None:
            self.times: list[float] = []
            self.t0 = 0.0

        def on_epoch_begin(self, model: Any) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, model: Any) -> None:
            self.times.append(time.perf_counter() - self.t0)
            on_epoch(len(self.times), model)

    return EpochTimer()
