"""The recall curve: the fraction of a playlist's held-out tracks found within the first d recs.

Computed from each model's challenge-format submission (URIs) against the split's
`ground_truth.json`, so no corpus is loaded. At depth |G| it is by definition the tracks-only
R-precision, so every playlist is checked against the stored `r_precision_track`: a stale or
foreign submission stops the report with the pid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from harness.atomic import read_json
from harness.errors import HarnessError

DEPTH = 500  # recommendations per playlist in the challenge

FloatArray = NDArray[np.float64]


def read_ground_truth(split_dir: Path) -> dict[int, frozenset[str]]:
    """pid -> the set of held-out track URIs, from `ground_truth.json`."""
    path = split_dir / "ground_truth.json"
    try:
        doc = read_json(path)
        return {
            int(p["pid"]): frozenset(h["track_uri"] for h in p["holdouts"])
            for p in doc["playlists"]
        }
    except (KeyError, TypeError) as e:
        raise HarnessError(f"{path}: not a ground-truth file (missing field {e})") from None


def recall_curve(
    recs: Mapping[int, Sequence[str]], truth: Mapping[int, frozenset[str]], depth: int = DEPTH
) -> tuple[FloatArray, FloatArray]:
    """Per-playlist found fraction at each depth, and at depth |G|.

    Returns ``curves`` (n, depth): row i, column d-1 = |G_i ∩ R_i[1..d]| / |G_i|, playlists in
    ascending pid order; and ``at_g`` (n,) = the same at d = |G_i| (the tracks-only R-precision).
    A pid absent from `recs` finds nothing, as in scoring.
    """
    pids = sorted(truth)
    curves = np.zeros((len(pids), depth), dtype=np.float64)  # (n, depth)
    at_g = np.zeros(len(pids), dtype=np.float64)  # (n,)
    for i, pid in enumerate(pids):
        g = truth[pid]
        if not g:
            continue
        row = recs.get(pid, ())[:depth]
        hits = np.fromiter((u in g for u in row), dtype=bool, count=len(row))  # (<= depth,)
        found = np.zeros(depth, dtype=np.float64)
        found[: len(hits)] = np.cumsum(hits)
        if len(hits) < depth:
            found[len(hits) :] = found[len(hits) - 1] if len(hits) else 0.0
        curves[i] = found / len(g)
        at_g[i] = np.sum(hits[: len(g)]) / len(g)
    return curves, at_g


def model_curve(
    submission: Path, truth: Mapping[int, frozenset[str]], r_precision_track: Mapping[int, float]
) -> FloatArray:
    """Mean recall curve (depth,) of one submission, checked against the stored metrics."""
    from harness.challenge.submission import read_submission

    _, recs, _ = read_submission(submission)
    stray = sorted(set(recs) - set(truth))
    if stray:
        raise HarnessError(f"{submission}: pid {stray[0]} is not a test playlist of the split")
    curves, at_g = recall_curve(recs, truth)
    for pid, got in zip(sorted(truth), at_g.tolist(), strict=True):
        want = r_precision_track.get(pid)
        if want is None or abs(got - want) > 1e-9:
            raise HarnessError(
                f"{submission}: pid {pid}: finds {got:.6f} of its held-out tracks at depth |G| but "
                f"metrics.parquet says r_precision_track {want}; the submission is stale"
            )
    return curves.mean(axis=0)
