"""The bad-input table, round 2 (issue 24): run folders, outputs and the last resort.

Each case builds its inputs in a fresh folder, runs `harness.cli.main` in-process, and checks
(tests/badinput.py) the exit code; that the message names the file / line / pid / field; that no
traceback is printed; and that **nothing is lost**: every file that existed before the command
still exists with the same bytes afterwards. `tests/test_reliability.py` holds the first table,
`tests/test_bad_inputs_data.py` the data, submission and size cases of this round;
`test_the_tables_hold_150_cases` counts them all.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from badinput import (
    SLICE,
    Case,
    Env,
    broken_run,
    check,
    deep_json,
    env,
    replace,
    report_case,
    run_copy,
    slice_case,
    write,
)

from harness.cli import main

__all__ = ["env"]  # the fixture, imported for pytest


def _split_moved_and_manifest(manifest: Any) -> Callable[[Path], None]:
    """run.json's split path gone, so RUN_DIR/split is looked at; its manifest replaced."""

    def edit(run: Path) -> None:
        doc = orjson.loads((run / "run.json").read_bytes())
        doc["split"]["path"] = str(run / "elsewhere")
        write(run / "run.json", doc)
        write(run / "split" / "manifest.json", manifest)

    return edit


def marked(kind: str) -> bytes:
    return orjson.dumps({"kind": kind, "harness": "0"})


def synth_into(files: dict[str, bytes]) -> Callable[[Path, Env], list[str]]:
    """A case: `synth --out` a folder holding `files` (name -> bytes; "" names the folder
    itself as a file)."""

    def build(tmp: Path, env: Env) -> list[str]:
        out = tmp / "out"
        for name, data in files.items():
            write(out / name if name else out, data)
        return ["synth", "--playlists", "100", "--workers", "1", "--out", str(out)]

    return build


def split_into(files: dict[str, bytes]) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        out = tmp / "out"
        for name, data in files.items():
            write(out / name if name else out, data)
        argv = ["split", str(env.mpd), "--out", str(out), "--per-category", "1"]
        return [*argv, "--cache-dir", str(env.cache)]

    return build


def evaluate_into(files: dict[str, bytes], *extra: str) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        out = tmp / "out"
        for name, data in files.items():
            write(out / name if name else out, data)
        argv = ["evaluate", "--mpd", str(env.mpd), "--out", str(out), "--models", "popular"]
        return [*argv, "--per-category", "1", "--cache-dir", str(env.cache), *extra]

    return build


def report_out(target: str, data: bytes) -> Callable[[Path, Env], list[str]]:
    """A case: `report RUN --out FILE` where FILE (relative to the case folder, RUN/... for a
    file in the run copy) already holds `data`."""

    def build(tmp: Path, env: Env) -> list[str]:
        run = run_copy(tmp, env)
        path = run / target.removeprefix("RUN/") if target.startswith("RUN/") else tmp / target
        write(path, data)
        argv = ["report", str(run)]
        return argv if target == "RUN/report.html" else [*argv, "--out", str(path)]

    return build


def _default_synthetic_foreign(tmp: Path, env: Env) -> list[str]:
    """data/synthetic/tiny-s0 (evaluate --synthetic tiny's folder) holds someone's files."""
    write(tmp / "work" / "data" / "synthetic" / "tiny-s0" / "notes.txt", b"mine")
    return ["evaluate", "--synthetic", "tiny", "--models", "popular", "--cache-dir", str(env.cache)]


SLICE_BYTES = SLICE.read_bytes()
NOT_OURS = "not a {} that mpd-harness wrote"


def edit_manifest(model: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(run: Path) -> None:
        path = run / model / "manifest.json"
        doc = orjson.loads(path.read_bytes())
        edit(doc)
        path.write_bytes(orjson.dumps(doc))

    return apply


def _set_in(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        obj = doc
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return edit


def _drop(*names: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: [doc.pop(n) for n in names] and None


def _flip_last_byte(name: str) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        data = bytearray((run / name).read_bytes())
        data[-1] ^= 1
        (run / name).write_bytes(bytes(data))

    return edit


def _swap_metrics(run: Path) -> None:
    """knn's metrics.parquet replaced by popular's (a valid file, but not knn's)."""
    shutil.copyfile(run / "popular" / "metrics.parquet", run / "knn" / "metrics.parquet")


def _resealed(model: str, name: str, data: bytes) -> Callable[[Path], None]:
    """A damaged file whose hash the manifest carries (damaged before it was hashed): the
    reader, not the hash check, must name it."""

    def edit(run: Path) -> None:
        write(run / model / name, data)
        path = run / model / "manifest.json"
        doc = orjson.loads(path.read_bytes())
        doc["files_sha256"][name] = hashlib.sha256(data).hexdigest()
        path.write_bytes(orjson.dumps(doc))

    return edit


# ------------------------------------------------------------------------------ the table

CASES: list[Case] = [
    # --- runs are ranked only when provably current (item 3)
    Case(
        "leaderboard-manifest-data-fingerprint-edited",
        broken_run(
            edit_manifest("knn", _set_in("data", "fingerprint", value="0" * 24)),
            *("leaderboard", "RUN"),
        ),
        (r"run/knn", "not provably current", "data_fingerprint", "edited"),
    ),
    Case(
        "leaderboard-manifest-split-fingerprint-edited",
        broken_run(
            edit_manifest("knn", _set_in("split", "fingerprint", value="f" * 16)),
            *("leaderboard", "RUN"),
        ),
        (r"run/knn", "not provably current|another split"),
    ),
    Case(
        "leaderboard-manifest-params-edited",
        broken_run(
            edit_manifest("knn", _set_in("params", "k_neighbors", value=7)), "leaderboard", "RUN"
        ),
        (r"run/knn", "not provably current", "params"),
    ),
    Case(
        "leaderboard-manifest-key-edited",
        broken_run(edit_manifest("knn", _set_in("key", value="0" * 16)), "leaderboard", "RUN"),
        (r"run/knn", "key does not match its key_fields"),
    ),
    Case(
        "leaderboard-manifest-key-fields-edited",
        broken_run(
            edit_manifest("knn", _set_in("key_fields", "runner", value=1)), "leaderboard", "RUN"
        ),
        (r"run/knn", "key does not match"),
    ),
    Case(
        "leaderboard-manifest-of-an-older-version",
        broken_run(edit_manifest("knn", _drop("key_fields", "files_sha256")), "leaderboard", "RUN"),
        (r"run/knn", "older mpd-harness", "run evaluate"),
    ),
    Case(
        "leaderboard-manifest-no-file-hashes",
        broken_run(edit_manifest("knn", _drop("files_sha256")), "leaderboard", "RUN"),
        (r"run/knn", "files_sha256"),
    ),
    Case(
        "leaderboard-metrics-swapped",
        broken_run(_swap_metrics, "leaderboard", "RUN"),
        (r"run/knn", r"metrics\.parquet changed"),
    ),
    Case(
        "leaderboard-recs-changed",
        broken_run(_flip_last_byte("popular/recs.npz"), "leaderboard", "RUN"),
        (r"run/popular", r"recs\.npz changed"),
    ),
    Case(
        "leaderboard-recs-missing",
        broken_run(lambda run: (run / "knn" / "recs.npz").unlink(), "leaderboard", "RUN"),
        (r"run/knn", r"recs\.npz is missing"),
    ),
    Case(
        "report-manifest-data-fingerprint-edited",
        report_case(edit_manifest("popular", _set_in("data", "fingerprint", value="x"))),
        (r"run/popular", "not provably current"),
    ),
    Case(
        "report-metrics-changed",
        report_case(_swap_metrics),
        (r"run/knn", r"metrics\.parquet changed"),
    ),
    # --- every --out refuses what the harness did not write (issue 24, item 1)
    Case(
        "synth-out-holds-real-slices",
        synth_into({"mpd.slice.0-999.json": SLICE_BYTES}),
        ("--out", "out", NOT_OURS.format("synthetic"), "nothing in it was changed"),
    ),
    Case(
        "synth-out-holds-notes",
        synth_into({"notes.txt": b"mine"}),
        ("--out", NOT_OURS.format("synthetic")),
    ),
    Case("synth-out-is-a-file", synth_into({"": b"mine"}), ("--out", "not a folder")),
    Case(
        "synth-out-holds-a-split",
        synth_into({".mpd-harness": marked("split"), "manifest.json": b"{}"}),
        ("--out", "holds a split that mpd-harness wrote, not a synthetic"),
    ),
    Case(
        "split-out-holds-someones-manifest",
        split_into({"manifest.json": b'{"name": "my project"}', "src.py": b"print(1)"}),
        ("out", NOT_OURS.format("split")),
    ),
    Case(
        "split-out-holds-a-run",
        split_into({".mpd-harness": marked("run"), "run.json": b"{}"}),
        ("out", "holds a run that mpd-harness wrote, not a split"),
    ),
    Case(
        "split-out-holds-real-slices",
        split_into({"mpd.slice.0-999.json": SLICE_BYTES}),
        ("out", NOT_OURS.format("split")),
    ),
    Case(
        "evaluate-out-holds-notes",
        evaluate_into({"notes.txt": b"mine"}),
        ("--out", "out", NOT_OURS.format("run"), "--out"),
    ),
    Case(
        "evaluate-out-holds-a-split",
        evaluate_into({".mpd-harness": marked("split")}),
        ("--out", "holds a split that mpd-harness wrote, not a run"),
    ),
    Case(
        "evaluate-out-holds-real-slices",
        evaluate_into({"mpd.slice.0-999.json": SLICE_BYTES}),
        ("--out", NOT_OURS.format("run")),
    ),
    Case("evaluate-out-is-a-file", evaluate_into({"": b"mine"}), ("--out", "not a folder")),
    Case(
        "evaluate-out-json-not-a-run",
        evaluate_into({"run.json": b"[1]", "data.csv": b"a,b"}),
        ("--out", NOT_OURS.format("run")),
    ),
    Case(
        "evaluate-default-synthetic-folder-foreign",
        _default_synthetic_foreign,
        ("tiny-s0", NOT_OURS.format("synthetic"), "--synthetic tiny"),
    ),
    Case(
        "report-out-is-a-models-recs",
        report_out("RUN/popular/recs.npz", b"PK\x03\x04 not html"),
        ("--out", r"recs\.npz", "not written by mpd-harness", "--force"),
    ),
    Case(
        "report-out-is-someones-html",
        report_out("mine.html", b"<html><body>my page</body></html>"),
        ("--out", r"mine\.html", "not written by mpd-harness"),
    ),
    Case(
        "report-default-out-is-someones-file",
        report_out("RUN/report.html", b"<html>notes</html>"),
        (r"report\.html", "not written by mpd-harness"),
    ),
    Case(
        "report-out-is-a-text-file",
        report_out("folder/file.txt", b"x"),
        ("--out", "not written by mpd-harness"),
    ),
    # --- no traceback: nesting, corrupt binary files, run files of the wrong shape
    Case("slice-json-nested-100000", slice_case(deep_json(100_000)), (SLICE.name, "nested")),
    Case("slice-json-nested-2000", slice_case(deep_json(2_000)), (SLICE.name, "nested")),
    Case(
        "leaderboard-metrics-parquet-corrupt",
        broken_run(replace("knn/metrics.parquet", b"garbage"), "leaderboard", "RUN"),
        (r"knn/metrics\.parquet", "changed since the run was stored"),
    ),
    Case(
        "leaderboard-metrics-parquet-empty",
        broken_run(replace("knn/metrics.parquet", b""), "leaderboard", "RUN"),
        (r"knn/metrics\.parquet",),
    ),
    Case(
        "report-metrics-parquet-corrupt",
        report_case(replace("popular/metrics.parquet", b"PAR1garbagePAR1")),
        (r"popular/metrics\.parquet", "changed since the run was stored"),
    ),
    Case(
        "leaderboard-metrics-parquet-corrupt-with-its-hash",
        broken_run(_resealed("knn", "metrics.parquet", b"PAR1garbagePAR1"), "leaderboard", "RUN"),
        (r"knn/metrics\.parquet", "not a readable Parquet file"),
    ),
    Case(
        "leaderboard-run-json-a-list",
        broken_run(replace("run.json", [1, 2]), "leaderboard", "RUN"),
        (r"run\.json", "not an object"),
    ),
    Case(
        "leaderboard-run-json-a-string",
        broken_run(replace("run.json", b'"hello"'), "leaderboard", "RUN"),
        (r"run\.json", "not an object"),
    ),
    Case(
        "leaderboard-run-json-null",
        broken_run(replace("run.json", b"null"), "leaderboard", "RUN"),
        (r"run\.json", "not an object"),
    ),
    Case(
        "leaderboard-run-json-no-split",
        broken_run(replace("run.json", {"mode": "split", "data": {}}), "leaderboard", "RUN"),
        (r"run\.json", "split"),
    ),
    Case(
        "leaderboard-run-json-invalid",
        broken_run(replace("run.json", b"{"), "leaderboard", "RUN"),
        (r"run\.json", "not valid JSON"),
    ),
    Case(
        "report-run-json-a-list",
        report_case(replace("run.json", [])),
        (r"run\.json", "not an object"),
    ),
    Case(
        "generate-run-json-a-list",
        broken_run(
            replace("run.json", [1]),
            "generate",
            "--model",
            "popular",
            "--run",
            "RUN",
            "--title",
            "x",
        ),
        (r"run\.json", "not an object"),
    ),
    Case(
        "generate-manifest-a-list",
        broken_run(
            replace("popular/manifest.json", [1]),
            *("generate", "--model", "popular", "--run", "RUN", "--title", "x"),
        ),
        (r"popular/manifest\.json", "not an object"),
    ),
    Case(
        "leaderboard-model-manifest-invalid-json",
        broken_run(replace("knn/manifest.json", b"{oops"), "leaderboard", "RUN"),
        (r"knn/manifest\.json", "not valid JSON"),
    ),
    Case(
        "report-split-manifest-a-list",
        report_case(_split_moved_and_manifest([1])),
        (r"split/manifest\.json", "not an object"),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(
    case: Case,
    env: Env,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check(case, env, tmp_path, capsys, monkeypatch)


TABLES = ("test_reliability", "test_bad_inputs", "test_bad_inputs_data")
COMMANDS = ("synth", "stats", "split", "check-model", "evaluate", "leaderboard", "verify")
COMMANDS += ("score", "report", "generate")


def test_ids_are_unique_and_the_tables_hold_150_cases() -> None:
    """Issue 24 asks for at least 150 distinct bad inputs across every command that reads
    input (`models` reads none: it lists the registry)."""
    ids = [c.id for t in TABLES for c in importlib.import_module(t).CASES]
    assert len(set(ids)) == len(ids)
    assert len(ids) >= 150, len(ids)
    covered = {c for c in COMMANDS for i in ids if i.startswith(f"{c}-")}
    assert covered == set(COMMANDS)


# ------------------------------------------------------------------------------ the last resort


def test_an_unexpected_exception_is_one_line_and_a_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here a KeyError planted in `stats`) prints one line naming the log, which holds
    the traceback; exit status 70."""
    import harness.cli.stats as stats

    def boom(args: Any) -> int:
        raise KeyError("planted")

    monkeypatch.setattr(stats, "run", boom)
    monkeypatch.setenv("MPD_HARNESS_LOG_DIR", str(tmp_path / "logs"))
    assert main(["stats", str(SLICE)]) == 70
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    m = re.fullmatch(
        r"mpd-harness stats: internal error: KeyError: 'planted'; details in (.+)", lines[0]
    )
    assert m, lines[0]
    log = Path(m[1])
    assert log.parent == (tmp_path / "logs").resolve()
    text = log.read_text()
    assert "Traceback" in text and "planted" in text and "command: mpd-harness stats" in text


def test_recursion_and_memory_errors_are_named_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.cli.stats as stats

    for error, words in ((RecursionError("deep"), "nested too deeply"), (MemoryError(), "memory")):

        def boom(args: Any, error: BaseException = error) -> int:
            raise error

        monkeypatch.setattr(stats, "run", boom)
        monkeypatch.setenv("MPD_HARNESS_LOG_DIR", str(tmp_path / "logs"))
        assert main(["stats", str(SLICE)]) == 70
        assert words in capsys.readouterr().err


def test_no_log_folder_still_gives_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every log folder unwritable (a file where each should be): still one line."""
    import harness.cli.crash as crash
    import harness.cli.stats as stats

    blocker = write(tmp_path / "blocker", b"x")
    monkeypatch.setattr(crash, "log_dirs", lambda: [blocker / "logs"])
    monkeypatch.setattr(stats, "run", lambda args: 1 / 0)
    assert main(["stats", str(SLICE)]) == 70
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError" in err and "no log could be written" in err


def test_a_damaged_cache_entry_is_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """meta.json of a cached corpus that is valid JSON but not an object: rebuilt, warned."""
    cache = tmp_path / "cache"
    assert main(["stats", str(SLICE), "--cache-dir", str(cache)]) == 0
    (meta,) = cache.glob("*/meta.json")
    meta.write_bytes(b"[1]")
    capsys.readouterr()
    assert main(["stats", str(SLICE), "--cache-dir", str(cache)]) == 0
    assert "unreadable" in capsys.readouterr().err
    assert orjson.loads(meta.read_bytes())["format_version"]


def test_an_error_ends_the_program_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the program (no argv) with torch loaded, an error exits through os._exit right after
    its line: the interpreter's teardown would take seconds. Called with argv (tests, the API)
    it returns the status as before."""
    import sys
    import types

    import harness.cli as cli

    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch") or types.ModuleType("t"))
    argv = ["verify", str(tmp_path / "nope.csv"), "--challenge-set", str(tmp_path / "cs.json")]
    monkeypatch.setattr(sys, "argv", ["mpd-harness", *argv])
    with pytest.raises(SystemExit):
        cli.main()
    assert exits == [2]
    assert "cs.json: no such file" in capsys.readouterr().err
    assert cli.main(argv) == 2 and exits == [2]
