"""What a tuning run reports: the trials as a table (`DIR/trials.csv`) and the optimisation
history as a plot (`DIR/history.png`), both pure functions of the study's trials
(`harness.run.tune.TrialRow`), written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import atomic_open
from harness.challenge.metrics import BY_NAME
from harness.report.plots import SYNTHETIC_TAG, _png, _pyplot

if TYPE_CHECKING:
    from harness.run.tune_settings import TrialRow


def trials_table(rows: Sequence[TrialRow]) -> list[dict[str, Any]]:
    """One dict per trial: number, state, value, every metric, seconds, peak RSS, `param.X`
    for each parameter, and the note (error, pruning step, re-run, duplicate)."""
    metrics = sorted({m for r in rows for m in r.values}, key=list(BY_NAME).index)
    params = sorted({p for r in rows for p in r.params})
    out = []
    for r in rows:
        row: dict[str, Any] = {"number": r.number, "state": r.state, "value": r.value}
        row |= {m: r.values.get(m) for m in metrics}
        row |= {"seconds": None if r.seconds is None else round(r.seconds, 3)}
        row |= {"peak_rss_mb": r.peak_rss_mb}
        row |= {f"param.{p}": r.params.get(p) for p in params}
        row["note"] = r.note
        out.append(row)
    return out


def write_trials_csv(rows: Sequence[TrialRow], path: Path) -> Path:
    """`trials.csv`: `trials_table` as CSV, one line per trial in number order."""
    import pandas as pd

    frame = pd.DataFrame(trials_table(rows))
    with atomic_open(path, "w") as f:
        frame.to_csv(f, index=False, lineterminator="\n")
    return path


def write_history_plot(
    rows: Sequence[TrialRow], path: Path, metric: str, *, synthetic: bool, title: str = ""
) -> Path:
    """`history.png`: each COMPLETE trial's validation value by trial number, the best so far as
    a step line, pruned and failed trials as ticks on the axis."""
    plt = _pyplot()
    m = BY_NAME[metric]
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    fig, ax = plt.subplots(figsize=(7, 4))
    if done:
        xs = [r.number for r in done]
        ys = [float(r.value) for r in done if r.value is not None]
        ax.scatter(xs, ys, s=18, color="tab:blue", label="trial")
        best, running = [], None
        for y in ys:
            better = running is None or (y > running if m.higher_is_better else y < running)
            running = y if better else running
            best.append(running)
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    others = [r.number for r in rows if r.state in ("PRUNED", "FAIL")]
    if others:
        ax.plot(others, [0] * len(others), "|", color="grey", transform=ax.get_xaxis_transform())
        ax.plot([], [], "|", color="grey", label="pruned / failed")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation {m.label}")
    ax.set_title((title or "optimisation history") + (SYNTHETIC_TAG if synthetic else ""))
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    with atomic_open(path, "wb") as f:
        f.write(png)
    return path


def write_reports(result: Any, out: Path, *, synthetic: bool) -> dict[str, Path]:
    """Both files of a `TuneResult` into `out`."""
    title = f"tune {result.info.get('model', '')}".strip()
    return {
        "trials": write_trials_csv(result.rows, Path(out) / "trials.csv"),
        "history": write_history_plot(
            result.rows, Path(out) / "history.png", result.metric, synthetic=synthetic, title=title
        ),
    }
