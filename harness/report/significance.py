"""Uncertainty of leaderboard numbers: bootstrap confidence intervals and paired tests.

Every function is pure and seeded. Inputs are per-playlist metric values (one float per test
playlist), as written by the runner to `RUN_DIR/<model>/metrics.parquet`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _resample_means(
    values: FloatArray, n_resamples: int, seed: int, chunk: int = 200
) -> FloatArray:
    """Means of `n_resamples` bootstrap resamples of `values` (n,), in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    n = len(values)
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n))  # (b, n)
        out[start : start + b] = values[idx].mean(axis=1)
    return out


def bootstrap_ci(
    values: NDArray[np.floating],
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of `values` (n,)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return (float("nan"), float("nan"))
    means = _resample_means(v, n_resamples, seed)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def paired_test(a: NDArray[np.floating], b: NDArray[np.floating]) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired per-playlist values of two systems.

    Identical systems (all differences zero) give p = 1. Zero differences are split between
    the ranks ("zsplit"), so ties do not inflate significance. The p-value uses the normal
    approximation (accurate from about 20 pairs; conservative enough for smaller categories).
    """
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in shape: {x.shape} vs {y.shape}")
    d = x - y
    if len(d) == 0 or not np.any(d != 0):
        return 1.0
    # The normal approximation: scipy's exact path enumerates 2^n sign patterns in Python when
    # there are ties and n <= 13, which takes seconds per test on small categories.
    from scipy import stats  # lazy: 0.3 s of start-up for every command

    res = stats.wilcoxon(d, zero_method="zsplit", alternative="two-sided", method="asymptotic")
    return float(res.pvalue)


P_FLOOR = 1e-16  # below this the normal approximation's tail says nothing more


def format_p(p: float, name: str = "p") -> str:
    """`p=0.031`, or `p<1e-16` where the p-value is tiny (it may underflow to 0.0)."""
    return f"{name}<{P_FLOOR:.0e}" if p < P_FLOOR else f"{name}={p:.2g}"


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    names = sorted(pvalues, key=lambda n: (pvalues[n], n))
    m = len(names)
    out: dict[str, float] = {}
    running = 0.0
    for i, name in enumerate(names):
        adj = min(1.0, (m - i) * pvalues[name])
        running = max(running, adj)
        out[name] = running
    return out


def compare_to_best(
    per_model: Mapping[str, NDArray[np.floating]], *, higher_is_better: bool = True
) -> dict[str, dict[str, float | bool | str]]:
    """Test every model against the best one (by mean) on the same playlists.

    Returns {model: {"best": name, "p": raw p, "p_holm": adjusted p, "significant": p_holm < 0.05}};
    the best model itself gets p = 1 and significant = False.
    """
    if not per_model:
        return {}
    means = {m: float(np.mean(v)) for m, v in per_model.items()}
    best = (max if higher_is_better else min)(sorted(means), key=lambda m: means[m])
    raw = {m: paired_test(per_model[m], per_model[best]) for m in per_model if m != best}
    adj = holm(raw)
    out: dict[str, dict[str, float | bool | str]] = {
        best: {"best": best, "p": 1.0, "p_holm": 1.0, "significant": False}
    }
    for m in raw:
        out[m] = {"best": best, "p": raw[m], "p_holm": adj[m], "significant": adj[m] < 0.05}
    return out
