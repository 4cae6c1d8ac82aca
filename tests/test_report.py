"""Tests for harness/report/ (confidence, recall, plots, html): statistics with known answers, the
recall curve, the HTML report.

The statistics run on hand-made run folders (metrics.parquet written here). The report tests use
a tiny end-to-end run (synthetic data, `evaluate`), parse the HTML with html.parser, and render it
in headless chromium when it is installed (skipped, with the reason, when it is not).
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import seal_by_hand
from PIL import Image

from harness.atomic import write_json
from harness.challenge.metrics import METRICS
from harness.errors import HarnessError
from harness.progress import Recorder
from harness.report.confidence import confidence_from_values, confidence_table
from harness.report.html import build_report, render_html
from harness.report.leaderboard import Leaderboard
from harness.report.plots import category_plot, recall_plot
from harness.report.recall import model_curve, recall_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TAB_BLUE = (31, 119, 180)  # matplotlib's first line/bar colour; the report's CSS never uses it


# ---------------------------------------------------------------------------- hand-made runs


def columns(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Per-playlist values of the five metrics; `shift` makes every playlist better."""
    base = rng.uniform(0.0, 0.5, n)
    clicks = rng.integers(0, 30, n).astype(np.float64)
    return {
        "r_precision": base + shift,
        "r_precision_track": base * 0.9 + shift,
        "ndcg": base * 1.2 + shift,
        "ndcg_rules": base * 1.1 + shift,
        "clicks": np.maximum(clicks - 100 * shift, 0.0),
    }


def write_model(
    run: Path,
    name: str,
    pids: np.ndarray,
    cats: np.ndarray,
    values: dict[str, np.ndarray],
    split_fp: str = "split-fp",
) -> None:
    d = run / name
    d.mkdir(parents=True, exist_ok=True)
    cols: dict[str, Any] = {"pid": pids.astype(np.int64), "category": cats.astype(np.int8)}
    cols.update({m: np.asarray(v, dtype=np.float64) for m, v in values.items()})
    pq.write_table(pa.table(cols), d / "metrics.parquet")
    seal_by_hand(
        d,
        {
            "model": name,
            "key": f"key-{name}",
            "mode": "split",
            "data": {"fingerprint": "data-fp"},
            "split": {"fingerprint": split_fp},
        },
    )


def make_run(tmp: Path, n: int = 120) -> tuple[Path, np.ndarray, np.ndarray]:
    """An empty run folder (run.json only) and its pids and categories (two of n/2 each)."""
    run = tmp / "run"
    run.mkdir()
    write_json(
        run / "run.json",
        {
            "mode": "split",
            "k": 500,
            "data": {"fingerprint": "data-fp", "synthetic": True, "name": "hand"},
            "split": {"fingerprint": "split-fp", "n_queries": n},
        },
    )
    pids = np.arange(1000, 1000 + n, dtype=np.int64)
    cats = np.where(np.arange(n) < n // 2, 1, 2).astype(np.int8)
    return run, pids, cats


# ---------------------------------------------------------------------------- statistics


def test_identical_systems_show_no_difference(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    values = columns(np.random.default_rng(0), len(pids))
    write_model(run, "a", pids, cats, values)
    write_model(run, "b", pids, cats, values)
    table = confidence_table(run)
    assert set(table["models"]) == {"a", "b"}
    for metric in METRICS:
        cells = [table["models"][m]["overall"][metric] for m in ("a", "b")]
        assert cells[0]["best"] == cells[1]["best"] in ("a", "b")
        for c in cells:
            assert c["p"] == 1.0 and c["p_holm"] == 1.0 and c["significant"] is False
        assert (cells[0]["lo"], cells[0]["hi"]) == (cells[1]["lo"], cells[1]["hi"])
        for cat in ("1", "2"):
            c = table["models"]["a"]["categories"][cat][metric]
            assert c["significant"] is False and c["n"] == len(pids) // 2


def test_dominating_system_is_significant_everywhere(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    rng = np.random.default_rng(1)
    base = columns(rng, len(pids))
    write_model(run, "weak", pids, cats, base)
    strong = {m: v + 0.05 for m, v in base.items() if m != "clicks"}
    strong["clicks"] = base["clicks"] - 2.0  # lower is better
    write_model(run, "strong", pids, cats, strong)
    table = confidence_table(run)
    for metric in METRICS:
        for cell in [
            table["models"]["weak"]["overall"][metric],
            *(table["models"]["weak"]["categories"][c][metric] for c in ("1", "2")),
        ]:
            assert cell["best"] == "strong"
            assert cell["significant"] is True and cell["p_holm"] < 1e-6
        best = table["models"]["strong"]["overall"][metric]
        assert best["best"] == "strong" and best["significant"] is False
        # the best one's interval lies entirely on the better side of the weak one's mean
        weak_mean = table["models"]["weak"]["overall"][metric]["mean"]
        if metric == "clicks":
            assert best["hi"] < weak_mean
        else:
            assert best["lo"] > weak_mean


def test_interval_known_answers() -> None:
    n = 4000
    rng = np.random.default_rng(2)
    hits = (rng.random(n) < 0.3).astype(np.float64)
    const = np.full(n, 0.25)
    cols: dict[str, dict[str, np.ndarray]] = {}
    for name, v in (("bernoulli", hits), ("constant", const)):
        cols[name] = {"pid": np.arange(n), "category": np.ones(n, dtype=np.int8)}
        cols[name].update({m: v for m in METRICS})
    table = confidence_from_values(cols)
    c = table["models"]["constant"]["overall"]["ndcg"]
    assert c["mean"] == c["lo"] == c["hi"] == 0.25
    b = table["models"]["bernoulli"]["overall"]["ndcg"]
    assert b["lo"] < b["mean"] < b["hi"]
    # the normal approximation: half-width 1.96 * sd / sqrt(n)
    half = 1.96 * hits.std() / np.sqrt(n)
    assert (b["hi"] - b["lo"]) / 2 == pytest.approx(half, rel=0.15)
    assert b["mean"] == pytest.approx(hits.mean())


def test_rows_are_paired_by_pid_not_by_order(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    rng = np.random.default_rng(3)
    a, b = columns(rng, len(pids)), columns(rng, len(pids), shift=0.01)
    write_model(run, "a", pids, cats, a)
    write_model(run, "b", pids, cats, b)
    in_order = confidence_table(run)
    perm = rng.permutation(len(pids))
    write_model(run, "b", pids[perm], cats[perm], {m: v[perm] for m, v in b.items()})
    assert confidence_table(run) == in_order


def test_different_playlists_are_refused(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    values = columns(np.random.default_rng(4), len(pids))
    write_model(run, "a", pids, cats, values)
    write_model(run, "b", pids + 1, cats, values)
    with pytest.raises(HarnessError, match="different playlists"):
        confidence_table(run)


def test_runs_on_another_split_are_left_out(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    values = columns(np.random.default_rng(5), len(pids))
    write_model(run, "a", pids, cats, values)
    write_model(run, "old", pids, cats, values, split_fp="other")
    assert set(confidence_table(run)["models"]) == {"a"}
    with pytest.raises(HarnessError, match="old"):
        confidence_table(run, models=["a", "old"])


# ---------------------------------------------------------------------------- recall curve


def test_recall_curve_known_answer() -> None:
    truth = {7: frozenset({"a", "b"}), 3: frozenset({"z"})}
    recs = {7: ["x", "a", "y", "b"], 3: ["z"]}
    curves, at_g = recall_curve(recs, truth, depth=6)
    # rows in pid order: 3 then 7
    np.testing.assert_allclose(curves[0], [1, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(curves[1], [0, 0.5, 0.5, 1, 1, 1])
    np.testing.assert_allclose(at_g, [1.0, 0.5])
    curves, _ = recall_curve({}, truth, depth=3)
    assert not curves.any()  # a missing playlist finds nothing


def test_model_curve_refuses_a_stale_submission(tmp_path: Path) -> None:
    sub = tmp_path / "s.csv"
    sub.write_text("team_info,t,e@x.org\n7,x,a,y,b\n3,z\n")
    truth = {7: frozenset({"a", "b"}), 3: frozenset({"z"})}
    curve = model_curve(sub, truth, {7: 0.5, 3: 1.0})
    assert curve[0] == pytest.approx(0.5) and curve[3] == pytest.approx(1.0)
    with pytest.raises(HarnessError, match="pid 7.*stale"):
        model_curve(sub, truth, {7: 1.0, 3: 1.0})


# ---------------------------------------------------------------------------- HTML (pure)


class Page(HTMLParser):
    """Tables (id -> rows of cell texts), img sources, and all text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


def decode_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    png = base64.b64decode(src[len(prefix) :], validate=True)
    assert png.startswith(PNG_MAGIC)
    return png


def test_html_marks_ties_and_labels_synthetic_data(tmp_path: Path) -> None:
    run, pids, cats = make_run(tmp_path)
    rng = np.random.default_rng(6)
    same = columns(rng, len(pids))
    write_model(run, "a", pids, cats, same)
    write_model(run, "b", pids, cats, same)
    write_model(run, "c", pids, cats, columns(rng, len(pids), shift=-0.2))
    table = confidence_table(run)
    entry = {"fit_s": 1.0, "recommend_s": 2.0, "peak_rss_mb": 300.0}
    board = Leaderboard(
        data={"name": "hand", "synthetic": True, "n_playlists": 1000},
        split={"seed": 0, "n_queries": len(pids), "per_category": None},
        models=[{"name": n, **entry} for n in ("a", "b", "c")],
        borda={"a": (9, 1), "b": (9, 1), "c": (3, 3)},
    )
    page = parse(render_html(board, table, [], []))
    rows = {r[1]: r for r in page.tables["leaderboard"][1:]}
    assert set(rows) == {"a", "b", "c"}
    # a and b are identical: one is the best, the other '≈ best (p_holm=1)'; c differs
    r_prec = {n: rows[n][2] for n in rows}
    ends = sorted(r_prec[n].rsplit("]", 1)[1].strip() for n in ("a", "b"))
    assert ends == ["best", "≈ best (p_holm=1)"]
    assert "differs (p_holm" in r_prec["c"]
    mean, lo, hi = (table["models"]["c"]["overall"]["r_precision"][k] for k in ("mean", "lo", "hi"))
    assert f"{mean:.4f} [{lo:.4f}, {hi:.4f}]" in r_prec["c"]
    assert "Synthetic data" in "".join(page.text)
    assert {"categories-r_precision", "categories-ndcg", "categories-clicks"} <= set(page.tables)
    assert [r[0] for r in page.tables["categories-ndcg"][1:]] == [
        "1: title only",
        "2: title + first 1",
    ]
    assert "script" not in page.tags and "link" not in page.tags


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`evaluate --synthetic tiny` (popular, title, knn), run in a temporary folder."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MPD_HARNESS_CACHE", str(root / "cache"))
        args = ["evaluate", "--synthetic", "tiny", "--coverage", "none", "--per-category", "20"]
        assert main([*args, "--models", "popular,title,knn", "--out", "run"]) == 0
        yield root


@pytest.mark.slow
def test_report_command_writes_html_and_plots(tiny_run: Path) -> None:
    from harness.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tiny_run)
        assert main(["report", "run"]) == 0
        recorder = Recorder()
        report = build_report("run", reporter=recorder)  # also: equal inputs give an equal report
        # the leaderboard's confidence table is reused: the same as computing it afresh
        assert report.table == confidence_table("run", models=list(report.table["models"]))
    assert recorder.texts("step") == [
        "confidence intervals and paired tests",
        "plots",
        "recall curves",
    ]
    html = (tiny_run / "run" / "report.html").read_text(encoding="utf-8")
    assert html == report.html
    page = parse(html)
    names = {r[1] for r in page.tables["leaderboard"][1:]}
    assert names == {"popular", "title", "knn"}
    assert len(page.tables["categories-r_precision"]) == 1 + 10
    plots = sorted(p.name for p in (tiny_run / "run" / "plots").iterdir())
    want = ["category_clicks.png", "category_ndcg.png", "category_r_precision.png"]
    assert plots == sorted([*want, "recall_curve.png"])
    assert len(page.images) == 4
    order = ["category_r_precision.png", "category_ndcg.png", "category_clicks.png"]
    for src, name in zip(page.images, [*order, "recall_curve.png"], strict=True):
        png = decode_png(src)
        assert png == (tiny_run / "run" / "plots" / name).read_bytes()
        with Image.open(io.BytesIO(png)) as im:
            assert im.width >= 600 and im.height >= 300
    assert "Synthetic data" in "".join(page.text)
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert not report.notes


def chromium_or_skip() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not installed (Debian: apt-get install chromium; .ci/run does)")
    return path


def chromium(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, timeout=120, check=True)


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tiny_run: Path, tmp_path: Path) -> None:
    exe = chromium_or_skip()
    from harness.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tiny_run)
        assert main(["report", "run", "--out", str(tmp_path / "r.html")]) == 0
    url = (tmp_path / "r.html").resolve().as_uri()
    dom = chromium(exe, tmp_path, "--dump-dom", url).stdout.decode("utf-8")
    page = parse(dom)
    assert {r[1] for r in page.tables["leaderboard"][1:]} == {"popular", "title", "knn"}
    assert {"categories-r_precision", "categories-ndcg", "categories-clicks"} <= set(page.tables)
    assert len(page.images) == 4
    for src in page.images:
        decode_png(src)
    # the screenshot shows the plots: matplotlib's blue, which nothing else on the page uses
    shot = tmp_path / "shot.png"
    chromium(exe, tmp_path, "--window-size=1300,5000", f"--screenshot={shot}", url)
    with Image.open(shot) as im:
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    blue = np.all(np.abs(pixels.astype(int) - TAB_BLUE) <= 3, axis=1).sum()
    assert blue > 5000


@pytest.mark.slow
def test_report_without_submissions_says_so(tiny_run: Path, tmp_path: Path) -> None:
    # a copied run folder: the split comes along, the submissions (outside RUN_DIR) do not
    shutil.copytree(tiny_run / "run", tmp_path / "run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        report = build_report("run")
    assert [p.name for p in report.plots] == [
        "category_r_precision.png",
        "category_ndcg.png",
        "category_clicks.png",
    ]
    assert sorted(n.split(":")[0] for n in report.notes) == ["knn", "popular", "title"]
    assert all("no recall curve" in n for n in report.notes)
    page = parse(report.html)
    assert len(page.images) == 3 and "no recall curve" in "".join(page.text)


def test_plots_of_synthetic_runs_say_so() -> None:
    """The PNGs are also written on their own (RUN_DIR/plots), away from the HTML banner."""
    n = 50
    cols: dict[str, dict[str, np.ndarray]] = {
        "m": {"pid": np.arange(n), "category": np.ones(n, dtype=np.int8)}
    }
    cols["m"].update({m: np.linspace(0, 1, n) for m in METRICS})
    table = confidence_from_values(cols)
    real = category_plot(table, "ndcg", "NDCG").png
    assert category_plot(table, "ndcg", "NDCG", synthetic=True).png != real
    assert category_plot(table, "ndcg", "NDCG", synthetic=False).png == real
    curve = {"m": np.linspace(0, 0.5, 500)}
    assert recall_plot(curve, synthetic=True).png != recall_plot(curve).png
