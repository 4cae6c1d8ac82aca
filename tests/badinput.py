"""The bad-input tables' machinery (tests/test_bad_inputs*.py): a valid world to break, the case
record, builders, and `check`, which runs a case and checks exit code, message, no traceback and
that nothing is lost (every file present before the command has the same bytes after it)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main

SLICE = Path(__file__).parent / "fixtures" / "mpd.slice.0-2.json"


@dataclass(frozen=True)
class Env:
    """A valid world to break: an MPD, its cache, a split, and a scored run (popular, knn)."""

    mpd: Path
    cache: Path
    run: Path  # RUN_DIR with split/ inside
    submissions: Path  # submissions/<run name>/ of that run


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory, tiny_mpd: Path) -> Env:
    root = tmp_path_factory.mktemp("env")
    here = Path.cwd()
    os.chdir(root)
    try:
        argv = ["evaluate", "--mpd", str(tiny_mpd), "--out", str(root / "run")]
        argv += ["--cache-dir", str(root / "cache"), "--models", "popular,knn"]
        assert main([*argv, "--per-category", "1"]) == 0
    finally:
        os.chdir(here)
    return Env(tiny_mpd, root / "cache", root / "run", root / "submissions" / "run")


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (built in a fresh folder), the exit code and what the
    message must name (regular expressions); `may_change`: files (relative to the folder) the
    command may rightly rewrite."""

    id: str
    build: Callable[[Path, Env], list[str]]
    expect: tuple[str, ...]
    code: int = 2
    may_change: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # environment variables for the case


# ------------------------------------------------------------------------------ builders


def write(path: Path, data: bytes | str | Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = orjson.dumps(data)
    path.write_bytes(data)
    return path


def run_copy(tmp: Path, env: Env) -> Path:
    """A copy of the env's run folder (split inside), its split path recorded as the copy's."""
    run = tmp / "run"
    shutil.copytree(env.run, run)
    doc = orjson.loads((run / "run.json").read_bytes())
    doc["split"]["path"] = str(run / "split")
    (run / "run.json").write_bytes(orjson.dumps(doc))
    return run


def broken_run(edit: Callable[[Path], None], *command: str) -> Callable[[Path, Env], list[str]]:
    """A case: a copy of the run with `edit` applied, then `command` with RUN_DIR filled in."""

    def build(tmp: Path, env: Env) -> list[str]:
        run = run_copy(tmp, env)
        edit(run)
        return [str(run) if a == "RUN" else a for a in command]

    return build


def replace(name: str, data: bytes | str | Any) -> Callable[[Path], None]:
    return lambda run: (write(run / name, data), None)[1]


def slice_case(data: bytes | str) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        write(tmp / "mpd" / SLICE.name, data)
        return ["stats", str(tmp / "mpd"), "--cache-dir", str(tmp / "cache")]

    return build


def deep_json(depth: int) -> bytes:
    """The fixture slice with a playlist's name replaced by `depth` nested lists."""
    text = SLICE.read_text()
    return text.replace('"name": ', '"name": ' + "[" * depth + "]" * depth + ', "x": ', 1).encode()


REPORT = ("report", "RUN", "--out", "REPORT_OUT")


def report_case(edit: Callable[[Path], None]) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        argv = broken_run(edit, *REPORT)(tmp, env)
        return [str(tmp / "r.html") if a == "REPORT_OUT" else a for a in argv]

    return build


# ------------------------------------------------------------------------------ running a case


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> SHA-256 of every file under `root`."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def run_case(case: Case, tmp: Path, env: Env, capsys: pytest.CaptureFixture[str]) -> str:
    """Build, snapshot, run; check exit code, no traceback, nothing lost; return the output."""
    (tmp / "work").mkdir()
    here = Path.cwd()
    os.chdir(tmp / "work")  # runs/, submissions/ and logs land here, not in the repository
    try:
        argv = case.build(tmp, env)
        before = snapshot(tmp)
        capsys.readouterr()
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own errors: exit 2 with a usage line
            rc = int(e.code or 0)
    finally:
        os.chdir(here)
    out = capsys.readouterr()
    text = out.err + out.out
    assert rc == case.code, f"exit {rc}, not {case.code}, for {argv}:\n{text}"
    assert "Traceback" not in text, text
    after = snapshot(tmp)
    lost = [p for p, h in before.items() if after.get(p) != h and p not in case.may_change]
    assert not lost, f"changed or removed: {lost}"
    return text


def check(
    case: Case,
    env: Env,
    tmp: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run one case: exit code, the names in the message, no traceback, nothing lost."""
    monkeypatch.setenv("MPD_HARNESS_LOG_DIR", str(tmp / "logs"))
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    text = run_case(case, tmp, env, capsys)
    for pattern in case.expect:
        assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"
    assert "internal error" not in text  # every case is a known kind, named
