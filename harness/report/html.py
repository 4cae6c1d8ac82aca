"""The run report: confidence intervals, paired tests against the best model, plots, one HTML file.

`confidence_table(run_dir)` is pure (files in, dict out): for every model of a run, overall and per
challenge category, each metric's mean with a 95% percentile-bootstrap CI, and a two-sided
Wilcoxon signed-rank test against the best model of that slice and metric over the same playlists
(paired by pid), Holm-corrected across the models of that slice and metric
(`harness.report.significance`).

`mpd-harness report RUN_DIR` writes `RUN_DIR/report.html` (self-contained: inline CSS, plots as
base64 PNG, no script, no network) and the same plots as `RUN_DIR/plots/*.png`:
- `category_<metric>.png` for R-precision, NDCG and clicks: bars per category and model, with
  CI whiskers;
- `recall_curve.png`: mean over test playlists of the fraction of its held-out tracks (as a set)
  found within the first d recommendations, d = 1..500. It is computed from each model's
  challenge-format submission (URIs, named in the leaderboard) against the split's
  `ground_truth.json`, so no corpus is loaded; at depth |G| it must equal the stored
  `r_precision_track` of every playlist, which is checked. A model without a submission (runs with
  k != 500) has no curve, and the report says so.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from harness.atomic import atomic_open, atomic_path, read_json
from harness.challenge.metrics import HIGHER_IS_BETTER, METRICS
from harness.errors import HarnessError, UsageError
from harness.report.significance import bootstrap_ci, compare_to_best, format_p
from harness.run.rundir import model_metrics, model_runs, read_run, resolve_split_dir

if TYPE_CHECKING:
    from harness.report.leaderboard import Leaderboard

CONFIDENCE = 0.95
N_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
ALPHA = 0.05
DEPTH = 500  # recommendations per playlist in the challenge
PLOTTED = (("r_precision", "R-precision"), ("ndcg", "NDCG"), ("clicks", "clicks"))
SYNTHETIC_TAG = "\n(SYNTHETIC data, not the real MPD)"  # on every plot of a synthetic run
VARIANTS = (("r_precision_track", "R-precision (tracks only)"), ("ndcg_rules", "NDCG (rules text)"))
METHOD_NOTE = (
    f"Intervals: {CONFIDENCE:.0%} percentile bootstrap of the mean ({N_RESAMPLES} resamples of the "
    f"test playlists, seed {BOOTSTRAP_SEED}). Tests: each model against the best one of the same "
    "metric (and category), two-sided Wilcoxon signed-rank over the same playlists paired by pid; "
    f"p-values Holm-corrected across the models compared; 'differs' when p_holm < {ALPHA}."
)

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------- statistics


def _summary(
    per_model: Mapping[str, FloatArray], metric: str, mask: NDArray[np.bool_]
) -> dict[str, dict[str, Any]]:
    """{model: {mean, lo, hi, n, best, p, p_holm, significant}} for one metric on one slice."""
    values = {m: v[mask] for m, v in per_model.items()}
    tests = compare_to_best(values, higher_is_better=HIGHER_IS_BETTER[metric])
    out: dict[str, dict[str, Any]] = {}
    for m, v in values.items():
        lo, hi = bootstrap_ci(
            v, confidence=CONFIDENCE, n_resamples=N_RESAMPLES, seed=BOOTSTRAP_SEED
        )
        out[m] = {"mean": float(np.mean(v)), "lo": lo, "hi": hi, "n": int(len(v)), **tests[m]}
    return out


def confidence_from_values(
    per_model: Mapping[str, Mapping[str, NDArray[Any]]], metrics: Sequence[str] = METRICS
) -> dict[str, Any]:
    """The confidence table from per-playlist columns already in memory.

    per_model: model -> {"pid": (n,), "category": (n,), metric: (n,) ...}. Rows are paired by
    pid (any row order); every model must hold the same pids.

    Returns ``{"method": {...}, "models": {model: {"overall": {metric: cell},
    "categories": {"1": {metric: cell}, ...}}}}`` with cell = ``{"mean", "lo", "hi", "n",
    "best", "p", "p_holm", "significant"}``; `best` names the best model of that slice and metric.
    """
    if not per_model:
        return {"method": _method(), "models": {}}
    aligned = _align(per_model)
    first_name, first = next(iter(aligned.items()))
    cats = np.asarray(first["category"]).astype(np.int64)
    for name, cols in aligned.items():
        other = np.asarray(cols["category"]).astype(np.int64)
        if not np.array_equal(other, cats):
            pid = first["pid"][np.flatnonzero(other != cats)[0]]
            raise HarnessError(
                f"models {name!r} and {first_name!r} disagree on the category of pid {pid}"
            )
    slices: list[tuple[str | None, NDArray[np.bool_]]] = [(None, np.ones(len(cats), dtype=bool))]
    slices += [(str(c), cats == c) for c in np.unique(cats) if 1 <= c <= 10]
    models: dict[str, Any] = {m: {"overall": {}, "categories": {}} for m in aligned}
    for metric in metrics:
        cols = {m: np.asarray(v[metric], dtype=np.float64) for m, v in aligned.items()}
        for cat, mask in slices:
            for m, cell in _summary(cols, metric, mask).items():
                if cat is None:
                    models[m]["overall"][metric] = cell
                else:
                    models[m]["categories"].setdefault(cat, {})[metric] = cell
    return {"method": _method(), "models": models}


def _method() -> dict[str, Any]:
    return {
        "confidence": CONFIDENCE,
        "n_resamples": N_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "interval": "percentile bootstrap of the mean",
        "test": "Wilcoxon signed-rank, two-sided, paired by pid, vs the best model",
        "correction": "Holm across the models compared (per metric and slice)",
        "alpha": ALPHA,
        "note": METHOD_NOTE,
    }


def _align(
    per_model: Mapping[str, Mapping[str, NDArray[Any]]],
) -> dict[str, dict[str, NDArray[Any]]]:
    """Every model's columns sorted by pid; raise unless all models hold the same pids."""
    out: dict[str, dict[str, NDArray[Any]]] = {}
    ref_name, ref_pids = "", np.zeros(0, dtype=np.int64)
    for name, cols in per_model.items():
        pids = np.asarray(cols["pid"], dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        sorted_pids = pids[order]
        if len(sorted_pids) > 1 and (sorted_pids[1:] == sorted_pids[:-1]).any():
            dup = sorted_pids[1:][sorted_pids[1:] == sorted_pids[:-1]][0]
            raise HarnessError(f"model {name!r}: pid {dup} appears twice in its metrics")
        if not out:
            ref_name, ref_pids = name, sorted_pids
        elif not np.array_equal(sorted_pids, ref_pids):
            extra = np.setdiff1d(sorted_pids, ref_pids)
            lack = np.setdiff1d(ref_pids, sorted_pids)
            what = f"pid {extra[0]} not in" if len(extra) else f"pid {lack[0]} missing, it is in"
            raise HarnessError(
                f"models {name!r} and {ref_name!r} were scored on different playlists "
                f"({what} {ref_name!r}); paired tests need the same playlists"
            )
        out[name] = {k: np.asarray(v)[order] for k, v in cols.items()}
    return out


def load_run_metrics(
    run_dir: str | Path, models: Iterable[str] | None = None
) -> dict[str, dict[str, NDArray[Any]]]:
    """Per-playlist metrics of each model run in `run_dir` made on the run's data and split.

    `models`: only these (e.g. the leaderboard's), in this order; all matching runs by default.
    """
    run_dir = Path(run_dir)
    run = read_run(run_dir, "statistics")
    data_fp = run.get("data", {}).get("fingerprint")
    split_fp = run.get("split", {}).get("fingerprint")
    found: dict[str, dict[str, NDArray[Any]]] = {}
    for d, m in model_runs(run_dir):
        same = (
            m.get("mode") == "split"
            and m.get("data", {}).get("fingerprint") == data_fp
            and m.get("split", {}).get("fingerprint") == split_fp
        )
        if not same:
            continue
        found[str(m["model"])] = model_metrics(d)
    if models is None:
        return found
    wanted = list(models)
    lacking = [m for m in wanted if m not in found]
    if lacking:
        raise HarnessError(
            f"{run_dir}: no complete run on this data and split for {', '.join(lacking)}"
        )
    return {m: found[m] for m in wanted}


def confidence_table(run_dir: str | Path, models: Iterable[str] | None = None) -> dict[str, Any]:
    """CIs and significance vs the best model for every model run of `run_dir` (files only).

    See `confidence_from_values` for the layout. Reads `run.json` and each model's
    `manifest.json` + `metrics.parquet`; models made on other data or another split are left out,
    as in the leaderboard.
    """
    return confidence_from_values(load_run_metrics(run_dir, models))


# ---------------------------------------------------------------------------- recall curve


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


# ---------------------------------------------------------------------------- plots


@dataclass
class Plot:
    """One figure: file name, caption, and PNG bytes."""

    name: str
    caption: str
    png: bytes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # no Software/date metadata: equal inputs give equal bytes
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def category_plot(
    table: Mapping[str, Any], metric: str, label: str, *, synthetic: bool = False
) -> Plot:
    """Grouped bars (category × model) of one metric's mean, with the CI as whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(table["models"])
    cats = sorted({int(c) for m in names for c in table["models"][m]["categories"]})
    groups = [*(str(c) for c in cats), "all"]
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(11, 4.2))
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
    ax.set_xticks(x, [f"cat {g}" if g != "all" else "all" for g in groups])
    better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    ax.set_ylabel(f"{label} ({better} is better)")
    ax.set_title(
        f"{label} per challenge category, mean with {CONFIDENCE:.0%} bootstrap CI"
        + (SYNTHETIC_TAG if synthetic else "")
    )
    ax.legend(fontsize="small", ncols=min(len(names), 6))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    caption = f"{label} per category (whiskers: {CONFIDENCE:.0%} bootstrap CI; 'all': overall)."
    return Plot(f"category_{metric}.png", caption, png)


def recall_plot(curves: Mapping[str, FloatArray], *, synthetic: bool = False) -> Plot:
    """Mean fraction of held-out tracks found vs list depth, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


# ---------------------------------------------------------------------------- HTML

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


def _fmt(metric: str, v: float) -> str:
    return f"{v:.3f}" if metric == "clicks" else f"{v:.4f}"


def _cell(metric: str, cell: Mapping[str, Any] | None) -> str:
    """`<td>` with `mean [lo, hi]` and whether it is the best, ≈ best, or differs."""
    if not cell:
        return "<td>-</td>"
    text = (
        f"{_fmt(metric, cell['mean'])} <span class='ci'>[{_fmt(metric, cell['lo'])}, "
        f"{_fmt(metric, cell['hi'])}]</span>"
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
    head = ["Borda", "model", *(label for _, label in PLOTTED), "fit s", "rec s", "peak MB"]
    rows = []
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        tds = [f"<td>{rank} ({points})</td>", f"<td class='name'>{_e(name)}</td>"]
        tds += [_cell(metric, cells[name]["overall"].get(metric)) for metric, _ in PLOTTED]
        tds += [
            f"<td>{e['fit_s']:.1f}</td>",
            f"<td>{e['recommend_s']:.1f}</td>",
            f"<td>{e['peak_rss_mb']:,.0f}</td>",
        ]
        rows.append("<tr>" + "".join(tds) + "</tr>")
    ths = "".join(
        f"<th class='name'>{_e(h)}</th>" if h == "model" else f"<th>{_e(h)}</th>" for h in head
    )
    body = "".join(rows)
    return f"<table id='leaderboard'><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _variants_html(names: Sequence[str], cells: Mapping[str, Any]) -> str:
    ths = "<th class='name'>model</th>" + "".join(f"<th>{_e(lab)}</th>" for _, lab in VARIANTS)
    rows = []
    for name in names:
        tds = "".join(_cell(m, cells[name]["overall"].get(m)) for m, _ in VARIANTS)
        rows.append(f"<tr><td class='name'>{_e(name)}</td>{tds}</tr>")
    body = "".join(rows)
    return f"<table id='variants'><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _category_html(names: Sequence[str], cells: Mapping[str, Any], metric: str) -> str:
    from harness.report.leaderboard import CATEGORY_NAMES

    cats = sorted({int(c) for n in names for c in cells[n]["categories"]})
    ths = "<th class='name'>category</th><th>n</th>" + "".join(f"<th>{_e(n)}</th>" for n in names)
    rows = []
    for c in cats:
        got = [cells[n]["categories"].get(str(c), {}).get(metric) for n in names]
        n = next((g["n"] for g in got if g), "-")
        tds = "".join(_cell(metric, g) for g in got)
        label = f"{c}: {CATEGORY_NAMES.get(c, '?')}"
        rows.append(f"<tr><td class='name'>{_e(label)}</td><td>{n}</td>{tds}</tr>")
    return (
        f"<table id='categories-{metric}' class='categories'><thead><tr>{ths}</tr></thead>"
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
    from harness.report.leaderboard import LEGEND, caption

    cells = _with_names(table)
    names = [e["name"] for e in board.models]
    synthetic = bool(board.data.get("synthetic"))
    banner = (
        "<p class='banner' id='synthetic'>Synthetic data: these numbers come from a generated "
        "corpus, not the real Million Playlist Dataset, and say nothing about real-data "
        "performance.</p>"
        if synthetic
        else ""
    )
    cats = "".join(
        f"<h3>{_e(label)}</h3>{_category_html(names, cells, metric)}" for metric, label in PLOTTED
    )
    note_items = "".join(f"<li>{_e(n)}</li>" for n in notes)
    notes_html = f"<h2>Notes</h2><ul id='notes'>{note_items}</ul>" if notes else ""
    title = f"mpd-harness report: {board.data.get('name')}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
{banner}
<p>{_e(caption(board))}</p>
<h2>Leaderboard</h2>
<p class="note">Each cell: mean [{CONFIDENCE:.0%} CI]; green: the best model of the column;
light green '≈ best': no significant difference from the best; 'differs': significantly
different. {_e(LEGEND)}.</p>
{_leaderboard_html(board, cells)}
<h3>Metric variants</h3>
{_variants_html(names, cells)}
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


def build_report(run_dir: str | Path) -> Report:
    """Leaderboard, confidence table, plots and HTML of a run folder (nothing written)."""
    from harness.report.leaderboard import build

    run_dir = Path(run_dir)
    board = build(run_dir)
    if not board.models:
        raise HarnessError(f"{run_dir}: no complete model run to report on")
    names = [e["name"] for e in board.models]
    metrics = load_run_metrics(run_dir, names)
    table = confidence_from_values(metrics)
    synthetic = bool(board.data.get("synthetic"))
    plots = [category_plot(table, metric, label, synthetic=synthetic) for metric, label in PLOTTED]
    notes: list[str] = []
    truth = read_ground_truth(resolve_split_dir(run_dir, board.split))
    curves: dict[str, FloatArray] = {}
    for e in board.models:
        sub = e.get("submission")
        if sub is None or not (run_dir / sub).is_file():
            why = "no submission was written (k != 500)" if sub is None else f"{sub} not found"
            notes.append(f"{e['name']}: no recall curve: {why}")
            continue
        cols = metrics[e["name"]]
        rpt = dict(zip(cols["pid"].tolist(), cols["r_precision_track"].tolist(), strict=True))
        curves[e["name"]] = model_curve(run_dir / sub, truth, rpt)
    if curves:
        plots.append(recall_plot(curves, synthetic=synthetic))
    if board.skipped:
        notes.append(f"left out (other data or split): {', '.join(board.skipped)}")
    return Report(render_html(board, table, plots, notes), plots, table, notes)


def write_report(report: Report, out: Path, plots_dir: Path) -> None:
    """The HTML at `out` and each plot as `plots_dir/<name>` (atomic writes)."""
    for plot in report.plots:
        with atomic_path(plots_dir / plot.name) as tmp:
            tmp.write_bytes(plot.png)
    with atomic_open(out) as f:
        f.write(report.html)


# ---------------------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder written by evaluate")
    parser.add_argument(
        "--out", type=Path, metavar="PATH", help="HTML file to write (default RUN_DIR/report.html)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such folder")
    out = Path(args.out) if args.out is not None else run_dir / "report.html"
    if out.is_dir():
        raise UsageError(
            f"--out {out}: a folder; give the HTML file's name, e.g. {out}/report.html"
        )
    report = build_report(run_dir)
    write_report(report, out, run_dir / "plots")
    console = Console()
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"report: {out} (plots in {run_dir / 'plots'})", highlight=False)
    return 0
