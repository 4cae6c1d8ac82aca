"""The report's figures as PNG bytes: per-category bars with CI whiskers, and the recall curve.

Pure functions of the confidence table (`harness.report.confidence`) and of the recall curves
(`harness.report.recall`); matplotlib draws off screen (Agg). Equal inputs give equal bytes (no
Software or date metadata), so a re-rendered report is byte-identical.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.challenge.categories import CATEGORIES
from harness.challenge.metrics import HIGHER_IS_BETTER
from harness.report.confidence import CONFIDENCE

SYNTHETIC_TAG = "\n(SYNTHETIC data, not the real MPD)"  # on every plot of a synthetic run

FloatArray = NDArray[np.float64]


@dataclass
class Plot:
    """One figure: file name, caption, and PNG bytes."""

    name: str
    caption: str
    png: bytes


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (lazy: a second of import for every command)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # no Software/date metadata: equal inputs give equal bytes
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def category_plot(
    table: Mapping[str, Any], metric: str, label: str, *, synthetic: bool = False
) -> Plot:
    """Grouped bars (category × model) of one metric's mean, with the CI as whiskers."""
    plt = _pyplot()
    fig = category_figure(table, metric, label, synthetic=synthetic)
    png = _png(fig)
    plt.close(fig)
    caption = f"{label} per category (whiskers: {CONFIDENCE:.0%} bootstrap CI; 'all': overall)."
    return Plot(f"category_{metric}.png", caption, png)


def category_figure(
    table: Mapping[str, Any], metric: str, label: str, *, synthetic: bool = False
) -> Any:
    """The matplotlib figure of `category_plot` (the web explorer saves it as SVG); the caller
    closes it."""
    plt = _pyplot()
    names = list(table["models"])
    cats = sorted({int(c) for m in names for c in table["models"][m]["categories"]})
    groups = [*(str(c) for c in cats), "all"]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(11, 5.0))
    x = np.arange(len(groups))
    for j, name in enumerate(names):
        entry = table["models"][name]
        cells = [entry["categories"].get(g, {}).get(metric) for g in groups[:-1]]
        cells.append(entry["overall"].get(metric))
        mean = np.array([c["mean"] if c else np.nan for c in cells])
        lo = np.array([c["lo"] if c else np.nan for c in cells])
        hi = np.array([c["hi"] if c else np.nan for c in cells])
        err = np.vstack([mean - lo, hi - mean])  # (2, n_groups)
        ax.bar(x - 0.4 + (j + 0.5) * width, mean, width, yerr=err, capsize=2, label=name)
    # the categories named as the tables name them ("3: title + first 5")
    ticks = [CATEGORIES[int(g)].label if g != "all" else "all" for g in groups]
    ax.set_xticks(x, ticks, rotation=30, ha="right", fontsize="small")
    better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    ax.set_ylabel(f"{label} ({better} is better)")
    ax.set_title(
        f"{label} per challenge category, mean with {CONFIDENCE:.0%} bootstrap CI"
        + (SYNTHETIC_TAG if synthetic else "")
    )
    ax.legend(fontsize="small", ncols=min(len(names), 6))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def recall_plot(curves: Mapping[str, FloatArray], *, synthetic: bool = False) -> Plot:
    """Mean fraction of held-out tracks found vs list depth, one line per model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, curve in curves.items():
        depth = np.arange(1, len(curve) + 1)
        ax.plot(depth, curve, label=f"{name} ({curve[-1]:.3f} at {len(curve)})")
    ax.set_xscale("log")
    ticks = [1, 2, 5, 10, 20, 50, 100, 200, 500]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel("list depth d (recommendations read)")
    ax.set_ylabel("held-out tracks found (fraction)")
    ax.set_title(
        "Recall curve: mean over test playlists of |G ∩ R[1..d]| / |G|"
        + (SYNTHETIC_TAG if synthetic else "")
    )
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    caption = (
        "Fraction of each test playlist's held-out tracks (as a set) found in the first d "
        "recommendations, averaged over playlists; from the submissions, checked against "
        "r_precision_track at d = |G|."
    )
    return Plot("recall_curve.png", caption, png)
