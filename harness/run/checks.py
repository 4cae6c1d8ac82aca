"""What the runner checks and fixes in every model's output, so that models do not have to.

`check_recs` refuses a matrix that breaks the interface (shape, dtype, ids, duplicates, seeds)
with the model, pid and track named; `backfill` fills the empty (-1) slots with the most popular
training tracks to exactly k, counting them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.errors import HarnessError
from harness.types import IntArray, Queries


class ModelOutputError(HarnessError):
    """A model returned recommendations that break the interface contract."""


def check_recs(
    recs: Any,
    queries: Queries,
    n_tracks: int,
    k: int,
    model: str,
    track_uris: NDArray[np.object_] | None = None,
) -> IntArray:
    """Raise ModelOutputError unless `recs` is an int32 (n, k) matrix of valid recommendations.

    Valid: ids in [-1, n_tracks) (-1 = empty slot), no track twice in a row, no seed of the
    query. The message names the model, the query pid and the offending track.
    """
    n = len(queries)
    if not isinstance(recs, np.ndarray):
        raise ModelOutputError(
            f"model {model!r}: recommend returned {type(recs).__name__}, expected a numpy array"
        )
    if recs.shape != (n, k):
        raise ModelOutputError(
            f"model {model!r}: recommend returned shape {recs.shape}, expected ({n}, {k})"
        )
    if recs.dtype != np.int32:
        raise ModelOutputError(f"model {model!r}: recommend returned dtype {recs.dtype}, not int32")

    def name(t: int) -> str:
        return f"{t} ({track_uris[t]})" if track_uris is not None and 0 <= t < n_tracks else str(t)

    bad = (recs < -1) | (recs >= n_tracks)  # (n, k)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: track id {recs[i, j]} at rank {j + 1} "
            f"is outside [-1, {n_tracks})"
        )
    s = np.sort(recs, axis=1)  # (n, k)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)  # (n, k-1)
    if dup.any():
        i, j = np.argwhere(dup)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: track {name(int(s[i, j + 1]))} "
            "recommended more than once"
        )
    rows = np.repeat(np.arange(n, dtype=np.int64), queries.n_seeds)  # (n_seeds,)
    seed_keys = rows * n_tracks + queries.seed_ids
    rec_keys = np.arange(n, dtype=np.int64)[:, None] * n_tracks + recs  # (n, k)
    is_seed = np.isin(rec_keys, seed_keys) & (recs >= 0)
    if is_seed.any():
        i, j = np.argwhere(is_seed)[0]
        raise ModelOutputError(
            f"model {model!r}: pid {queries.pids[i]}: seed track {name(int(recs[i, j]))} "
            f"recommended at rank {j + 1}"
        )
    return recs


def backfill(
    recs: IntArray, queries: Queries, ranking: IntArray, k: int
) -> tuple[IntArray, NDArray[np.int32]]:
    """Fill each row's -1 slots with the most popular tracks not already in the row nor seeds.

    The row's own tracks keep their order, the popular ones follow. ranking: training tracks,
    most popular first. Returns the (n, k) matrix and the number of backfilled slots per row.
    """
    from models.popular import exclude_and_cut

    out = recs.copy()
    counts = (recs < 0).sum(axis=1).astype(np.int32)  # (n,)
    for i in np.flatnonzero(counts):
        row = recs[i]
        keep = row[row >= 0]
        fill = exclude_and_cut(ranking, np.concatenate([keep, queries.seeds(int(i))]), counts[i])
        if (fill < 0).any():
            raise HarnessError(
                f"pid {queries.pids[i]}: the training catalogue has too few tracks "
                f"({len(ranking)}) to fill {k} recommendations"
            )
        out[i] = np.concatenate([keep, fill])
    return out, counts
