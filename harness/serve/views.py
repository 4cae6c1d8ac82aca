"""The documents behind the runs, leaderboard and model comparison pages.

Each function returns plain JSON-ready data (str, int, float, bool, None, lists, dicts): the JSON
endpoint sends it as it is, the HTML page renders it with a template. They read the run only
through the store (which reads through `harness.run` and `harness.report`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from harness.challenge.categories import CATEGORIES
from harness.challenge.metrics import BY_NAME, METRICS, REGISTRY, Metric
from harness.progress import SILENT, Reporter
from harness.serve.errors import NotFound, RequestError
from harness.serve.store import RunInfo, Store

# files of a run folder the pages link to, when present
RUN_FILES = (
    "leaderboard.json",
    "leaderboard.csv",
    "leaderboard.md",
    "report.html",
    "run.json",
    "experiment.toml",
)
COSTS = ("fit_s", "recommend_s", "peak_rss_mb")
SORT_KEYS = ("borda", "name", *METRICS, *COSTS)
COMPARE_TOP = 20  # most-disagreeing playlists listed in each direction


def run_path(run: str, *rest: Any) -> str:
    """`/runs/RUN/...`, each part URL-quoted."""
    return "/".join(["/runs", quote(run, safe=""), *(quote(str(r), safe="") for r in rest)])


def num(x: Any) -> float | None:
    """A float for JSON: None for a missing or non-finite value."""
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def metric_doc(m: Metric) -> dict[str, Any]:
    return {
        "name": m.name,
        "label": m.label,
        "higher_is_better": m.higher_is_better,
        "ranked": m.ranked,
        "plotted": m.plotted,
        "decimals": m.decimals,
    }


def run_summary(info: RunInfo) -> dict[str, Any]:
    """What the runs page lists of one run (from run.json alone: no loading)."""
    data, split = info.run.get("data", {}), info.run.get("split", {})
    return {
        "name": info.name,
        "path": str(info.path),
        "mode": info.run.get("mode"),
        "scored": info.scored,
        "synthetic": info.synthetic,
        "data": data.get("name"),
        "n_playlists": data.get("n_playlists"),
        "n_tracks": data.get("n_tracks"),
        "n_queries": split.get("n_queries"),
        "split_seed": split.get("seed"),
        "models": info.run.get("models"),
        "files": [f for f in RUN_FILES if (info.path / f).is_file()],
    }


def runs_doc(store: Store) -> dict[str, Any]:
    return {"runs": [run_summary(i) for i in store.runs.values()]}


# ---------------------------------------------------------------------------- leaderboard


def _cell(c: dict[str, Any] | None) -> dict[str, Any] | None:
    if not c:
        return None
    return {
        "mean": num(c.get("mean")),
        "lo": num(c.get("lo")),
        "hi": num(c.get("hi")),
        "n": c.get("n"),
        "best": c.get("best"),
        "p_holm": num(c.get("p_holm")),
        "significant": bool(c.get("significant")),
    }


def leaderboard_doc(store: Store, run: str, sort: str = "borda", order: str = "") -> dict[str, Any]:
    """The run's leaderboard: every model's metrics with 95% CIs and its paired test against the
    best, Borda rank, costs; the per-category table; sorted by `sort` (`order` asc or desc, by
    default best first)."""
    from harness.report.leaderboard import _vs_best, caption, legend
    from harness.report.leaderboard import label as row_label

    info = store.scored(run, "leaderboard")
    board = store.leaderboard(run)
    table = board.confidence.get("models", {})
    rows = []
    for e in board.models:
        name = e["name"]
        points, rank = board.borda.get(name, (0, 0))
        cells = table.get(name, {})
        external = name in board.external
        rows.append(
            {
                "name": name,
                "label": row_label(board, name),
                "external": external,
                "borda_rank": rank,
                "borda_points": points,
                "metrics": {m: _cell(cells.get("overall", {}).get(m)) for m in METRICS},
                "vs_best": _vs_best(e),
                **{k: num(e.get(k)) for k in COSTS},
                "seedless": "" if external else board.cold_start.get(name, "model"),
                "backfilled": board.backfilled.get(name, 0),
                "params": e.get("params", {}),
            }
        )
    rows = sort_rows(rows, sort, order)
    return {
        "run": run,
        "synthetic": info.synthetic,
        "caption": caption(board),
        "legend": legend(board),
        "method": board.confidence.get("method", {}).get("note", ""),
        "metrics": [metric_doc(m) for m in REGISTRY],
        "models": rows,
        "categories": _categories(board, table),
        "missing": list(board.missing),
        "skipped": list(board.skipped),
        "sort": sort,
        "order": order or _natural_order(sort),
        "files": run_summary(info)["files"],
    }


def _natural_order(sort: str) -> str:
    """Best first: descending for a higher-is-better metric, ascending otherwise."""
    return "desc" if sort in BY_NAME and BY_NAME[sort].higher_is_better else "asc"


def sort_rows(rows: list[dict[str, Any]], sort: str, order: str) -> list[dict[str, Any]]:
    if sort not in SORT_KEYS:
        raise RequestError(f"query parameter sort: {sort!r} is not one of {', '.join(SORT_KEYS)}")
    if order not in ("", "asc", "desc"):
        raise RequestError(f"query parameter order: {order!r} is not asc or desc")
    desc = (order or _natural_order(sort)) == "desc"

    def key(r: dict[str, Any]) -> Any:
        if sort == "borda":
            return r["borda_rank"]
        if sort == "name":
            return r["name"]
        if sort in BY_NAME:
            cell = r["metrics"][sort]
            return cell["mean"] if cell else None
        return r[sort]

    present = [r for r in rows if key(r) is not None]
    absent = [r for r in rows if key(r) is None]  # always last, whichever the order
    return sorted(present, key=key, reverse=desc) + absent


def _categories(board: Any, table: dict[str, Any]) -> list[dict[str, Any]]:
    """Per challenge category: each model's R-precision with its CI (the headline metric)."""
    from harness.report.leaderboard import HEADLINE

    out = []
    cats = sorted({int(c) for e in board.models for c in e["categories"]})
    for c in cats:
        cells = {
            e["name"]: _cell(
                table.get(e["name"], {}).get("categories", {}).get(str(c), {}).get(HEADLINE.name)
            )
            for e in board.models
        }
        n = next((v["n"] for v in cells.values() if v), None)
        out.append({"category": c, "label": CATEGORIES[c].label, "n": n, "models": cells})
    return out


def plotted_metric(metric: str) -> Metric:
    if metric not in BY_NAME or not BY_NAME[metric].plotted:
        choices = ", ".join(m.name for m in REGISTRY if m.plotted)
        raise NotFound(f"no category chart for {metric!r}; charts: {choices}")
    return BY_NAME[metric]


def category_chart(store: Store, run: str, metric: str) -> str:
    """The SVG bars of one plotted metric per category (drawn once per run and metric)."""
    from harness.serve.charts import category_svg

    m = plotted_metric(metric)
    info = store.scored(run, "charts")

    def draw() -> str:
        table = store.leaderboard(run).confidence
        return category_svg(table, m.name, m.label, synthetic=info.synthetic)

    return store.memo(("category", run, m.name), draw)


def warm(store: Store, reporter: Reporter = SILENT) -> list[str]:
    """Load every run (`Store.warm`) and draw its category charts and default comparison,
    before the first request; returns the runs that loaded."""
    ready = store.warm(reporter)
    for name in ready:
        if store.runs[name].scored:
            for m in REGISTRY:
                if m.plotted:
                    category_chart(store, name, m.name)
            if len(store.model_names(name)) > 1:  # the comparison page's default
                compare_chart(store, name, compare_doc(store, name, None, None))
    return ready


# ---------------------------------------------------------------------------- comparison


def compare_pair(store: Store, run: str, a: str | None, b: str | None) -> tuple[str, str]:
    """The two models to compare: those given, by default the two best on the leaderboard."""
    names = store.model_names(run)
    if len(names) < 2:
        raise NotFound(
            f"run {run!r} has {len(names)} model(s) on its leaderboard: nothing to compare"
        )
    a = a or names[0]
    b = b or (names[1] if a == names[0] else names[0])
    for m in (a, b):
        store.check_model(run, m, names)
    if a == b:
        raise RequestError(f"query parameters a and b: both {a!r}; compare two different models")
    return a, b


def compare_values(
    store: Store, run: str, a: str, b: str, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pids, categories, a's values, b's values) of `metric`, paired by pid (sorted)."""
    if metric not in BY_NAME:
        raise RequestError(f"query parameter metric: {metric!r} is not one of {', '.join(METRICS)}")
    cols = store.leaderboard(run).per_playlist
    ca, cb = cols[a], cols[b]
    oa, ob = np.argsort(ca["pid"], kind="stable"), np.argsort(cb["pid"], kind="stable")
    pids = np.asarray(ca["pid"])[oa]
    va = np.asarray(ca[metric], dtype=np.float64)[oa]  # (n,)
    vb = np.asarray(cb[metric], dtype=np.float64)[ob]  # (n,), same pids: the board checked it
    return pids, np.asarray(ca["category"])[oa], va, vb


def compare_doc(
    store: Store, run: str, a: str | None, b: str | None, metric: str = "r_precision"
) -> dict[str, Any]:
    """Two models per playlist: means, wins, the paired test, and the most-disagreeing playlists
    in each direction (better for `a` first: a - b, oriented so that larger favours `a`)."""
    from harness.report.significance import paired_test

    info = store.scored(run, "comparison")
    a, b = compare_pair(store, run, a, b)
    pids, cats, va, vb = compare_values(store, run, a, b, metric)
    m = BY_NAME[metric]
    gain = (va - vb) if m.higher_is_better else (vb - va)  # (n,) > 0: a is better
    tests = store.tests(run)
    order = np.argsort(-gain, kind="stable")

    def entry(i: int) -> dict[str, Any]:
        pid = int(pids[i])
        return {
            "pid": pid,
            "category": int(cats[i]),
            "title": tests.names[tests.row[pid]],
            "a": num(va[i]),
            "b": num(vb[i]),
            "diff": num(va[i] - vb[i]),
        }

    a_ahead = [entry(int(i)) for i in order[:COMPARE_TOP] if gain[i] > 0]
    b_ahead = [entry(int(i)) for i in order[::-1][:COMPARE_TOP] if gain[i] < 0]
    return {
        "run": run,
        "synthetic": info.synthetic,
        "a": a,
        "b": b,
        "models": store.model_names(run),
        "metric": metric_doc(m),
        "metrics": [metric_doc(x) for x in REGISTRY],
        "n_playlists": len(pids),
        "mean_a": num(va.mean()),
        "mean_b": num(vb.mean()),
        "a_better": int((gain > 0).sum()),
        "b_better": int((gain < 0).sum()),
        "ties": int((gain == 0).sum()),
        "p": num(paired_test(va, vb)),
        "a_ahead": a_ahead,
        "b_ahead": b_ahead,
    }


def compare_chart(store: Store, run: str, doc: dict[str, Any]) -> str:
    """The SVG of a comparison (`doc` from `compare_doc`), drawn once per pair and metric; its
    marked points link to the playlist inspector."""
    from harness.serve.charts import compare_svg

    a, b, metric = doc["a"], doc["b"], doc["metric"]["name"]

    def draw() -> str:
        _, _, va, vb = compare_values(store, run, a, b, metric)
        marked = [
            (e["a"], e["b"], run_path(run, "playlists", e["pid"]))
            for e in doc["a_ahead"] + doc["b_ahead"]
        ]
        label = doc["metric"]["label"]
        return compare_svg(va, vb, (a, b), label, marked, synthetic=doc["synthetic"])

    return store.memo(("compare", run, a, b, metric), draw)


def run_file(store: Store, run: str, rel: str) -> Path:
    """A file inside the run's folder; anything else (`..`, absolute paths, links that lead out,
    folders) is refused as not found."""
    info = store.info(run)
    root = info.path.resolve()
    if not rel or rel.startswith(("/", "\\")) or "\\" in rel or "\0" in rel:
        raise NotFound(f"no file {rel!r} in run {run!r}")
    target = (root / rel).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise NotFound(f"no file {rel!r} in run {run!r}")
    return target
