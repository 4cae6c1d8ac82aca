"""The explorer's figures as SVG text, drawn by matplotlib on the server (no plotting script in
the browser): per-category bars (the report's figure, `harness.report.plots.category_figure`) and
the comparison of two models per playlist (scatter plus difference histogram).

In the scatter the cloud of all playlists is rasterised (an image inside the SVG: 10,000 vector
points would make a page of megabytes), while the most-disagreeing playlists are vector points
that link to the playlist inspector.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.report.plots import SYNTHETIC_TAG, _pyplot, category_figure

FloatArray = NDArray[np.float64]
# pyplot keeps global state and requests run in a thread pool: one figure at a time
_PYPLOT = threading.Lock()


def _svg(fig: Any) -> str:
    """The figure as an SVG document without its XML prologue (so it can sit inline)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def category_svg(table: Mapping[str, Any], metric: str, label: str, *, synthetic: bool) -> str:
    """Grouped bars (category × model) of one metric, CIs as whiskers (as in the report)."""
    plt = _pyplot()
    with _PYPLOT:
        fig = category_figure(table, metric, label, synthetic=synthetic)
        try:
            return _svg(fig)
        finally:
            plt.close(fig)


def compare_svg(
    a: FloatArray,
    b: FloatArray,
    names: tuple[str, str],
    label: str,
    marked: Sequence[tuple[float, float, str]],
    *,
    synthetic: bool,
) -> str:
    """Scatter of `a` against `b` (one point per playlist) and the histogram of a - b.

    `marked`: (a value, b value, URL) of the playlists to draw as links (the most disagreeing).
    """
    plt = _pyplot()
    with _PYPLOT:
        fig, (ax, hx) = plt.subplots(1, 2, figsize=(11, 4.6))
        try:
            rng = np.random.default_rng(0)  # jitter only: many playlists share a value
            span = max(float(np.ptp(np.concatenate([a, b]))) if len(a) else 1.0, 1e-9)
            jit = rng.uniform(-0.006, 0.006, size=(2, len(a))) * span  # (2, n)
            ax.scatter(a + jit[0], b + jit[1], s=6, alpha=0.35, color="tab:blue", rasterized=True)
            if marked:
                pts = ax.scatter(
                    [m[0] for m in marked], [m[1] for m in marked], s=28, color="tab:red", zorder=3
                )
                pts.set_urls([m[2] for m in marked])
            lo = float(min(a.min(initial=0.0), b.min(initial=0.0)))
            hi = float(max(a.max(initial=lo), b.max(initial=lo)))
            hi = hi + 0.05 * max(hi - lo, 1e-3)
            ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8)
            ax.set_xlabel(f"{names[0]}: {label}")
            ax.set_ylabel(f"{names[1]}: {label}")
            ax.set_title(f"per playlist (red: most disagreeing, click to open){_tag(synthetic)}")
            diff = a - b  # (n,)
            hx.hist(diff, bins=41, color="tab:blue")
            hx.axvline(0, color="grey", lw=0.8)
            hx.set_xlabel(f"{label}: {names[0]} − {names[1]}")
            hx.set_ylabel("test playlists")
            hx.set_title(
                f"difference, mean {diff.mean() if len(diff) else 0:+.4f}{_tag(synthetic)}"
            )
            # fixed margins: tight_layout would draw the figure once more before saving
            fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
            return _svg(fig)
        finally:
            plt.close(fig)


def _tag(synthetic: bool) -> str:
    return SYNTHETIC_TAG if synthetic else ""
