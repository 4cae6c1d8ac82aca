"""Leaderboard of a run folder: Rich tables, `leaderboard.json`, `.md` and `.csv`, from files only.

Reads `RUN_DIR/run.json` (data and split of the run) and each `RUN_DIR/<model>/manifest.json` +
`metrics.parquet` (through `harness.run.rundir`); never retrains. Models whose run was made on other
data or another split are left out (and named). External submissions stored in the run folder
(`harness.run.external`) are rows like the models', marked `(external)` in the tables and
`"external": true` in their leaderboard.json entry, with empty costs. Models that `run.json` says
were requested but have no complete run yet are named in `Leaderboard.missing`. Which metrics are
ranked, and their labels, come from the metric registry (`harness.challenge.metrics.REGISTRY`).
Rendering is pure (`render` builds tables); the `leaderboard` command
(`harness/cli/leaderboard.py`) prints them.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich import box
from rich.table import Table

from harness.atomic import atomic_open, write_json
from harness.challenge.categories import CATEGORIES
from harness.challenge.metrics import BY_NAME, METRICS, RANKED, Metric
from harness.errors import HarnessError
from harness.progress import SILENT, Reporter
from harness.report.confidence import Columns, confidence_from_values
from harness.report.significance import format_p
from harness.run.rundir import (
    check_current,
    is_external,
    model_metrics,
    model_runs,
    read_run,
    unfinished_models,
)

if TYPE_CHECKING:
    import pandas as pd

HEADLINE = BY_NAME["r_precision"]  # the CI column, "vs best" and the per-category table


def _ranked_text() -> str:
    """`R-precision, NDCG and clicks (lower is better)`: the ranked metrics, from the registry."""
    labels = [m.label + ("" if m.higher_is_better else " (lower is better)") for m in RANKED]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


LEGEND = (
    f"Borda: rank (points) over {_ranked_text()}; vs best: R-precision against the best model, "
    "'≈ best' no significant difference, 'differs' significantly below (Holm-corrected "
    "Wilcoxon, as in the report); seedless: who answers the title-only queries, the model itself "
    "(own) or the shared title baseline (title)"
)
CATEGORY_NAMES = {n: c.name for n, c in CATEGORIES.items()}  # as plots name them


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
    external: list[str] = field(default_factory=list)  # names of the external submissions
    # models run.json says were requested but without a complete run on this data and split
    missing: list[str] = field(default_factory=list)
    # the full confidence table (harness.report.confidence; overall and per category) and the
    # per-playlist columns it came from, in leaderboard order: the HTML report reuses both
    confidence: dict[str, Any] = field(default_factory=dict, repr=False)
    per_playlist: dict[str, Columns] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """leaderboard.json: data, split, models, and what each metric key means."""
        from harness.challenge.metrics import metric_definitions

        doc = {"data": self.data, "split": self.split, "models": self.models}
        return doc | {"metric_definitions": metric_definitions()}

    def to_pandas(self) -> pd.DataFrame:
        """One row per model, best Borda rank first: overall metrics, CI bounds, fit seconds.

        Columns: ``name``, ``borda_rank``, ``borda_points``, the overall mean of each metric of
        the registry (``r_precision``, ``r_precision_track``, ``ndcg``, ``ndcg_rules``,
        ``clicks``), ``n`` (test playlists) and ``missing``, the 95% bootstrap interval of each
        metric the leaderboard computed one for (``<metric>_lo``, ``<metric>_hi``; all of them
        after `build`), ``fit_s``, ``recommend_s``, ``peak_rss_mb``, ``cold_start`` ("model" or
        "title"), ``backfilled`` (slots filled with popular tracks), ``synthetic`` (bool: the
        run's data is synthetic, not the real MPD) and ``external`` (bool: an external
        submission, whose costs and ``cold_start`` are empty).
        """
        import pandas as pd

        ci_metrics = [m for m in METRICS if any(m in e.get("ci", {}) for e in self.models)]
        rows = []
        for e in self.models:
            points, rank = self.borda.get(e["name"], (0, 0))
            row: dict[str, Any] = {"name": e["name"], "borda_rank": rank, "borda_points": points}
            row.update({m: e["overall"].get(m, np.nan) for m in METRICS})
            row.update({k: e["overall"].get(k) for k in ("n", "missing")})
            for m in ci_metrics:
                ci = e.get("ci", {}).get(m, {})
                row[f"{m}_lo"], row[f"{m}_hi"] = ci.get("lo", np.nan), ci.get("hi", np.nan)
            row.update({k: e.get(k) for k in ("fit_s", "recommend_s", "peak_rss_mb")})
            external = e["name"] in self.external
            row["cold_start"] = None if external else self.cold_start.get(e["name"], "model")
            row["backfilled"] = self.backfilled.get(e["name"], 0)
            row["synthetic"] = bool(self.data.get("synthetic"))
            row["external"] = external
            rows.append(row)
        columns = ["name", "borda_rank", "borda_points", *METRICS, "n", "missing"]
        columns += [f"{m}_{b}" for m in ci_metrics for b in ("lo", "hi")]
        columns += ["fit_s", "recommend_s", "peak_rss_mb", "cold_start", "backfilled", "synthetic"]
        columns.append("external")
        return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------- building


def build(run_dir: Path, *, reporter: Reporter = SILENT) -> Leaderboard:
    """Aggregate every complete model run (and external submission) of `run_dir` that matches
    its data and split; name the requested models that have none (`missing`)."""
    from harness.challenge.scoring import borda

    run_dir = Path(run_dir)
    run = read_run(run_dir, "leaderboard")
    data, split = run["data"], run["split"]
    board = Leaderboard(data=data, split=split, models=[])
    for d, m in model_runs(run_dir):
        check_current(d, m)  # fingerprints and file hashes, or a refusal with the reason
        why = _mismatch(m, data, split)
        if why:
            board.skipped.append(f"{d.name} ({why})")
            continue
        cols = model_metrics(d)
        if len(cols["pid"]) != split.get("n_queries"):
            raise HarnessError(
                f"{d / 'metrics.parquet'}: {len(cols['pid'])} playlists, "
                f"the split has {split['n_queries']}"
            )
        board.models.append(_entry(d, m, cols))
        board.per_playlist[m["model"]] = cols
        board.backfilled[m["model"]] = int(m.get("backfill", {}).get("slots", 0))
        if is_external(m):
            board.external.append(m["model"])
        else:
            board.cold_start[m["model"]] = m.get("cold_start", "model")
    board.missing = unfinished_models(run, [e["name"] for e in board.models])
    if board.models:
        ranking = borda(
            {e["name"]: e["overall"] for e in board.models}, metrics=[m.name for m in RANKED]
        )
        board.borda = {name: (int(points), int(rank)) for name, points, rank in ranking}
        board.models.sort(key=lambda e: (board.borda[e["name"]][1], e["name"]))
        board.per_playlist = {e["name"]: board.per_playlist[e["name"]] for e in board.models}
        _add_confidence(board, reporter)
    return board


def _mismatch(manifest: dict[str, Any], data: dict[str, Any], split: dict[str, Any]) -> str:
    """Why a model run does not belong on the run's leaderboard ("" when it does)."""
    if manifest.get("mode") != "split":
        return "a challenge-set run"
    if manifest.get("data", {}).get("fingerprint") != data.get("fingerprint"):
        return "other data"
    if manifest.get("split", {}).get("fingerprint") != split.get("fingerprint"):
        return "another split"
    return ""


def _entry(model_dir: Path, manifest: dict[str, Any], cols: Columns) -> dict[str, Any]:
    """The leaderboard.json entry of one model run: aggregates, parameters, costs, submission."""
    from harness.challenge.scoring import aggregate

    per_playlist = {name: cols[name] for name in METRICS}
    external = is_external(manifest)
    # an external submission's playlists without a line (their values are misses already)
    missing = np.isin(cols["pid"], manifest.get("missing_pids") or [])
    agg = aggregate(per_playlist, cols["category"], missing)
    sub = manifest.get("submission")
    entry = {
        "name": manifest["model"],
        "params": manifest.get("params", {}),
        "overall": agg["overall"],
        "categories": agg["categories"],
        # None for an external submission: the harness did not fit or run it
        "fit_s": manifest.get("fit_s"),
        "recommend_s": manifest.get("recommend_s"),
        "peak_rss_mb": manifest.get("peak_rss_mb"),
        # relative to RUN_DIR (the manifest stores it relative to the model folder)
        "submission": os.path.normpath(Path(model_dir.name) / sub) if sub is not None else None,
    }
    if external:
        entry["external"] = True
    return entry


def _add_confidence(board: Leaderboard, reporter: Reporter) -> None:
    """Per model, the 95% bootstrap CI of each metric and a paired test against the best.

    From the per-playlist values (`harness.report.confidence`: seeded bootstrap, Wilcoxon
    signed-rank, Holm correction across models); the overall cells are stored under "ci" in
    leaderboard.json, the whole table in `board.confidence`.
    """
    board.confidence = confidence_from_values(board.per_playlist, reporter=reporter)
    table = board.confidence["models"]
    keep = ("mean", "lo", "hi", "best", "p", "p_holm", "significant")
    for e in board.models:
        cells = table.get(e["name"], {}).get("overall", {})
        e["ci"] = {m: {k: c[k] for k in keep if k in c} for m, c in cells.items()}


def _vs_best(e: dict[str, Any]) -> str:
    """R-precision against the best model in the report's words: best, ≈ best (no significant
    difference) or differs (significantly below), with the Holm-corrected p-value."""
    c = e.get("ci", {}).get(HEADLINE.name)
    if not c:
        return ""
    if c.get("best") == e["name"]:
        return "best"
    return f"{'differs' if c['significant'] else '≈ best'} ({format_p(c['p_holm'], 'p_holm')})"


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
    if name in board.external:
        return ""  # who answered the title-only queries is not known
    return "title" if board.cold_start.get(name) == "title" else "own"


EXTERNAL_MARK = " (external)"
EXTERNAL_NOTE = (
    "(external): a submission file made elsewhere, verified and scored on this split like the "
    "models; it was not run here, so it has no costs"
)


def legend(board: Leaderboard) -> str:
    """LEGEND, and what `(external)` means where the board has external rows."""
    return f"{LEGEND}; {EXTERNAL_NOTE}" if board.external else LEGEND


def label(board: Leaderboard, name: str) -> str:
    """A row's name in tables: `name (external)` for an external submission."""
    return name + EXTERNAL_MARK if name in board.external else name


def unfinished_note(missing: Sequence[str]) -> str:
    """`not finished: sgns, w2v (...)`: requested models without a complete run."""
    return (
        f"not finished: {', '.join(missing)} (requested for this run, no complete run yet; "
        "the tables leave them out)"
    )


def cost(value: float | None, spec: str) -> str:
    """A cost cell (`fit s`, `rec s`, `peak MB`): empty where there is none (external)."""
    return "" if value is None else format(value, spec)


def _ranked_cell(metric: Metric, value: float, best: float | None) -> tuple[str, bool]:
    return (metric.format(value), value == best)


def _rows(board: Leaderboard) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Header and cells (text, is_best) of the overall table, shared by Rich and Markdown."""
    header = ["Borda", "model", *(m.label for m in RANKED)]
    header += [f"{HEADLINE.short} 95% CI", "vs best", "fit s", "rec s", "peak MB", "seedless"]
    best = {
        m.name: _best([e["overall"][m.name] for e in board.models], m.higher_is_better)
        for m in RANKED
    }
    rows = []
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        row = [(f"{rank} ({points})", False), (label(board, name), False)]
        row += [_ranked_cell(m, e["overall"][m.name], best[m.name]) for m in RANKED]
        ci = e.get("ci", {}).get(HEADLINE.name, {})
        row += [
            (f"[{HEADLINE.format(ci['lo'])}, {HEADLINE.format(ci['hi'])}]" if ci else "", False),
            (_vs_best(e), False),
            (cost(e["fit_s"], ".1f"), False),
            (cost(e["recommend_s"], ".1f"), False),
            (cost(e["peak_rss_mb"], ",.0f"), False),
            (_seedless(board, name), False),
        ]
        rows.append(row)
    return header, rows


def _category_rows(board: Leaderboard) -> tuple[list[str], list[list[tuple[str, bool]]]]:
    """Categories × models' headline metric, R-precision (best per category marked)."""
    header = ["category", "n", *(label(board, e["name"]) for e in board.models)]
    cats = sorted({int(c) for e in board.models for c in e["categories"]})
    rows = []
    for c in cats:
        vals = [e["categories"].get(str(c), {}).get(HEADLINE.name) for e in board.models]
        best = _best(vals, higher=HEADLINE.higher_is_better)
        n = next(
            (e["categories"][str(c)].get("n") for e in board.models if str(c) in e["categories"]),
            None,
        )
        row = [(f"{c}: {CATEGORY_NAMES.get(c, '?')}", False), (str(n), False)]
        row += [("-", False) if v is None else (HEADLINE.format(v), v == best) for v in vals]
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
        caption=f"{caption(board)}\n{legend(board)}",
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
        title=f"{HEADLINE.label} per challenge category",
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
    unfinished = f"Not finished yet: {', '.join(board.missing)}.\n\n" if board.missing else ""
    return (
        "# Leaderboard\n\n"
        f"{caption(board)}. Best value of each column in bold. {legend(board)}.\n\n"
        f"{unfinished}"
        f"{_md_table(header, rows)}\n\n"
        f"## {HEADLINE.label} per challenge category\n\n"
        f"{_md_table(c_header, c_rows)}\n"
    )


def to_csv(board: Leaderboard) -> str:
    """One row per model: the overall metrics, Borda, costs and per-category R-precision;
    `external` says which rows are external submissions (their costs are empty)."""
    import orjson

    cats = [str(c) for c in range(1, 11)]
    header = ["model", "borda_rank", "borda_points", *METRICS, "n", "missing"]
    header += ["fit_s", "recommend_s", "peak_rss_mb", "cold_start", "backfilled", "submission"]
    header += [f"{HEADLINE.name}_cat{c}" for c in cats] + ["params", "synthetic", "external"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        o = e["overall"]
        row: list[Any] = [name, rank, points, *(o[m] for m in METRICS), o["n"], o["missing"]]
        row += [e["fit_s"], e["recommend_s"], e["peak_rss_mb"], board.cold_start.get(name)]
        row += [board.backfilled.get(name, 0), e["submission"]]
        row += [e["categories"].get(c, {}).get(HEADLINE.name, "") for c in cats]
        row.append(orjson.dumps(e["params"], option=orjson.OPT_SORT_KEYS).decode())
        row.append("true" if board.data.get("synthetic") else "false")
        row.append("true" if name in board.external else "false")
        w.writerow(row)
    return buf.getvalue()


def write(board: Leaderboard, run_dir: Path) -> None:
    """`leaderboard.json`, `leaderboard.md` and `leaderboard.csv` in `run_dir` (atomic)."""
    write_json(Path(run_dir) / "leaderboard.json", board.to_json())
    with atomic_open(Path(run_dir) / "leaderboard.md") as f:
        f.write(to_markdown(board))
    with atomic_open(Path(run_dir) / "leaderboard.csv") as f:
        f.write(to_csv(board))
