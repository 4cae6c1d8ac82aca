"""Leaderboard of a run folder: Rich tables, `leaderboard.json`, `.md` and `.csv`, from files only.

Reads `RUN_DIR/run.json` (data and split of the run) and each `RUN_DIR/<model>/manifest.json` +
`metrics.parquet`; never retrains. Models whose run was made on other data or another split are
left out (and named). Rendering is pure (`render` builds tables); printing happens in `run`.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich import box
from rich.table import Table

from harness.atomic import atomic_open, write_json
from harness.cli.console import table_console
from harness.errors import HarnessError
from harness.report.significance import format_p
from harness.run.rundir import model_metrics, model_runs, read_run

METRIC_NAMES = ("r_precision", "r_precision_track", "ndcg", "ndcg_rules", "clicks")
# the three leaderboard metrics of the challenge, and whether higher is better
RANKED = (("r_precision", "R-precision", True), ("ndcg", "NDCG", True), ("clicks", "clicks", False))
LEGEND = (
    "Borda: rank (points) over R-precision, NDCG and clicks (lower is better); seedless: who "
    "answers the title-only queries, the model itself (own) or the shared title baseline (title)"
)
CATEGORY_NAMES = {
    1: "title only",
    2: "title + first 1",
    3: "title + first 5",
    4: "first 5, no title",
    5: "title + first 10",
    6: "first 10, no title",
    7: "title + first 25",
    8: "title + random 25",
    9: "title + first 100",
    10: "title + random 100",
}


@dataclass
class Leaderboard:
    """The JSON document (`data`, `split`, `models`) plus what the tables show besides it."""

    data: dict[str, Any]
    split: dict[str, Any]
    models: list[dict[str, Any]]  # exactly the leaderboard.json entries, best Borda rank first
    borda: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (points, rank)
    cold_start: dict[str, str] = field(default_factory=dict)  # name -> "model" | "title"
    backfilled: dict[str, int] = field(default_factory=dict)  # name -> backfilled slots
    skipped: list[str] = field(default_factory=list)  # model folders left out, with the reason

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "split": self.split, "models": self.models}


# ---------------------------------------------------------------------------- building


def build(run_dir: Path) -> Leaderboard:
    """Aggregate every complete model run of `run_dir` that matches its data and split."""
    from harness.challenge.scoring import aggregate, borda

    run_dir = Path(run_dir)
    run = read_run(run_dir, "leaderboard")
    data, split = run["data"], run["split"]
    board = Leaderboard(data=data, split=split, models=[])
    for d, m in model_runs(run_dir):
        if m.get("mode") != "split":
            board.skipped.append(f"{d.name} (a challenge-set run)")
            continue
        if m.get("data", {}).get("fingerprint") != data.get("fingerprint"):
            board.skipped.append(f"{d.name} (other data)")
            continue
        if m.get("split", {}).get("fingerprint") != split.get("fingerprint"):
            board.skipped.append(f"{d.name} (another split)")
            continue
        metrics_path = d / "metrics.parquet"
        cols = model_metrics(d)
        if len(cols["pid"]) != split.get("n_queries"):
            raise HarnessError(
                f"{metrics_path}: {len(cols['pid'])} playlists, the split has {split['n_queries']}"
            )
        per_playlist = {name: cols[name] for name in METRIC_NAMES}
        agg = aggregate(per_playlist, cols["category"], np.zeros(len(cols["pid"]), dtype=bool))
        sub = m.get("submission")
        board.models.append(
            {
                "name": m["model"],
                "params": m["params"],
                "overall": agg["overall"],
                "categories": agg["categories"],
                "fit_s": m["fit_s"],
                "recommend_s": m["recommend_s"],
                "peak_rss_mb": m["peak_rss_mb"],
                # relative to RUN_DIR (the manifest stores it relative to the model folder)
                "submission": os.path.normpath(Path(d.name) / sub) if sub is not None else None,
            }
        )
        board.cold_start[m["model"]] = m.get("cold_start", "model")
        board.backfilled[m["model"]] = int(m.get("backfill", {}).get("slots", 0))
    if board.models:
        ranking = borda({e["name"]: e["overall"] for e in board.models})
        board.borda = {name: (int(points), int(rank)) for name, points, rank in ranking}
        board.models.sort(key=lambda e: (board.borda[e["name"]][1], e["name"]))
        _add_confidence(board, run_dir)
    return board


def _add_confidence(board: Leaderboard, run_dir: Path) -> None:
    """Per model, the 95% bootstrap CI of each metric and a paired test against the best.

    From the per-playlist values (harness.report.html.confidence_table: seeded bootstrap, Wilcoxon
    signed-rank, Holm correction across models); stored under "ci" in leaderboard.json.
    """
    from harness.report.html import confidence_table

    table = confidence_table(run_dir, models=[e["name"] for e in board.models])["models"]
    keep = ("mean", "lo", "hi", "best", "p", "p_holm", "significant")
    for e in board.models:
        cells = table.get(e["name"], {}).get("overall", {})
        e["ci"] = {m: {k: c[k] for k in keep if k in c} for m, c in cells.items()}


def _vs_best(e: dict[str, Any]) -> str:
    """R-precision against the best model: best, ≈ (not significant) or lower (significant)."""
    c = e.get("ci", {}).get("r_precision")
    if not c:
        return ""
    if c.get("best") == e["name"]:
        return "best"
    return f"{'lower' if c['significant'] else '≈ best'} ({format_p(c['p_holm'])})"


# ---------------------------------------------------------------------------- rendering


def _best(values: list[float], higher: bool) -> float | None:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None
    return max(finite) if higher else min(finite)


def caption(board: Leaderboard) -> str:
    """One line naming the data (synthetic or not), the split seed and its size."""
    d, s = board.data, board.split
    n_pl = d.get("n_playlists")
    size = f"{n_pl:,} playlists" if isinstance(n_pl, int) else "playlists: ?"
    if d.get("synthetic"):
        what = f"synthetic data {d.get('name')} ({size}; not the real MPD)"
    else:
        what = f"MPD {d.get('name')} ({size})"
    n_q = s.get("n_queries")
    per = s.get("per_category")
    per_txt = f", {per} per category" if per is not None else ""
    skipped = f"; left out: {', '.join(board.skipped)}" if board.skipped else ""
    cover = ""
    if s.get("not_in_train"):
        cover = (
            f", {s['not_in_train']:,} test tracks absent from training "
            f"(coverage {s.get('coverage')})"
        )
    return f"{what} · split seed {s.get('seed')}, {n_q:,} test playlists{per_txt}{cover}{skipped}"


def _seedless(board: Leaderboard, name: str) -> str:
    return "title" if board.cold_start.get(name) == "title" else "own"


def _fmt(metric: str, v: float) -> str:
    return f"{v:.3f}" if metric == "clicks" else f"{v:.4f}"


def _rows(board: Leaderboard) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and cells (text, is_best) of the overall table, shared by Rich and Markdown."""
    header = ["Borda", "model", *(label for _, label, _ in RANKED)]
    header += ["R-prec 95% CI", "vs best", "fit s", "rec s", "peak MB", "seedless"]
    best = {
        metric: _best([e["overall"][metric] for e in board.models], higher)
        for metric, _, higher in RANKED
    }
    rows = []
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        row = [(f"{rank} ({points})", False), (name, False)]
        row += [
            (_fmt(metric, e["overall"][metric]), e["overall"][metric] == best[metric])
            for metric, _, _ in RANKED
        ]
        ci = e.get("ci", {}).get("r_precision", {})
        row += [
            (f"[{ci['lo']:.4f}, {ci['hi']:.4f}]" if ci else "", False),
            (_vs_best(e), False),
            (f"{e['fit_s']:.1f}", False),
            (f"{e['recommend_s']:.1f}", False),
            (f"{e['peak_rss_mb']:,.0f}", False),
            (_seedless(board, name), False),
        ]
        rows.append(row)
    return header, rows


def _category_rows(board: Leaderboard) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Categories × models' R-precision (best per category marked)."""
    names = [e["name"] for e in board.models]
    header = ["category", "n", *names]
    cats = sorted({int(c) for e in board.models for c in e["categories"]})
    rows = []
    for c in cats:
        vals = [e["categories"].get(str(c), {}).get("r_precision") for e in board.models]
        best = _best(vals, higher=True)
        n = next(
            (e["categories"][str(c)].get("n") for e in board.models if str(c) in e["categories"]),
            None,
        )
        row = [(f"{c}: {CATEGORY_NAMES.get(c, '?')}", False), (str(n), False)]
        row += [("-", False) if v is None else (f"{v:.4f}", v == best) for v in vals]
        rows.append(row)
    return header, rows


def _width(header: str, rows: list[list[tuple[str, bool]]], i: int) -> int:
    """The widest cell of column `i`, header included: numbers are never cut."""
    return max([len(header), *(len(r[i][0]) for r in rows)])


def render(board: Leaderboard) -> list[Table]:
    """The overall table and the per-category R-precision table (pure: nothing is printed)."""
    header, rows = _rows(board)
    overall = Table(
        title="Leaderboard (best in bold)",
        caption=f"{caption(board)}\n{LEGEND}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, h in enumerate(header):
        left = i in (1, len(header) - 1)
        overall.add_column(
            h, justify="left" if left else "right", no_wrap=True, min_width=_width(h, rows, i)
        )
    for row in rows:
        overall.add_row(*(f"[bold green]{t}[/]" if best else t for t, best in row))
    c_header, c_rows = _category_rows(board)
    per_cat = Table(
        title="R-precision per challenge category",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for i, h in enumerate(c_header):
        if i == 0:  # the descriptions may wrap; the numbers may not
            per_cat.add_column(h, justify="left", min_width=12)
        else:
            per_cat.add_column(h, justify="right", no_wrap=True, min_width=_width(h, c_rows, i))
    for row in c_rows:
        per_cat.add_row(*(f"[bold green]{t}[/]" if best else t for t, best in row))
    return [overall, per_cat]


def _md_table(header: list[str], rows: list[list[tuple[str, bool]]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(f"**{t}**" if best else t for t, best in row) + " |")
    return "\n".join(lines)


def to_markdown(board: Leaderboard) -> str:
    header, rows = _rows(board)
    c_header, c_rows = _category_rows(board)
    return (
        "# Leaderboard\n\n"
        f"{caption(board)}. Best value of each column in bold. {LEGEND}.\n\n"
        f"{_md_table(header, rows)}\n\n"
        "## R-precision per challenge category\n\n"
        f"{_md_table(c_header, c_rows)}\n"
    )


def to_csv(board: Leaderboard) -> str:
    """One row per model: the overall metrics, Borda, costs and per-category R-precision."""
    import orjson

    cats = [str(c) for c in range(1, 11)]
    header = ["model", "borda_rank", "borda_points", *METRIC_NAMES, "n", "missing"]
    header += ["fit_s", "recommend_s", "peak_rss_mb", "cold_start", "backfilled", "submission"]
    header += [f"r_precision_cat{c}" for c in cats] + ["params", "synthetic"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        o = e["overall"]
        row: list[Any] = [name, rank, points, *(o[m] for m in METRIC_NAMES), o["n"], o["missing"]]
        row += [e["fit_s"], e["recommend_s"], e["peak_rss_mb"], board.cold_start.get(name)]
        row += [board.backfilled.get(name, 0), e["submission"]]
        row += [e["categories"].get(c, {}).get("r_precision", "") for c in cats]
        row.append(orjson.dumps(e["params"], option=orjson.OPT_SORT_KEYS).decode())
        row.append("true" if board.data.get("synthetic") else "false")
        w.writerow(row)
    return buf.getvalue()


def write(board: Leaderboard, run_dir: Path) -> None:
    """`leaderboard.json`, `leaderboard.md` and `leaderboard.csv` in `run_dir` (atomic)."""
    write_json(Path(run_dir) / "leaderboard.json", board.to_json())
    with atomic_open(Path(run_dir) / "leaderboard.md") as f:
        f.write(to_markdown(board))
    with atomic_open(Path(run_dir) / "leaderboard.csv") as f:
        f.write(to_csv(board))


# ---------------------------------------------------------------------------- command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder written by evaluate")
    parser.add_argument(
        "--no-write", action="store_true", help="only print; do not rewrite leaderboard.*"
    )


def run(args: argparse.Namespace) -> int:
    board = build(args.run_dir)
    if not board.models:
        raise HarnessError(f"{args.run_dir}: no complete model run to rank")
    if not args.no_write:
        write(board, args.run_dir)
    console = table_console()
    for table in render(board):
        console.print(table)
    return 0
