"""Runs are reused only when provably current (harness/run/provenance.py): a manifest edited by
hand, a file changed, or a run of an older version without key fields and file hashes is
recomputed by `evaluate` (and refused by leaderboard and report: tests/test_bad_inputs.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main
from harness.run.manifest import fingerprint
from harness.run.rundir import why_not_current


def _evaluate(tmp: Path, mpd: Path) -> list[str]:
    argv = ["evaluate", "--mpd", str(mpd), "--out", str(tmp / "run"), "--models", "popular"]
    return [*argv, "--per-category", "1", "--cache-dir", str(tmp / "cache")]


def _manifest(tmp: Path) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((tmp / "run" / "popular" / "manifest.json").read_bytes())
    return doc


def _edit(tmp: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    doc = _manifest(tmp)
    edit(doc)
    (tmp / "run" / "popular" / "manifest.json").write_bytes(orjson.dumps(doc))


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))


TAMPERING: dict[str, tuple[Callable[[Path], None], str]] = {
    "data fingerprint edited": (
        lambda tmp: _edit(tmp, lambda d: d["data"].update(fingerprint="0" * 24)),
        "data_fingerprint",
    ),
    "split fingerprint edited": (
        lambda tmp: _edit(tmp, lambda d: d["split"].update(fingerprint="0" * 16)),
        "split_fingerprint",
    ),
    "params edited": (lambda tmp: _edit(tmp, lambda d: d.update(params={"x": 1})), "params"),
    "key fields edited": (
        lambda tmp: _edit(tmp, lambda d: d["key_fields"].update(runner=0)),
        "does not match",
    ),
    "an older version's manifest": (
        lambda tmp: _edit(tmp, lambda d: [d.pop("key_fields"), d.pop("files_sha256")]),
        "older mpd-harness",
    ),
    "recs.npz changed": (lambda tmp: _flip(tmp / "run" / "popular" / "recs.npz"), "recs.npz"),
    "metrics.parquet changed": (
        lambda tmp: _flip(tmp / "run" / "popular" / "metrics.parquet"),
        "metrics.parquet",
    ),
}


def test_a_current_run_is_reused_and_sealed(
    tmp_path: Path, tiny_mpd: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_evaluate(tmp_path, tiny_mpd)) == 0
    m = _manifest(tmp_path)
    assert fingerprint(m["key_fields"]) == m["key"]
    for name in ("recs.npz", "metrics.parquet"):
        digest = hashlib.sha256((tmp_path / "run" / "popular" / name).read_bytes()).hexdigest()
        assert m["files_sha256"][name] == digest
    assert why_not_current(tmp_path / "run" / "popular", m) is None
    capsys.readouterr()
    assert main(_evaluate(tmp_path, tiny_mpd)) == 0
    assert "popular: reusing" in capsys.readouterr().err


@pytest.mark.parametrize("tampering", TAMPERING)
def test_a_run_not_provably_current_is_recomputed(
    tmp_path: Path,
    tiny_mpd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tampering: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(_evaluate(tmp_path, tiny_mpd)) == 0
    recs = (tmp_path / "run" / "popular" / "recs.npz").read_bytes()
    edit, reason = TAMPERING[tampering]
    edit(tmp_path)
    capsys.readouterr()
    assert main(_evaluate(tmp_path, tiny_mpd)) == 0
    err = capsys.readouterr().err
    assert "popular: reusing" not in err
    assert "popular: not reusing" in err and reason in err, err
    m = _manifest(tmp_path)
    assert why_not_current(tmp_path / "run" / "popular", m) is None  # recomputed and sealed
    assert (tmp_path / "run" / "popular" / "recs.npz").read_bytes() == recs  # deterministic
    assert main(["leaderboard", str(tmp_path / "run")]) == 0
