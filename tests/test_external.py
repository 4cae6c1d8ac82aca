"""External submissions on the leaderboard (harness/run/external.py, `--submission NAME=PATH`).

A tiny end-to-end run (synthetic data, popular and title) gives real submission files; a copy of
popular's file, added as an external submission, must score exactly as popular and tie with it
in the paired test; a file that fails the verifier is refused with its messages and nothing is
stored, unless --force.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from harness.atomic import read_json, write_json
from harness.challenge.metrics import METRICS
from harness.challenge.submission import read_submission
from harness.cli import main
from harness.errors import UsageError
from harness.progress import Recorder
from harness.report.confidence import confidence_table
from harness.report.html import build_report
from harness.report.leaderboard import build, render, to_csv, to_markdown
from harness.report.significance import paired_test
from harness.run.external import add_external, parse_spec, parse_specs
from harness.run.rundir import read_metrics

EVALUATE = ["evaluate", "--synthetic", "tiny", "--coverage", "none", "--per-category", "20"]
EVALUATE += ["--models", "popular,title", "--out", "run"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with `run/` (popular, title), its submissions, `copy.csv.gz` (popular's file,
    copied) and `bad.csv.gz` (that file with a playlist dropped and a track repeated)."""
    root = tmp_path_factory.mktemp("ext")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MPD_HARNESS_CACHE", str(root / "cache"))
        assert main(EVALUATE) == 0
    shutil.copy(root / "submissions" / "run" / "popular.csv.gz", root / "copy.csv.gz")
    lines = gzip.decompress((root / "copy.csv.gz").read_bytes()).decode().splitlines()
    first = lines[1].split(",")
    first[2] = first[1]  # a repeated track on line 2
    bad = [lines[0], ",".join(first), *lines[2:-1]]  # and the last playlist has no line
    (root / "bad.csv.gz").write_bytes(gzip.compress(("\n".join(bad) + "\n").encode()))
    yield root


@pytest.fixture
def run(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the tiny run with no external submission, the current folder its parent."""
    shutil.copytree(tiny / "run", tmp_path / "run")
    shutil.copytree(tiny / "submissions", tmp_path / "submissions")
    for d in (tmp_path / "run").iterdir():
        if (d / "manifest.json").is_file() and read_json(d / "manifest.json").get("external"):
            shutil.rmtree(d)
    monkeypatch.chdir(tmp_path)
    return Path("run")


def same_metrics(a: Path, b: Path) -> None:
    got, want = read_metrics(a / "metrics.parquet"), read_metrics(b / "metrics.parquet")
    assert set(got) == set(want) == {"pid", "category", *METRICS}
    for column in want:
        np.testing.assert_array_equal(got[column], want[column], err_msg=column)


def check_equal_to_popular(run: Path, name: str, source: Path) -> None:
    """`name` is popular's file scored again: same per-playlist metrics, every export marks it
    external, and the paired test finds no difference."""
    same_metrics(run / name, run / "popular")
    manifest = read_json(run / name / "manifest.json")
    assert manifest["external"] is True and manifest["model"] == name
    assert manifest["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert manifest["source"]["path"] == str(source)
    assert manifest["verification"]["ok"] is True and manifest["verification"]["errors"] == []
    run_json = read_json(run / "run.json")
    assert manifest["data"] == run_json["data"] and manifest["split"] == run_json["split"]
    assert manifest["missing_pids"] == [] and manifest["fit_s"] is None

    doc = read_json(run / "leaderboard.json")
    entries = {e["name"]: e for e in doc["models"]}
    assert entries[name]["external"] is True
    assert "external" not in entries["popular"]  # existing entries keep their keys
    assert entries[name]["overall"] == entries["popular"]["overall"]
    assert entries[name]["categories"] == entries["popular"]["categories"]
    assert entries[name]["ci"]["r_precision"]["lo"] == entries["popular"]["ci"]["r_precision"]["lo"]
    assert entries[name]["fit_s"] is None and entries[name]["recommend_s"] is None

    cols = {m: read_metrics(run / m / "metrics.parquet") for m in (name, "popular")}
    for metric in METRICS:
        assert paired_test(cols[name][metric], cols["popular"][metric]) == 1.0
    pair = confidence_table(run, models=[name, "popular"])["models"]
    for metric in METRICS:
        assert pair[name]["overall"][metric]["p"] == 1.0
        assert pair[name]["overall"][metric]["significant"] is False

    md = (run / "leaderboard.md").read_text(encoding="utf-8")
    assert f"| {name} (external) |" in md and "| popular |" in md
    rows = {r.split(",")[0]: r.split(",") for r in (run / "leaderboard.csv").read_text().split()}
    assert rows["model"][-1] == "external"
    assert rows[name][-1] == "true" and rows["popular"][-1] == "false"
    df = build(run).to_pandas().set_index("name")
    assert bool(df.loc[name, "external"]) and not bool(df.loc["popular", "external"])
    assert df.loc[name, "r_precision"] == df.loc["popular", "r_precision"]


def check_recs_are_the_file(run: Path, name: str, source: Path) -> None:
    """recs.npz holds the file's rows as ids into the split's catalogue, then extra_uris."""
    with np.load(run / name / "recs.npz", allow_pickle=False) as z:
        pids, recs, extra = z["pids"], z["recs"], z["extra_uris"]
        assert recs.dtype == np.int32 and recs.shape == (len(pids), 500)
        assert not z["missing"].any() and not z["backfilled"].any()
    catalogue = pq.read_table(run / "split" / "track_artists.parquet").column("track_uri")
    uris = np.array([*catalogue.to_pylist(), *extra.tolist()], dtype=object)
    _, rows, _ = read_submission(source)
    for i in (0, 1, len(pids) // 2, len(pids) - 1):
        assert uris[recs[i]].tolist() == rows[int(pids[i])]


# ---------------------------------------------------------------------------- evaluate


def test_evaluate_submission_equal_to_a_model_ties_with_it(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tiny)
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tiny / "cache"))
    assert main([*EVALUATE, "--submission", "copy=copy.csv.gz"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "copy (external) R-prec" in out
    check_equal_to_popular(Path("run"), "copy", Path("copy.csv.gz"))
    check_recs_are_the_file(Path("run"), "copy", Path("copy.csv.gz"))


def test_evaluate_refuses_a_failing_file_before_fitting(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tiny)
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tiny / "cache"))
    assert main([*EVALUATE, "--submission", "bad=bad.csv.gz"]) == 2
    out, err = capsys.readouterr()
    assert "bad.csv.gz does not verify" in err and "--force" in err
    assert "1 challenge playlist(s) without a line" in err
    assert "line 2: pid" in err and "499 distinct tracks" in err
    assert not (tiny / "run" / "bad").exists()
    assert "popular" not in out  # refused before any model ran


def test_evaluate_checks_submissions_before_the_data(
    tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tiny)
    for args, message in [
        (["--submission", "popular=copy.csv.gz"], "'popular' is a model of this run"),
        (["--submission", "a=copy.csv.gz", "--submission", "a=bad.csv.gz"], "given twice"),
        (["--submission", "a=copy.csv.gz", "--k", "10"], "needs a scored run with k 500"),
        (["--submission", "copy.csv.gz"], "expected NAME=PATH"),
    ]:
        assert main([*EVALUATE, *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------------------- leaderboard


def test_leaderboard_submission_is_stored_reused_and_replaced(
    tiny: Path, run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tiny / "copy.csv.gz"
    assert main(["leaderboard", str(run), "--submission", f"mine={source}"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "mine (external)" in out
    check_equal_to_popular(run, "mine", source)
    check_recs_are_the_file(run, "mine", source)
    first = (run / "mine" / "metrics.parquet").stat().st_mtime_ns

    # the same file again: reused, not scored again
    assert main(["leaderboard", str(run), "--submission", f"mine={source}"]) == 0
    assert "mine: reusing" in capsys.readouterr().err
    assert (run / "mine" / "metrics.parquet").stat().st_mtime_ns == first

    # another file under the same name replaces it
    other = tiny / "submissions" / "run" / "title.csv.gz"
    assert main(["leaderboard", str(run), "--submission", f"mine={other}", "--no-write"]) == 0
    same_metrics(run / "mine", run / "title")
    sha = read_json(run / "mine" / "manifest.json")["source"]["sha256"]
    assert sha == hashlib.sha256(other.read_bytes()).hexdigest()


def test_leaderboard_refuses_a_failing_file_and_force_counts_misses(
    tiny: Path, run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tiny / "bad.csv.gz"
    before = read_json(run / "leaderboard.json")
    assert main(["leaderboard", str(run), "--submission", f"bad={bad}"]) == 2
    err = capsys.readouterr().err
    assert "does not verify" in err and "1 challenge playlist(s) without a line" in err
    assert "wrong number of playlists" in err and "499 distinct tracks" in err
    assert not (run / "bad").exists() and read_json(run / "leaderboard.json") == before

    assert main(["leaderboard", str(run), "--submission", f"bad={bad}", "--force"]) == 0
    assert "scored although it does not verify" in capsys.readouterr().err
    manifest = read_json(run / "bad" / "manifest.json")
    assert manifest["verification"]["ok"] is False and manifest["verification"]["forced"] is True
    assert any("without a line" in e for e in manifest["verification"]["errors"])
    dropped = read_json(run / "split" / "ground_truth.json")["playlists"]
    lacking = {p["pid"] for p in dropped} - set(read_submission(bad)[1])
    assert manifest["missing_pids"] == sorted(lacking) and len(lacking) == 1
    cols = read_metrics(run / "bad" / "metrics.parquet")
    at = cols["pid"] == lacking.pop()
    assert cols["r_precision"][at] == [0.0] and cols["ndcg"][at] == [0.0]
    assert cols["clicks"][at] == [51.0]
    entry = next(e for e in read_json(run / "leaderboard.json")["models"] if e["name"] == "bad")
    assert entry["overall"]["missing"] == 1 and entry["external"] is True
    # without --force, a stored forced file is not taken as verified
    assert main(["leaderboard", str(run), "--submission", f"bad={bad}"]) == 2


def test_names_that_are_not_safe_or_taken_are_refused(
    tiny: Path, run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tiny / "copy.csv.gz"
    popular = (run / "popular" / "manifest.json").read_bytes()
    (run / "notes").mkdir()
    (run / "notes" / "mine.txt").write_text("not the harness's")
    for spec, message in [
        (f"../x={source}", "use letters, digits"),
        (f".hidden={source}", "use letters, digits"),
        (f"split={source}", "a folder of the run folder"),
        (f"a b={source}", "use letters, digits"),
        ("x=", "expected NAME=PATH"),
        (f"popular={source}", "holds the run of the model 'popular'"),
        (f"notes={source}", "was not written for an external submission"),
        (f"x={tiny / 'absent.csv.gz'}", "no such file"),
    ]:
        assert main(["leaderboard", str(run), "--submission", spec]) == 2, spec
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert (run / "popular" / "manifest.json").read_bytes() == popular
    assert (run / "notes" / "mine.txt").read_text() == "not the harness's"
    assert parse_spec("a.b-c_1=x=y.csv").path == Path("x=y.csv")
    with pytest.raises(UsageError, match="given twice"):
        parse_specs(["a=x", "a=y"])


def test_a_challenge_set_run_takes_no_submission(tiny: Path, run: Path) -> None:
    run_json = read_json(run / "run.json")
    write_json(run / "run.json", {**run_json, "mode": "challenge"})
    with pytest.raises(UsageError, match="no ground truth"):
        add_external(run, "x", tiny / "copy.csv.gz")


def test_uris_outside_the_training_catalogue_are_kept(tiny: Path, run: Path) -> None:
    """A held-out track that training lacks is a hit (as in `score`) and is stored as its row
    of track_artists.parquet (which lists every corpus track), so recs.npz still holds the
    file's rows; the verifier's warning (not in the training data) is told."""
    truth = read_json(run / "split" / "ground_truth.json")["playlists"]
    table = pq.read_table(run / "split" / "track_artists.parquet").to_pydict()
    rows_of = {u: i for i, u in enumerate(table["track_uri"])}
    catalogue = {u for u, t in zip(table["track_uri"], table["in_train"], strict=True) if t}
    lines = gzip.decompress((tiny / "copy.csv.gz").read_bytes()).decode().splitlines()
    pid, *tracks = lines[1].split(",")
    held = next(p for p in truth if p["pid"] == int(pid))["holdouts"]
    outside = next(h["track_uri"] for h in held if h["track_uri"] not in catalogue)
    lines[1] = ",".join([pid, outside, *tracks[:-1]])
    source = run.parent / "outside.csv.gz"
    source.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    recorder = Recorder()
    added = add_external(run, "outside", source, reporter=recorder)
    assert added.manifest["verification"]["ok"] is True
    assert any("not in the training data" in t for t in recorder.texts("note"))
    with np.load(run / "outside" / "recs.npz", allow_pickle=False) as z:
        assert z["extra_uris"].tolist() == []
        at = np.flatnonzero(z["pids"] == int(pid))[0]
        assert z["recs"][at, 0] == rows_of[outside]
    check_recs_are_the_file(run, "outside", source)
    got = read_metrics(run / "outside" / "metrics.parquet")
    want = read_metrics(run / "popular" / "metrics.parquet")
    row = got["pid"] == int(pid)
    assert got["r_precision_track"][row] > want["r_precision_track"][row]  # the hit counts
    others = ~row
    np.testing.assert_array_equal(got["ndcg"][others], want["ndcg"][others])


# ---------------------------------------------------------------------------- report


def test_report_marks_external_rows(tiny: Path, run: Path) -> None:
    add_external(run, "mine", tiny / "copy.csv.gz")
    report = build_report(run)
    assert "mine (external)</td>" in report.html and "mine (external)</th>" in report.html
    assert "no costs" in report.html  # the legend says what (external) means
    assert [p.name for p in report.plots][-1] == "recall_curve.png"  # the file's curve too
    assert not report.notes
    board = build(run)
    assert board.external == ["mine"]
    buf = io.StringIO()
    console = Console(file=buf, width=250, color_system=None)
    for table in render(board):
        console.print(table)
    assert "mine (external)" in buf.getvalue()
    assert "mine (external)" in to_markdown(board) and ",true\n" in to_csv(board)


# ---------------------------------------------------------------------------- unfinished models


def test_requested_models_without_a_run_are_named(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert build(run).missing == []  # run.json without "models": nothing is said
    run_json = read_json(run / "run.json")
    write_json(run / "run.json", {**run_json, "models": ["popular", "sgns", "title", "w2v"]})
    board = build(run)
    assert board.missing == ["sgns", "w2v"]
    assert main(["leaderboard", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "not finished: sgns, w2v" in " ".join(err.split())
    assert "not finished" not in out
    assert "Not finished yet: sgns, w2v." in (run / "leaderboard.md").read_text()
    report = build_report(run)
    assert any(n.startswith("not finished: sgns, w2v") for n in report.notes)
    assert "id='unfinished'" in report.html
