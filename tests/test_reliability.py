"""The bad-input matrix: each broken input makes its command exit non-zero with one clear line.

Every case runs `harness.cli.main` in-process on files built in a temporary folder and checks
the exit code, that the message names the file / line / pid / field, and that no traceback is
printed. Also here: the disk-full simulation and the static no-pickle / no-eval guarantees.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from harness import atomic
from harness.challenge.submission import write_submission
from harness.cli import main
from harness.data.synthetic import write_synthetic

ROOT = Path(__file__).resolve().parent.parent
SLICE = Path(__file__).parent / "fixtures" / "mpd.slice.0-2.json"


@dataclass(frozen=True)
class Base:
    """A valid synthetic MPD, a split of it and a submission that verifies against the split."""

    mpd: Path
    split: Path
    cache: Path
    submission: Path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    root = tmp_path_factory.mktemp("base")
    mpd, split, cache = root / "mpd", root / "split", root / "cache"
    write_synthetic(mpd, 300, seed=1, workers=1)
    rc = main(
        ["split", str(mpd), "--out", str(split), "--per-category", "1", "--cache-dir", str(cache)]
    )
    rc |= 0 if (split / "challenge_set.json").exists() else 1
    assert rc == 0
    sub = root / "sub.csv"
    challenge = orjson.loads((split / "challenge_set.json").read_bytes())["playlists"]
    uris = pq.read_table(split / "track_artists.parquet").column("track_uri").to_pylist()
    pids, recs = [], []
    for p in challenge:
        seeds = {t["track_uri"] for t in p["tracks"]}
        pids.append(p["pid"])
        recs.append([u for u in uris if u not in seeds][:500])
    write_submission(sub, pids, recs, "team", "a@b.c")
    assert main(["verify", str(sub), "--challenge-set", str(split / "challenge_set.json")]) == 0
    return Base(mpd, split, cache, sub)


# ------------------------------------------------------------------------------ builders


def _slice_doc() -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(SLICE.read_bytes())
    return doc


def _write(folder: Path, name: str, data: bytes | dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return path


def _stats(folder: Path, tmp: Path) -> list[str]:
    return ["stats", str(folder), "--cache-dir", str(tmp / "cache")]


def _edited_slice(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path, Base], list[str]]:
    """A case: the fixture slice with one playlist edited, read by `stats`."""

    def build(tmp: Path, base: Base) -> list[str]:
        doc = _slice_doc()
        edit(doc)
        _write(tmp / "mpd", SLICE.name, doc)
        return _stats(tmp / "mpd", tmp)

    return build


def _raw_slice(data: bytes) -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        _write(tmp / "mpd", SLICE.name, data)
        return _stats(tmp / "mpd", tmp)

    return build


def _pl(i: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda doc: doc["playlists"][i]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set `playlists[i].field` or `playlists[i].tracks[j].field` ("0.num_tracks", "0.2.pos")."""
    parts = path.split(".")

    def edit(doc: dict[str, Any]) -> None:
        obj = doc["playlists"][int(parts[0])]
        if len(parts) == 3:
            obj = obj["tracks"][int(parts[1])]
        obj[parts[-1]] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    parts = path.split(".")

    def edit(doc: dict[str, Any]) -> None:
        obj = doc["playlists"][int(parts[0])]
        if len(parts) == 3:
            obj = obj["tracks"][int(parts[1])]
        del obj[parts[-1]]

    return edit


def _dup_pid_within(doc: dict[str, Any]) -> None:
    doc["playlists"][1]["pid"] = doc["playlists"][0]["pid"]


def _dup_pid_across(tmp: Path, base: Base) -> list[str]:
    doc = _slice_doc()
    _write(tmp / "mpd", "mpd.slice.0-2.json", doc)
    _write(tmp / "mpd", "mpd.slice.0-5.json", doc)  # its name's range holds the pids 0..2
    return _stats(tmp / "mpd", tmp)


def _inconsistent_across(tmp: Path, base: Base) -> list[str]:
    """Slice 3-5 holds one valid playlist whose only track has another album than in 0-2."""
    doc = _slice_doc()
    _write(tmp / "mpd", "mpd.slice.0-2.json", doc)
    p = doc["playlists"][0]
    t = dict(p["tracks"][0], album_uri="spotify:album:" + "Z" * 22)
    p.update(pid=3, tracks=[t], num_tracks=1, num_artists=1, num_albums=1)
    p["duration_ms"] = t["duration_ms"]
    doc["playlists"] = [p]
    _write(tmp / "mpd", "mpd.slice.3-5.json", doc)
    return _stats(tmp / "mpd", tmp)


def _inconsistent_within(doc: dict[str, Any]) -> None:
    a, b = doc["playlists"][0], doc["playlists"][1]
    # Give playlist 1's first track the URI of playlist 0's first one, with another artist.
    t = dict(b["tracks"][0])
    t["track_uri"] = a["tracks"][0]["track_uri"]
    t["duration_ms"] = a["tracks"][0]["duration_ms"]
    b["duration_ms"] += t["duration_ms"] - b["tracks"][0]["duration_ms"]
    b["tracks"][0] = t


def _empty_folder(tmp: Path, base: Base) -> list[str]:
    (tmp / "mpd").mkdir()
    return _stats(tmp / "mpd", tmp)


def _unrelated_folder(tmp: Path, base: Base) -> list[str]:
    _write(tmp / "mpd", "README.md", b"# notes\n")
    _write(tmp / "mpd", "songs.csv", b"a,b\n")
    return _stats(tmp / "mpd", tmp)


def _missing_path(tmp: Path, base: Base) -> list[str]:
    return _stats(tmp / "nowhere", tmp)


def _unreadable_folder(tmp: Path, base: Base) -> list[str]:
    folder = tmp / "mpd"
    _write(folder, SLICE.name, SLICE.read_bytes())
    folder.chmod(0)
    return _stats(folder, tmp)


def _unreadable_slice(tmp: Path, base: Base) -> list[str]:
    path = _write(tmp / "mpd", SLICE.name, SLICE.read_bytes())
    path.chmod(0)
    return _stats(tmp / "mpd", tmp)


NOBODY = 65534  # the unprivileged user and group of Debian and most Linux systems


@contextmanager
def _unprivileged(needed: bool, warm_up: list[str]) -> Iterator[None]:
    """Permissions do not stop root: as root, run the block with the effective user and group
    `nobody`, so that a mode-0 file or folder really cannot be read. Python cannot import
    from root's private folders as nobody, so `warm_up` (the same command on readable data)
    first imports, as root, everything the command needs."""
    if not needed or os.geteuid() != 0:
        yield
        return
    assert main(warm_up) == 0
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@contextmanager
def _work_folder(tmp_path: Path, as_nobody: bool) -> Iterator[Path]:
    """`tmp_path`, or as root for an unprivileged case a folder nobody can reach (pytest's
    own folders are private to root), removed afterwards."""
    if not as_nobody or os.geteuid() != 0:
        yield tmp_path
        return
    work = Path(tempfile.mkdtemp(prefix="mpd-harness-unreadable-"))
    work.chmod(0o755)
    try:
        yield work
    finally:
        for p in [work, *work.rglob("*")]:
            with contextlib.suppress(OSError):
                p.chmod(0o755)
        shutil.rmtree(work, ignore_errors=True)


def _no_playlists(doc: dict[str, Any]) -> None:
    doc["playlists"] = []


def _split_cmd(*extra: str) -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        out = tmp / "split"
        return ["split", str(base.mpd), "--out", str(out), "--cache-dir", str(base.cache), *extra]

    return build


def _with_notes(folder: Path, tmp: Path) -> Path:
    """A folder with someone's file in it (not a split); returns `tmp` for the builders."""
    _write(folder, "notes.txt", b"mine")
    return tmp


def _split_under_file(tmp: Path, base: Base) -> list[str]:
    _write(tmp, "afile", b"x")
    out = str(tmp / "afile" / "split")
    return [
        "split",
        str(base.mpd),
        "--out",
        out,
        "--per-category",
        "1",
        "--cache-dir",
        str(base.cache),
    ]


# verify / score ---------------------------------------------------------------


def _sub_lines(base: Base) -> list[str]:
    return base.submission.read_text().splitlines()


def _verify_with(edit: Callable[[list[str]], list[str]]) -> Callable[[Path, Base], list[str]]:
    """A case: the valid submission with its lines edited, checked by `verify`."""

    def build(tmp: Path, base: Base) -> list[str]:
        sub = _write(tmp, "sub.csv", ("\n".join(edit(_sub_lines(base))) + "\n").encode())
        return ["verify", str(sub), "--challenge-set", str(base.split / "challenge_set.json")]

    return build


def _verify_raw(data: bytes, name: str = "sub.csv") -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        sub = _write(tmp, name, data)
        return ["verify", str(sub), "--challenge-set", str(base.split / "challenge_set.json")]

    return build


def _row(lines: list[str], i: int) -> list[str]:
    return lines[i].split(",")


def _edit_row(i: int, f: Callable[[list[str]], list[str]]) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        out = list(lines)
        out[i] = ",".join(f(_row(lines, i)))
        return out

    return edit


def _verify_not_utf8(tmp: Path, base: Base) -> list[str]:
    lines = base.submission.read_bytes().split(b"\n")
    lines[1] = lines[1][:-5] + b"\xff\xfe"
    sub = _write(tmp, "sub.csv", b"\n".join(lines))
    return ["verify", str(sub), "--challenge-set", str(base.split / "challenge_set.json")]


def _seed_of_first(base_split: Path) -> str:
    doc = orjson.loads((base_split / "challenge_set.json").read_bytes())
    for p in doc["playlists"]:
        if p["tracks"]:
            return str(p["tracks"][0]["track_uri"])
    raise AssertionError("no seeds")


def _seed_recommended(tmp: Path, base: Base) -> list[str]:
    doc = orjson.loads((base.split / "challenge_set.json").read_bytes())
    pid, seed = next(
        (p["pid"], p["tracks"][0]["track_uri"]) for p in doc["playlists"] if p["tracks"]
    )
    lines = _sub_lines(base)
    for i, line in enumerate(lines):
        f = line.split(",")
        if f[0] == str(pid):
            f[-1] = seed
            lines[i] = ",".join(f)
    sub = _write(tmp, "sub.csv", ("\n".join(lines) + "\n").encode())
    return ["verify", str(sub), "--challenge-set", str(base.split / "challenge_set.json")]


def _challenge_edit(
    edit: Callable[[dict[str, Any]], None],
) -> Callable[[Path, Base], list[str]]:
    """A case: `verify` the valid submission against an edited challenge set."""

    def build(tmp: Path, base: Base) -> list[str]:
        doc = orjson.loads((base.split / "challenge_set.json").read_bytes())
        edit(doc)
        cs = _write(tmp, "challenge_set.json", doc)
        return ["verify", str(base.submission), "--challenge-set", str(cs)]

    return build


def _split_copy(tmp: Path, base: Base) -> Path:
    split = tmp / "split"
    shutil.copytree(base.split, split)
    return split


def _score_split_edit(
    edit: Callable[[Path], None], *extra: str
) -> Callable[[Path, Base], list[str]]:
    """A case: `score` the valid submission against a copy of the split, edited."""

    def build(tmp: Path, base: Base) -> list[str]:
        split = _split_copy(tmp, base)
        edit(split)
        return ["score", str(base.submission), "--split", str(split), *extra]

    return build


def _gt_other_pids(split: Path) -> None:
    """Ground truth and challenge set of another draw: their pids are not the submission's."""
    for name in ("challenge_set.json", "ground_truth.json"):
        doc = orjson.loads((split / name).read_bytes())
        for p in doc["playlists"]:
            p["pid"] += 100_000
        (split / name).write_bytes(orjson.dumps(doc))


def _gt_extra_pid(split: Path) -> None:
    doc = orjson.loads((split / "ground_truth.json").read_bytes())
    doc["playlists"][0]["pid"] = 99_999
    (split / "ground_truth.json").write_bytes(orjson.dumps(doc))


def _gt_no_holdouts(split: Path) -> None:
    doc = orjson.loads((split / "ground_truth.json").read_bytes())
    doc["playlists"][0]["holdouts"] = []
    (split / "ground_truth.json").write_bytes(orjson.dumps(doc))


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _rm(name: str) -> Callable[[Path], None]:
    return lambda split: (split / name).unlink()


def _truncate(name: str) -> Callable[[Path], None]:
    def edit(split: Path) -> None:
        data = (split / name).read_bytes()
        (split / name).write_bytes(data[: len(data) // 2])

    return edit


# evaluate -----------------------------------------------------------------------


def _evaluate(*extra: str) -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        return [
            "evaluate",
            "--mpd",
            str(base.mpd),
            "--split",
            str(base.split),
            "--out",
            str(tmp / "run"),
            "--cache-dir",
            str(base.cache),
            *extra,
        ]

    return build


def _evaluate_new_split(*extra: str) -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        return [
            "evaluate",
            "--mpd",
            str(base.mpd),
            "--split",
            str(tmp / "split"),
            "--out",
            str(tmp / "run"),
            "--cache-dir",
            str(base.cache),
            "--models",
            "popular",
            *extra,
        ]

    return build


def _evaluate_out_under_file(tmp: Path, base: Base) -> list[str]:
    _write(tmp, "afile", b"x")
    return _evaluate("--models", "popular")(tmp, base)[:-4] + [
        "--out",
        str(tmp / "afile" / "run"),
        "--models",
        "popular",
    ]


def _evaluate_challenge(
    edit: Callable[[dict[str, Any]], None],
) -> Callable[[Path, Base], list[str]]:
    def build(tmp: Path, base: Base) -> list[str]:
        doc = orjson.loads((base.split / "challenge_set.json").read_bytes())
        edit(doc)
        cs = _write(tmp, "challenge_set.json", doc)
        return [
            "evaluate",
            "--mpd",
            str(base.mpd),
            "--challenge-set",
            str(cs),
            "--out",
            str(tmp / "run"),
            "--cache-dir",
            str(base.cache),
            "--models",
            "popular",
        ]

    return build


def _unknown_category(doc: dict[str, Any]) -> None:
    p = next(p for p in doc["playlists"] if len(p["tracks"]) == 5 and "name" in p)
    p["tracks"] = p["tracks"][:3]  # title + 3 seeds: no challenge category
    p["num_samples"] = 3
    p["num_holdouts"] = p["num_tracks"] - 3


def _broken_counts(doc: dict[str, Any]) -> None:
    p = next(p for p in doc["playlists"] if p["tracks"])
    p["num_samples"] += 1  # no longer the number of seed tracks


def _dup_challenge_pid(doc: dict[str, Any]) -> None:
    doc["playlists"][1]["pid"] = doc["playlists"][0]["pid"]


# ------------------------------------------------------------------------------ the matrix

GOOD = _slice_doc()
N0 = len(GOOD["playlists"][0]["tracks"])


@dataclass(frozen=True)
class Case:
    """One bad input: how to build the command line, and what the message must name."""

    id: str
    build: Callable[[Path, Base], list[str]]
    expect: tuple[str, ...]  # substrings (regular expressions) of the output
    xfail: str | None = None
    unprivileged: bool = False  # run as an ordinary user (as root: the user nobody)


CASES: list[Case] = [
    # --- slices: JSON
    Case(
        "json-syntax",
        _raw_slice(SLICE.read_bytes().replace(b'"pid": 1,', b'"pid": 1', 1)),
        (SLICE.name, r"line \d+"),
    ),
    Case("json-truncated", _raw_slice(SLICE.read_bytes()[:700]), (SLICE.name, r"truncated|end")),
    Case("json-empty-file", _raw_slice(b""), (SLICE.name,)),
    Case("json-not-utf8", _raw_slice(b"\xff\xfe\x00garbage"), (SLICE.name,)),
    Case("json-top-level-list", _raw_slice(b"[1, 2]"), (SLICE.name, "object")),
    Case("json-no-info", _edited_slice(lambda d: d.pop("info")), (SLICE.name, "info")),
    Case(
        "json-no-playlists", _edited_slice(lambda d: d.pop("playlists")), (SLICE.name, "playlists")
    ),
    Case(
        "json-playlists-not-list",
        _edited_slice(lambda d: d.update(playlists={})),
        (SLICE.name, "playlists"),
    ),
    Case("slice-without-playlists", _edited_slice(_no_playlists), ("mpd", "no playlists")),
    # --- slices: playlist fields
    Case("playlist-missing-name", _edited_slice(_delete("0.name")), (SLICE.name, "pid 0", "name")),
    Case("playlist-missing-pid", _edited_slice(_delete("1.pid")), (SLICE.name, "pid")),
    Case(
        "playlist-missing-tracks",
        _edited_slice(_delete("0.tracks")),
        (SLICE.name, "pid 0", "tracks"),
    ),
    Case(
        "playlist-extra-field", _edited_slice(_set("0.rating", 5)), (SLICE.name, "pid 0", "rating")
    ),
    Case("playlist-pid-string", _edited_slice(_set("1.pid", "one")), (SLICE.name, "pid")),
    Case(
        "playlist-num-tracks-string",
        _edited_slice(_set("0.num_tracks", "6")),
        (SLICE.name, "pid 0", "num_tracks"),
    ),
    Case(
        "playlist-collaborative-bad",
        _edited_slice(_set("0.collaborative", "maybe")),
        (SLICE.name, "pid 0", "collaborative"),
    ),
    Case("playlist-name-empty", _edited_slice(_set("0.name", "")), (SLICE.name, "pid 0", "name")),
    Case(
        "playlist-num-tracks-mismatch",
        _edited_slice(_set("0.num_tracks", N0 + 1)),
        (SLICE.name, "pid 0", "num_tracks"),
    ),
    Case(
        "playlist-duration-mismatch",
        _edited_slice(_set("0.duration_ms", 1)),
        (SLICE.name, "pid 0", "duration_ms"),
    ),
    Case(
        "playlist-num-artists-mismatch",
        _edited_slice(_set("0.num_artists", 99)),
        (SLICE.name, "pid 0", "num_artists"),
    ),
    Case(
        "playlist-num-albums-mismatch",
        _edited_slice(_set("0.num_albums", 99)),
        (SLICE.name, "pid 0", "num_albums"),
    ),
    Case(
        "playlist-duplicate-pid-in-slice",
        _edited_slice(_dup_pid_within),
        (SLICE.name, "pid 0", "earlier"),
    ),
    Case(
        "playlist-duplicate-pid-across-slices",
        _dup_pid_across,
        ("mpd.slice.0-5.json", "pid 0", "mpd.slice.0-2.json"),
    ),
    # --- slices: track fields
    Case(
        "track-missing-uri",
        _edited_slice(_delete("0.1.track_uri")),
        (SLICE.name, "pid 0", "track_uri"),
    ),
    Case(
        "track-extra-field",
        _edited_slice(_set("0.1.popularity", 3)),
        (SLICE.name, "pid 0", "popularity"),
    ),
    Case(
        "track-duration-string",
        _edited_slice(_set("0.1.duration_ms", "264000")),
        (SLICE.name, "pid 0", "duration_ms"),
    ),
    Case("track-pos-gap", _edited_slice(_set("0.2.pos", 3)), (SLICE.name, "pid 0", r"pos")),
    Case(
        "track-bad-uri",
        _edited_slice(_set("0.1.track_uri", "spotify:track:short")),
        (SLICE.name, "pid 0", "track_uri"),
    ),
    Case(
        "track-bad-artist-uri",
        _edited_slice(_set("0.1.artist_uri", "artist:x")),
        (SLICE.name, "pid 0", "artist_uri"),
    ),
    Case(
        "track-inconsistent-in-slice",
        _edited_slice(_inconsistent_within),
        (SLICE.name, "pid 1", "artist_uri|album_uri"),
    ),
    Case(
        "track-inconsistent-across-slices",
        _inconsistent_across,
        ("mpd.slice.3-5.json", "pid 3", "album_uri"),
    ),
    # --- folders
    Case("folder-missing", _missing_path, ("nowhere", "no such")),
    Case("folder-empty", _empty_folder, ("mpd", "empty")),
    Case("folder-unrelated-files", _unrelated_folder, ("mpd", r"mpd\.slice", "README.md")),
    Case("folder-unreadable", _unreadable_folder, ("mpd", "ermission"), unprivileged=True),
    Case("slice-unreadable", _unreadable_slice, (SLICE.name, "ermission"), unprivileged=True),
    # --- split
    Case(
        "split-per-category-too-large",
        _split_cmd("--per-category", "500"),
        ("category", "per-category"),
    ),
    Case("split-per-category-zero", _split_cmd("--per-category", "0"), ("per-category",)),
    Case("split-out-under-a-file", _split_under_file, ("afile",)),
    Case(
        "generate-negative-seed",
        lambda tmp, base: [
            "generate",
            "--model",
            "popular",
            "--run",
            str(tmp / "norun"),
            "--title",
            "x",
            "--seed",
            "-1",
        ],
        ("--seed -1", ">= 0"),
    ),
    Case("split-negative-seed", _split_cmd("--seed", "-3"), ("--seed -3", ">= 0")),
    Case(
        "split-out-not-a-split",
        lambda tmp, base: _split_cmd()(_with_notes(tmp / "split", tmp), base),
        ("split", "not a split"),
    ),
    Case(
        "split-out-is-a-file",
        lambda tmp, base: _split_cmd()(_write(tmp, "split", b"x").parent, base),
        ("split", "not a folder"),
    ),
    # --- verify: every verifier failure
    Case("verify-no-team-info", _verify_with(lambda ls: ls[1:]), ("team_info", r"line 1\b")),
    Case(
        "verify-bad-team-info",
        _verify_with(lambda ls: ["team_info,onlyteam", *ls[1:]]),
        ("team_info", r"line 1\b"),
    ),
    Case("verify-second-team-info", _verify_with(lambda ls: [*ls, ls[0]]), ("team_info",)),
    Case(
        "verify-pid-not-integer",
        _verify_with(_edit_row(1, lambda f: ["x1", *f[1:]])),
        (r"line 2\b", "'x1'", "integer"),
    ),
    Case(
        "verify-pid-unknown",
        _verify_with(_edit_row(1, lambda f: ["987654", *f[1:]])),
        (r"line 2\b", "987654", "not in the challenge set"),
    ),
    Case("verify-pid-twice", _verify_with(lambda ls: [*ls, ls[1]]), (r"already given on line 2",)),
    Case(
        "verify-499-tracks",
        _verify_with(_edit_row(1, lambda f: f[:-1])),
        (r"line 2\b", "499 tracks"),
    ),
    Case(
        "verify-repeated-track",
        _verify_with(_edit_row(1, lambda f: [*f[:-1], f[1]])),
        (r"line 2\b", "repeated"),
    ),
    Case(
        "verify-malformed-uri",
        _verify_with(_edit_row(1, lambda f: [*f[:-1], "spotify:x"])),
        (r"line 2\b", "malformed", "spotify:x"),
    ),
    Case("verify-seed-recommended", _seed_recommended, ("seed track",)),
    Case("verify-missing-pids", _verify_with(lambda ls: ls[:-1]), ("missing pids",)),
    Case("verify-not-utf8", _verify_not_utf8, (r"line 2\b", "UTF-8")),
    Case("verify-empty-file", _verify_raw(b""), ("team_info", "no content")),
    Case(
        "verify-corrupt-gzip",
        _verify_raw(gzip.compress(b"team_info,a,b\n" * 50)[:40], "sub.csv.gz"),
        ("sub.csv.gz", "gzip"),
    ),
    Case(
        "verify-no-such-file",
        lambda tmp, base: [
            "verify",
            str(tmp / "none.csv"),
            "--challenge-set",
            str(base.split / "challenge_set.json"),
        ],
        ("none.csv", "no such file"),
    ),
    Case(
        "verify-challenge-not-json",
        lambda tmp, base: [
            "verify",
            str(base.submission),
            "--challenge-set",
            str(_write(tmp, "cs.json", b"{")),
        ],
        ("cs.json",),
    ),
    Case(
        "verify-challenge-dup-pid",
        _challenge_edit(_dup_challenge_pid),
        ("challenge_set.json", r"playlists\[1\]", "twice"),
    ),
    Case(
        "verify-known-tracks-unreadable",
        lambda tmp, base: [
            "verify",
            str(base.submission),
            "--challenge-set",
            str(base.split / "challenge_set.json"),
            "--known-tracks",
            str(_write(tmp, "t.parquet", b"nope")),
        ],
        ("t.parquet",),
    ),
    # --- score
    Case(
        "score-ground-truth-other-pids",
        _score_split_edit(_gt_other_pids),
        ("not in the challenge set",),
    ),
    Case(
        "score-ground-truth-other-pids-no-verify",
        _score_split_edit(_gt_other_pids, "--no-verify"),
        ("split", "none of the submission's"),
    ),
    Case(
        "score-ground-truth-pid-mismatch",
        _score_split_edit(_gt_extra_pid),
        ("ground_truth.json", "99999"),
    ),
    Case(
        "score-ground-truth-no-holdouts",
        _score_split_edit(_gt_no_holdouts),
        ("ground_truth.json", "pid"),
    ),
    Case(
        "score-no-ground-truth", _score_split_edit(_rm("ground_truth.json")), ("ground_truth.json",)
    ),
    Case(
        "score-no-track-artists",
        _score_split_edit(_rm("track_artists.parquet")),
        ("track_artists.parquet",),
    ),
    Case(
        "score-truncated-track-artists",
        _score_split_edit(_truncate("track_artists.parquet")),
        ("track_artists.parquet",),
    ),
    Case(
        "score-truncated-ground-truth",
        _score_split_edit(_truncate("ground_truth.json")),
        ("ground_truth.json",),
    ),
    Case(
        "score-unverified-submission",
        lambda tmp, base: [
            "score",
            str(_verify_with(lambda ls: ls[:-1])(tmp, base)[1]),
            "--split",
            str(base.split),
        ],
        ("does not verify", "missing pids"),
    ),
    # --- evaluate: models and parameters
    Case("evaluate-unknown-model", _evaluate("--models", "nope"), ("nope", "available")),
    Case(
        "evaluate-unknown-param", _evaluate("--models", "knn", "-p", "knn.nope=1"), ("knn", "nope")
    ),
    Case(
        "evaluate-param-empty-value",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors="),
        ("knn.k_neighbors",),
    ),
    Case(
        "evaluate-param-no-dot",
        _evaluate("--models", "knn", "-p", "knnk_neighbors=3"),
        ("knnk_neighbors=3", "MODEL.PARAM=VALUE"),
    ),
    Case(
        "evaluate-param-no-equals",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors"),
        ("knn.k_neighbors", "MODEL.PARAM=VALUE"),
    ),
    Case(
        "evaluate-param-wrong-type",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors=abc"),
        ("knn.k_neighbors", "abc"),
    ),
    Case(
        "evaluate-param-code-not-run",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors=__import__('os').getpid()"),
        ("knn.k_neighbors", "__import__"),
    ),
    Case(
        "evaluate-param-other-model",
        _evaluate("--models", "popular", "-p", "knn.k_neighbors=3"),
        ("knn", "not being run"),
    ),
    Case(
        "evaluate-param-out-of-range",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors=0"),
        ("knn", "k_neighbors must be >= 1"),
    ),
    Case(
        "evaluate-param-unknown-choice",
        _evaluate("--models", "knn", "-p", "knn.weighting='bogus'"),
        ("knn", "weighting", "bogus"),
    ),
    Case(
        "evaluate-item-knn-negative",
        _evaluate("--models", "item_knn", "-p", "item_knn.n_neighbors=-1"),
        ("item_knn", "n_neighbors"),
    ),
    Case(
        "evaluate-param-none-for-an-int",
        _evaluate("--models", "knn", "-p", "knn.k_neighbors=None"),
        ("knn.k_neighbors", "expected int"),
    ),
    Case("evaluate-k-zero", _evaluate("--models", "popular", "--k", "0"), ("--k",)),
    Case(
        "evaluate-split-not-a-split",
        lambda tmp, base: _evaluate_new_split()(_with_notes(tmp / "split", tmp), base),
        ("split", "not a split"),
    ),
    Case(
        "evaluate-per-category-too-large",
        _evaluate_new_split("--per-category", "500"),
        ("category", "per-category"),
    ),
    Case("evaluate-out-under-a-file", _evaluate_out_under_file, ("afile",)),
    Case(
        "evaluate-missing-mpd",
        lambda tmp, base: [
            "evaluate",
            "--mpd",
            str(tmp / "nompd"),
            "--out",
            str(tmp / "run"),
            "--cache-dir",
            str(tmp),
        ],
        ("nompd",),
    ),
    Case(
        "evaluate-challenge-unknown-category",
        _evaluate_challenge(_unknown_category),
        ("challenge_set.json", "pid", "categor"),
    ),
    Case(
        "evaluate-challenge-broken-counts",
        _evaluate_challenge(_broken_counts),
        ("challenge_set.json", "pid", "num_samples"),
    ),
    Case(
        "evaluate-challenge-dup-pid",
        _evaluate_challenge(_dup_challenge_pid),
        ("challenge_set.json", "pid"),
    ),
    # --- leaderboard / report / generate on things that are not runs
    Case(
        "leaderboard-not-a-run",
        lambda tmp, base: ["leaderboard", str(_mkdir(tmp / "notarun"))],
        ("notarun",),
    ),
    Case("report-not-a-run", lambda tmp, base: ["report", str(tmp / "none")], ("none",)),
    Case(
        "report-out-is-a-folder",
        lambda tmp, base: ["report", str(tmp), "--out", str(tmp)],
        ("--out", "a folder", "report.html"),
    ),
    Case(
        "generate-not-a-run",
        lambda tmp, base: [
            "generate",
            "--model",
            "popular",
            "--run",
            str(tmp / "none"),
            "--title",
            "x",
        ],
        ("none",),
    ),
]


def _params() -> list[Any]:
    out = []
    for c in CASES:
        marks = [pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_the_matrix_is_large_and_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(set(ids)) == len(ids)
    assert len(ids) >= 40


@pytest.mark.parametrize("case", _params())
def test_bad_input(
    case: Case,
    base: Base,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # runs/ and submissions/ of a run land here, not in the repo
    warm_up = ["stats", str(SLICE), "--cache-dir", str(tmp_path / "warm")]
    with _work_folder(tmp_path, case.unprivileged) as work:
        argv = case.build(work, base)
        try:
            with _unprivileged(case.unprivileged, warm_up):
                rc = main(argv)
        except SystemExit as e:  # argparse's own errors exit 2 with a usage line
            rc = int(e.code or 0)
    out = capsys.readouterr()
    text = out.err + out.out
    assert rc != 0, f"exit 0 for {argv}:\n{text}"
    assert "Traceback" not in text
    for pattern in case.expect:
        assert re.search(pattern, text), f"{pattern!r} not in:\n{text}"


# ------------------------------------------------------------------------------ disk full


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1]))


@pytest.mark.parametrize("command", ["split", "evaluate"])
def test_disk_full_is_clear_and_leaves_nothing_partial(
    command: str,
    base: Base,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every final rename fails with ENOSPC: one clear line, and no file under the output."""
    monkeypatch.setattr(atomic.os, "replace", _enospc)
    if command == "split":
        argv = _split_cmd("--per-category", "1")(tmp_path, base)
    else:
        argv = _evaluate_new_split()(tmp_path, base)
    rc = main(argv)
    text = "".join(capsys.readouterr())
    assert rc != 0
    assert "Traceback" not in text
    assert "No space left on device" in text
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


# ------------------------------------------------------------------------------ static


_UNSAFE_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "joblib",
    "shelve",
    "marshal",
}
_UNSAFE_CALLS = {"eval", "exec", "compile", "__import__"}


def _unsafe(source: str) -> list[tuple[int, str]]:
    """(line, what) of each pickle import, eval/exec call, allow_pickle=True or torch.load."""
    hits: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            hits += [
                (node.lineno, f"import {n}") for n in names if n.split(".")[0] in _UNSAFE_MODULES
            ]
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in _UNSAFE_CALLS:
                hits.append((node.lineno, f"{f.id}()"))
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                if f.value.id in _UNSAFE_MODULES or (f.value.id, f.attr) == ("torch", "load"):
                    hits.append((node.lineno, f"{f.value.id}.{f.attr}()"))
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (
                    isinstance(kw.value, ast.Constant) and kw.value.value is False
                ):
                    hits.append((node.lineno, "allow_pickle not False"))
    return hits


def _sources() -> list[Path]:
    return sorted([*ROOT.glob("harness/**/*.py"), *ROOT.glob("models/**/*.py")])


def test_no_pickle_and_no_eval_in_the_package() -> None:
    """Nothing is loaded with pickle and no config value is run as code (docs/reliability.md)."""
    hits = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in _sources()
        for line, what in _unsafe(path.read_text())
    ]
    assert len(_sources()) > 10
    assert hits == []


@pytest.mark.parametrize(
    "bad",
    [
        "import pickle",
        "from joblib import load",
        "np.load(f, allow_pickle=True)",
        "x = eval(s)",
        "exec(code)",
        "pickle.loads(b)",
        "torch.load(p)",
    ],
)
def test_the_static_check_catches_what_it_looks_for(bad: str) -> None:
    assert _unsafe(bad)


def test_the_static_check_passes_safe_code() -> None:
    safe = "ast.literal_eval(s)\nmodel.eval()\nnp.load(f, allow_pickle=False)\n'pickle'\n"
    assert _unsafe(safe) == []


# ------------------------------------------------------------------------------ determinism

DETERMINISM_PARAMS = [
    "-p", "w2v.epochs=2", "-p", "w2v.min_count=1", "-p", "w2v.workers=1",
    "-p", "sgns.epochs=1", "-p", "sgns.min_count=1", "-p", "sgns.device='cpu'", "-p", "sgns.threads=1",
]  # fmt: skip


@pytest.mark.slow
def test_two_evaluate_runs_are_byte_identical(
    base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same seeds, same data: identical split, recommendation files and submissions."""
    models = "popular,title,knn,item_knn,w2v,sgns"
    runs: list[Path] = []
    subs: list[dict[str, bytes]] = []
    for name in ("a", "b"):
        monkeypatch.chdir(tmp_path)
        argv = _evaluate_new_split("--seed", "5", "--per-category", "1")(tmp_path / name, base)
        argv[argv.index("--models") + 1] = models
        assert main([*argv, *DETERMINISM_PARAMS]) == 0
        runs.append(tmp_path / name)
        # both runs are named "run": keep the submissions aside before the second writes its own
        subs.append({p.name: p.read_bytes() for p in tmp_path.glob("submissions/*/*.csv.gz")})
        shutil.rmtree(tmp_path / "submissions")
    a, b = runs
    for f in ("challenge_set.json", "ground_truth.json", "track_artists.parquet"):
        assert (a / "split" / f).read_bytes() == (b / "split" / f).read_bytes(), f
    for model in models.split(","):
        manifest = orjson.loads((a / "run" / model / "manifest.json").read_bytes())
        assert manifest["deterministic"] is True, model
        assert isinstance(manifest["determinism_note"], str)
        ra, rb = (r / "run" / model / "recs.npz" for r in (a, b))
        assert ra.read_bytes() == rb.read_bytes(), model
    assert sorted(subs[0]) == sorted(f"{m}.csv.gz" for m in models.split(","))
    assert subs[0] == subs[1]


def test_atomic_dir_gets_the_permissions_of_a_plain_mkdir(tmp_path: Path) -> None:
    """A split or corpus cache must be readable by the group like any folder, not 0700."""
    (tmp_path / "plain").mkdir()
    with atomic.atomic_dir(tmp_path / "atomic") as d:
        (d / "f").write_text("x")
    mode = (tmp_path / "atomic").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain").stat().st_mode & 0o777


def _dead_pid() -> int:
    """A pid that no longer exists: a child that has exited and been reaped."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_atomic_writes_remove_what_killed_writers_left_and_nothing_else(tmp_path: Path) -> None:
    """Leftovers of a dead writer on this host go; a live writer's, another host's, another
    target's and an unrecognised name stay."""
    host = atomic._host_tag()
    dead, live = _dead_pid(), os.getppid()
    stale_dir = tmp_path / f".split.tmp-{dead}-{host}-abc"
    stale_old = tmp_path / f".split.old-{dead}-{host}-def"
    stale_file = tmp_path / f".meta.json.tmp-{dead}-{host}-ghi.json"
    kept = [
        tmp_path / f".split.tmp-{live}-{host}-jkl",  # a live writer
        tmp_path / f".split.tmp-{dead}-otherhost{host}-mno",  # another host sharing the folder
        tmp_path / f".splitx.tmp-{dead}-{host}-pqr",  # another target
        tmp_path / ".split.tmp-stu",  # not a name this module makes
    ]
    for d in [stale_dir, stale_old, *kept]:
        d.mkdir()
        (d / "slice.json").write_text("{}")
    stale_file.write_text("{")
    with atomic.atomic_dir(tmp_path / "split") as d:
        (d / "f").write_text("x")
    assert not stale_dir.exists() and not stale_old.exists()
    assert stale_file.exists()  # another target: swept by a write of meta.json only
    atomic.write_json(tmp_path / "meta.json", {"a": 1})
    assert not stale_file.exists()
    assert all(p.exists() for p in kept)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["split", "meta.json", *(p.name for p in kept)]
    )


@pytest.mark.slow
def test_manifest_says_a_multithreaded_w2v_run_is_not_deterministic(
    base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = _evaluate("--models", "w2v", "-p", "w2v.workers=2", "-p", "w2v.epochs=1")(tmp_path, base)
    assert main([*argv, "-p", "w2v.min_count=1"]) == 0
    manifest = orjson.loads((tmp_path / "run" / "w2v" / "manifest.json").read_bytes())
    assert manifest["deterministic"] is False


@pytest.mark.parametrize("command", ["split", "evaluate"])
def test_writing_a_split_never_deletes_other_files(
    command: str, base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split replaces its folder as a whole: a folder holding anything else is refused and
    kept as it was; so is a file where the folder should go."""
    monkeypatch.chdir(tmp_path)
    build = _split_cmd("--per-category", "1") if command == "split" else _evaluate_new_split()
    _with_notes(tmp_path / "split", tmp_path)
    assert main(build(tmp_path, base)) == 2
    assert (tmp_path / "split" / "notes.txt").read_bytes() == b"mine"
    (tmp_path / "split" / "notes.txt").unlink()
    (tmp_path / "split").rmdir()
    _write(tmp_path, "split", b"a file")
    assert main(build(tmp_path, base)) == 2
    assert (tmp_path / "split").read_bytes() == b"a file"
    (tmp_path / "split").unlink()
    (tmp_path / "split").mkdir()  # an empty folder is fine, and so is an earlier split
    assert main(build(tmp_path, base)) == 0
    assert main(_split_cmd("--per-category", "1")(tmp_path, base)) == 0


def test_atomic_dir_refuses_to_replace_a_file(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"data")
    with pytest.raises(FileExistsError), atomic.atomic_dir(tmp_path / "x"):
        pass
    assert (tmp_path / "x").read_bytes() == b"data"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name fds")
def test_atomic_dir_syncs_its_files_before_publishing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written inside the folder by other writers (np.savez, parquet) are fsynced too,
    and so is the parent folder after the rename."""
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    with atomic.atomic_dir(tmp_path / "cache") as d:
        (d / "sub").mkdir()
        (d / "sub" / "arrays.npz").write_bytes(b"x")
        (d / "meta.json").write_bytes(b"{}")
    names = {Path(p).name for p in synced}
    assert {"arrays.npz", "meta.json", "sub"} <= names
    assert str(tmp_path) in synced  # the parent, after the rename
