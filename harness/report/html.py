"""The HTML report of a run: one self-contained page with the leaderboard, CIs, tests and plots.

`build_report(run_dir)` computes everything from the run folder's files (leaderboard and
confidence table: `harness.report.leaderboard`, `harness.report.confidence`; recall curves:
`harness.report.recall`; figures: `harness.report.plots`); `write_report` writes
`RUN_DIR/report.html` (inline CSS, plots as base64 PNG, no script, no network) and the same plots as
`RUN_DIR/plots/*.png`:
- `category_<metric>.png` for each plotted metric of the registry (R-precision, NDCG, clicks):
  bars per category and model, with CI whiskers;
- `recall_curve.png`: mean over test playlists of the fraction of its held-out tracks (as a set)
  found within the first d recommendations, d = 1..500, from each model's challenge-format
  submission. A model without a submission (runs with k != 500) has no curve, and the report
  says so.
External submissions (`harness.run.external`) are rows like the models', named `NAME (external)`,
with empty costs; their curve comes from the file they were scored from. Models the run requested
that have no complete run yet are named under the caption and in the notes.
Rendering (`render_html`) is pure; the `report` command (`harness/cli/report.py`) prints.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_open, atomic_path
from harness.challenge.metrics import PLOTTED, RANKED, VARIANTS, Metric
from harness.errors import HarnessError
from harness.outputs import GENERATOR
from harness.progress import SILENT, Reporter
from harness.report.confidence import CONFIDENCE, METHOD_NOTE
from harness.report.leaderboard import (
    CATEGORY_NAMES,
    Leaderboard,
    build,
    caption,
    cost,
    label,
    legend,
    unfinished_note,
)
from harness.report.plots import Plot, category_plot, recall_plot
from harness.report.recall import FloatArray, model_curve, read_ground_truth
from harness.report.significance import format_p
from harness.run.rundir import resolve_split_dir
from harness.version import __version__

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; }
.banner { background: #fff3cd; border: 2px solid #d39e00; padding: 0.6em 1em; font-weight: bold; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; }
th { background: #f0f0f0; }
td.name, th.name { text-align: left; }
.ci { color: #666; font-size: 0.85em; }
.mark { display: block; font-size: 0.8em; }
.best { background: #d8f0d8; }
.tie { background: #eef6ee; }
.worse { color: #444; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
p.note { color: #555; font-size: 0.9em; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _cell(metric: Metric, cell: Mapping[str, Any] | None) -> str:
    """`<td>` with `mean [lo, hi]` and whether it is the best, ≈ best, or differs."""
    if not cell:
        return "<td>-</td>"
    text = (
        f"{metric.format(cell['mean'])} <span class='ci'>[{metric.format(cell['lo'])}, "
        f"{metric.format(cell['hi'])}]</span>"
    )
    if cell["best"] == _cell_model(cell):
        cls, mark = "best", "best"
    elif not cell["significant"]:
        cls, mark = "tie", f"≈ best ({format_p(cell['p_holm'], 'p_holm')})"
    else:
        cls, mark = "worse", f"differs ({format_p(cell['p_holm'], 'p_holm')})"
    return f"<td class='{cls}'>{text}<span class='mark'>{_e(mark)}</span></td>"


def _cell_model(cell: Mapping[str, Any]) -> str:
    return str(cell.get("model", ""))


def _with_names(table: Mapping[str, Any]) -> dict[str, Any]:
    """The table with each cell knowing its own model (so a cell can say 'best')."""
    out: dict[str, Any] = {}
    for name, entry in table["models"].items():
        overall = {m: {**c, "model": name} for m, c in entry["overall"].items()}
        cats = {
            cat: {m: {**c, "model": name} for m, c in cells.items()}
            for cat, cells in entry["categories"].items()
        }
        out[name] = {"overall": overall, "categories": cats}
    return out


def _leaderboard_html(board: Leaderboard, cells: Mapping[str, Any]) -> str:
    head = ["Borda", "model", *(m.label for m in RANKED), "fit s", "rec s", "peak MB"]
    rows = []
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        tds = [f"<td>{rank} ({points})</td>", f"<td class='name'>{_e(label(board, name))}</td>"]
        tds += [_cell(m, cells[name]["overall"].get(m.name)) for m in RANKED]
        tds += [
            f"<td>{cost(e['fit_s'], '.1f')}</td>",
            f"<td>{cost(e['recommend_s'], '.1f')}</td>",
            f"<td>{cost(e['peak_rss_mb'], ',.0f')}</td>",
        ]
        rows.append("<tr>" + "".join(tds) + "</tr>")
    ths = "".join(
        f"<th class='name'>{_e(h)}</th>" if h == "model" else f"<th>{_e(h)}</th>" for h in head
    )
    body = "".join(rows)
    return f"<table id='leaderboard'><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _variants_html(labels: Mapping[str, str], cells: Mapping[str, Any]) -> str:
    """The metric variants' table; `labels`: model -> its name in tables, in row order."""
    ths = "<th class='name'>model</th>" + "".join(f"<th>{_e(m.label)}</th>" for m in VARIANTS)
    rows = []
    for name, text in labels.items():
        tds = "".join(_cell(m, cells[name]["overall"].get(m.name)) for m in VARIANTS)
        rows.append(f"<tr><td class='name'>{_e(text)}</td>{tds}</tr>")
    body = "".join(rows)
    return f"<table id='variants'><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _category_html(labels: Mapping[str, str], cells: Mapping[str, Any], metric: Metric) -> str:
    """One metric per category; `labels`: model -> its name in tables, in column order."""
    names = list(labels)
    cats = sorted({int(c) for n in names for c in cells[n]["categories"]})
    ths = "<th class='name'>category</th><th>n</th>"
    ths += "".join(f"<th>{_e(t)}</th>" for t in labels.values())
    rows = []
    for c in cats:
        got = [cells[n]["categories"].get(str(c), {}).get(metric.name) for n in names]
        n = next((g["n"] for g in got if g), "-")
        tds = "".join(_cell(metric, g) for g in got)
        label = f"{c}: {CATEGORY_NAMES.get(c, '?')}"
        rows.append(f"<tr><td class='name'>{_e(label)}</td><td>{n}</td>{tds}</tr>")
    return (
        f"<table id='categories-{metric.name}' class='categories'><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _figure(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    return (
        f"<figure id='plot-{_e(plot.name.removesuffix('.png'))}'>"
        f"<img alt='{_e(plot.caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{_e(plot.caption)} File: plots/{_e(plot.name)}</figcaption></figure>"
    )


def render_html(
    board: Leaderboard, table: Mapping[str, Any], plots: Sequence[Plot], notes: Sequence[str]
) -> str:
    """The whole report as one HTML document (pure)."""
    cells = _with_names(table)
    labels = {e["name"]: label(board, e["name"]) for e in board.models}
    synthetic = bool(board.data.get("synthetic"))
    banner = (
        "<p class='banner' id='synthetic'>Synthetic data: these numbers come from a generated "
        "corpus, not the real Million Playlist Dataset, and say nothing about real-data "
        "performance.</p>"
        if synthetic
        else ""
    )
    cats = "".join(f"<h3>{_e(m.label)}</h3>{_category_html(labels, cells, m)}" for m in PLOTTED)
    note_items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    notes_html = f"<h2>Notes</h2><ul id='notes'>{note_items}</ul>" if notes else ""
    title = f"mpd-harness report: {board.data.get('name')}"
    unfinished = (
        f"<p class='banner' id='unfinished'>{_e(unfinished_note(board.missing))}</p>"
        if board.missing
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="{GENERATOR} {__version__}"><title>{_e(title)}</title>
<style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
{banner}
<p>{_e(caption(board))}</p>
{unfinished}
<h2>Leaderboard</h2>
<p class="note">Each cell: mean [{CONFIDENCE:.0%} CI]; green: the best model of the column;
light green '≈ best': no significant difference from the best; 'differs': significantly
different. {_e(legend(board))}.</p>
{_leaderboard_html(board, cells)}
<h3>Metric variants</h3>
{_variants_html(labels, cells)}
<p class="note">{_e(METHOD_NOTE)} Per category, the best model and the correction are per
category and metric.</p>
<h2>Per challenge category</h2>
{cats}
<h2>Plots</h2>
{"".join(_figure(p) for p in plots)}
{notes_html}
</body></html>
"""


# ---------------------------------------------------------------------------- building


@dataclass
class Report:
    """What `build_report` computed: the HTML, the plots, and notes on what is missing."""

    html: str
    plots: list[Plot]
    table: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def build_report(run_dir: str | Path, *, reporter: Reporter = SILENT) -> Report:
    """Leaderboard, confidence table, plots and HTML of a run folder (nothing written).

    The slow steps (bootstrap and tests, plots, recall curves) are reported through `reporter`.
    """
    run_dir = Path(run_dir)
    board = build(run_dir, reporter=reporter)
    if not board.models:
        raise HarnessError(f"{run_dir}: no complete model run to report on")
    table = board.confidence  # overall and per category, in leaderboard order
    synthetic = bool(board.data.get("synthetic"))
    plots: list[Plot] = []
    with reporter.step("plots", total=len(PLOTTED)) as advance:
        for m in PLOTTED:
            plots.append(category_plot(table, m.name, m.label, synthetic=synthetic))
            advance(1)
    curves, notes = _recall_curves(run_dir, board, reporter)
    if curves:
        plots.append(recall_plot(curves, synthetic=synthetic))
    if board.skipped:
        notes.append(f"left out (other data or split): {', '.join(board.skipped)}")
    if board.missing:
        notes.append(unfinished_note(board.missing))
    return Report(render_html(board, table, plots, notes), plots, table, notes)


def _recall_curves(
    run_dir: Path, board: Leaderboard, reporter: Reporter
) -> tuple[dict[str, FloatArray], list[str]]:
    """Each model's mean recall curve from its submission, and a note for each model without."""
    truth = read_ground_truth(resolve_split_dir(run_dir, board.split))
    curves: dict[str, FloatArray] = {}
    notes: list[str] = []
    with reporter.step("recall curves", total=len(board.models)) as advance:
        for e in board.models:
            sub = e.get("submission")
            if sub is None or not (run_dir / sub).is_file():
                why = "no submission was written (k != 500)" if sub is None else f"{sub} not found"
                notes.append(f"{e['name']}: no recall curve: {why}")
            else:
                cols = board.per_playlist[e["name"]]
                rpt = dict(
                    zip(cols["pid"].tolist(), cols["r_precision_track"].tolist(), strict=True)
                )
                try:
                    curves[e["name"]] = model_curve(run_dir / sub, truth, rpt)
                except HarnessError as err:
                    if not e.get("external"):
                        raise  # our own submission: a stale one stops the report
                    # a file from elsewhere may have changed or be forced through
                    notes.append(f"{e['name']} (external): no recall curve: {err}")
            advance(1)
    return curves, notes


def write_report(report: Report, out: Path, plots_dir: Path) -> None:
    """The HTML at `out` and each plot as `plots_dir/<name>` (atomic writes)."""
    for plot in report.plots:
        with atomic_path(plots_dir / plot.name) as tmp:
            tmp.write_bytes(plot.png)
    with atomic_open(out) as f:
        f.write(report.html)
