"""The bad-input table, round 2 (issue 24): slices, submissions, challenge sets and sizes.

Run like tests/test_bad_inputs.py (tests/badinput.py `check`): exit code, the names in the
message, no traceback, nothing lost.
"""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from badinput import SLICE, Case, Env, check, env, write

__all__ = ["env"]  # the fixture, imported for pytest

CAP_ENV = "MPD_HARNESS_MAX_SLICE_MB"


# ------------------------------------------------------------------------------ slices


def _stats(folder: Path, tmp: Path, *extra: str) -> list[str]:
    return ["stats", str(folder), "--cache-dir", str(tmp / "cache"), *extra]


def odd_entry(kind: str, command: str = "stats") -> Callable[[Path, Env], list[str]]:
    """The fixture slice and an entry `mpd.slice.3-5.json` that is not a readable file."""

    def build(tmp: Path, env: Env) -> list[str]:
        mpd = tmp / "mpd"
        write(mpd / SLICE.name, SLICE.read_bytes())
        odd = mpd / "mpd.slice.3-5.json"
        if kind == "folder":
            odd.mkdir()
        elif kind == "loop":
            os.symlink(odd, odd)
        else:
            os.symlink(tmp / "gone.json", odd)
        return _command(command, mpd, tmp)

    return build


def _command(command: str, mpd: Path, tmp: Path) -> list[str]:
    cache = ["--cache-dir", str(tmp / "cache")]
    if command == "stats":
        return ["stats", str(mpd), *cache]
    if command == "split":
        return ["split", str(mpd), "--out", str(tmp / "split"), "--per-category", "1", *cache]
    out = ["--out", str(tmp / "run"), "--models", "popular", "--per-category", "1"]
    return ["evaluate", "--mpd", str(mpd), *out, *cache]


def edited_slice(
    edit: Callable[[dict[str, Any]], None], command: str = "stats"
) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        doc = orjson.loads(SLICE.read_bytes())
        edit(doc)
        write(tmp / "mpd" / SLICE.name, doc)
        return _command(command, tmp / "mpd", tmp)

    return build


def _empty_playlist(doc: dict[str, Any]) -> None:
    p = doc["playlists"][0]
    p.update(tracks=[], num_tracks=0, num_artists=0, num_albums=0, duration_ms=0)


def _pid(value: int) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["playlists"][1].update(pid=value)


def _zipped(tmp: Path, env: Env) -> list[str]:
    with zipfile.ZipFile(tmp / "mpd.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(SLICE, f"data/{SLICE.name}")
    return _stats(tmp / "mpd.zip", tmp)


def _plain(tmp: Path, env: Env) -> list[str]:
    write(tmp / "mpd" / SLICE.name, SLICE.read_bytes())
    return _stats(tmp / "mpd", tmp)


TINY_CAP = {CAP_ENV: "0.001"}  # 1,048 bytes: the fixture slice is bigger

# ------------------------------------------------------------------------------ submissions


def _lines(env: Env) -> list[str]:
    path = env.submissions / "popular.csv.gz"
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def verify_lines(
    edit: Callable[[list[str]], list[str]], *extra: str, gz: bool = False, cmd: str = "verify"
) -> Callable[[Path, Env], list[str]]:
    """A case: the env's popular submission with its lines edited, verified (or scored)."""

    def build(tmp: Path, env: Env) -> list[str]:
        data = ("\n".join(edit(_lines(env))) + "\n").encode()
        sub = write(tmp / ("sub.csv.gz" if gz else "sub.csv"), gzip.compress(data) if gz else data)
        if cmd == "score":
            return ["score", str(sub), "--split", str(env.run / "split")]
        return [
            "verify",
            str(sub),
            "--challenge-set",
            str(env.run / "split" / "challenge_set.json"),
            *extra,
        ]

    return build


def _long_line(lines: list[str]) -> list[str]:
    return [lines[0], lines[1] + ",x" * 150_000, *lines[2:]]


def _one_huge_line(tmp: Path, env: Env) -> list[str]:
    sub = write(tmp / "sub.csv", b"team_info," + b"a" * 400_000)
    return ["verify", str(sub), "--challenge-set", str(env.run / "split" / "challenge_set.json")]


# ------------------------------------------------------------------------------ challenge sets


def challenge_edit(
    edit: Callable[[list[dict[str, Any]]], None], cmd: str = "verify"
) -> Callable[[Path, Env], list[str]]:
    """A case: the env's popular submission against an edited copy of its challenge set."""

    def build(tmp: Path, env: Env) -> list[str]:
        doc = orjson.loads((env.run / "split" / "challenge_set.json").read_bytes())
        edit(doc["playlists"])
        cs = write(tmp / "challenge_set.json", doc)
        sub = str(env.submissions / "popular.csv.gz")
        if cmd == "evaluate":
            cache = ["--cache-dir", str(env.cache), "--models", "popular"]
            return ["evaluate", "--mpd", str(env.mpd), "--challenge-set", str(cs), *cache]
        return ["verify", sub, "--challenge-set", str(cs)]

    return build


def _with_seeds(n: int) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    return lambda ps: next(p for p in ps if len(p["tracks"]) == n)


def _million_samples(ps: list[dict[str, Any]]) -> None:
    p = _with_seeds(5)(ps)
    p["num_samples"] = 10**6
    p["num_tracks"] = 10**6 + p["num_holdouts"]


def _no_category(ps: list[dict[str, Any]]) -> None:
    del _with_seeds(1)(ps)["name"]  # one seed and no title: no challenge category


def _repeated_seed(ps: list[dict[str, Any]]) -> None:
    p = _with_seeds(5)(ps)
    p["tracks"][4] = dict(p["tracks"][3])  # the same seed twice
    p["num_samples"] = 5


def _seed_outside(ps: list[dict[str, Any]]) -> None:
    p = _with_seeds(5)(ps)
    p["tracks"][4]["pos"] = p["num_tracks"]


def _counts_off(ps: list[dict[str, Any]]) -> None:
    _with_seeds(10)(ps)["num_holdouts"] += 1


def _huge_challenge(tmp: Path, env: Env) -> list[str]:
    cs = write(tmp / "challenge_set.json", b"{}")
    os.truncate(cs, (1 << 30) + 1)  # sparse: over the limit without using the disk
    return ["verify", str(env.submissions / "popular.csv.gz"), "--challenge-set", str(cs)]


# ------------------------------------------------------------------------------ sizes


def evaluate_p(*extra: str) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        argv = ["evaluate", "--mpd", str(env.mpd), "--out", str(tmp / "run")]
        return [*argv, "--cache-dir", str(env.cache), "--per-category", "1", *extra]

    return build


def generate(*extra: str) -> Callable[[Path, Env], list[str]]:
    return lambda tmp, env: [
        *("generate", "--model", "popular", "--run", str(env.run), "--title", "x"),
        *extra,
    ]


def synth(*extra: str) -> Callable[[Path, Env], list[str]]:
    return lambda tmp, env: ["synth", "--out", str(tmp / "out"), *extra]


def _split_fixture(tmp: Path, env: Env) -> list[str]:
    cache = ["--cache-dir", str(tmp / "cache")]
    return ["split", str(SLICE), "--out", str(tmp / "s"), "--per-category", "1", *cache]


def _evaluate_fixture(tmp: Path, env: Env) -> list[str]:
    cache = ["--cache-dir", str(tmp / "cache"), "--models", "popular", "--out", str(tmp / "r")]
    return ["evaluate", "--mpd", str(SLICE), "--per-category", "1", *cache]


def check_model(*argv: str) -> Callable[[Path, Env], list[str]]:
    return lambda tmp, env: ["check-model", *argv]


def _config(text: str) -> Callable[[Path, Env], list[str]]:
    def build(tmp: Path, env: Env) -> list[str]:
        path = write(tmp / "exp.toml", text)
        return ["evaluate", "--config", str(path), "--mpd", str(env.mpd), "--out", str(tmp / "r")]

    return build


# ------------------------------------------------------------------------------ the table

CASES: list[Case] = [
    # --- no silent skips (item 4)
    Case("stats-slice-name-is-a-folder", odd_entry("folder"), (r"mpd\.slice\.3-5\.json", "is a folder", "--lenient")),
    Case("stats-slice-name-is-a-symlink-loop", odd_entry("loop"), (r"mpd\.slice\.3-5\.json", "looping symlink")),
    Case("stats-slice-name-is-a-broken-symlink", odd_entry("dangling"), (r"mpd\.slice\.3-5\.json", "broken symlink")),
    Case("split-slice-name-is-a-folder", odd_entry("folder", "split"), (r"mpd\.slice\.3-5\.json", "is a folder")),
    Case("evaluate-slice-name-is-a-symlink-loop", odd_entry("loop", "evaluate"), (r"mpd\.slice\.3-5\.json", "looping")),
    # --- the corpus reader's new checks (item 6)
    Case("stats-zero-track-playlist", edited_slice(_empty_playlist), (SLICE.name, "pid 0", "tracks", "empty")),
    Case("split-zero-track-playlist", edited_slice(_empty_playlist, "split"), (SLICE.name, "pid 0", "empty")),
    Case("evaluate-zero-track-playlist", edited_slice(_empty_playlist, "evaluate"), (SLICE.name, "pid 0", "empty")),
    Case("stats-pid-above-slice-range", edited_slice(_pid(7)), (SLICE.name, "pid 7", "outside 0-2")),
    Case("stats-pid-below-slice-range", edited_slice(_pid(-1)), (SLICE.name, "pid")),
    Case("split-pid-outside-slice-range", edited_slice(_pid(99), "split"), (SLICE.name, "pid 99", "outside 0-2")),
    Case("evaluate-pid-outside-slice-range", edited_slice(_pid(3), "evaluate"), (SLICE.name, "pid 3", "outside")),
    # --- every size bounded (item 5)
    Case("stats-slice-over-the-size-limit", _plain, (SLICE.name, "bytes", CAP_ENV), env=TINY_CAP),
    Case("stats-zip-member-over-the-size-limit", _zipped, (r"mpd\.zip:data/mpd\.slice\.0-2\.json", "bytes", CAP_ENV), env=TINY_CAP),
    Case("stats-size-limit-not-a-number", _plain, (CAP_ENV, "not a number"), env={CAP_ENV: "lots"}),
    Case("stats-size-limit-infinite", _plain, (CAP_ENV, "positive"), env={CAP_ENV: "inf"}),
    Case("verify-line-too-long", verify_lines(_long_line), ("sub.csv", "line 2", "longer than")),
    Case("verify-gzip-line-too-long", verify_lines(_long_line, gz=True), (r"sub\.csv\.gz", "line 2", "longer")),
    Case("verify-one-huge-line", _one_huge_line, ("sub.csv", "line 1", "longer than")),
    Case("score-line-too-long", verify_lines(_long_line, cmd="score"), ("sub.csv", "line 2", "longer than")),
    Case("verify-challenge-set-over-1gib", _huge_challenge, ("challenge_set.json", "bytes")),
    Case("generate-length-a-billion", generate("--length", "1000000000"), ("--length 1000000000", "1,000")),
    Case("generate-top-zero", generate("--sample", "--top", "0"), ("--top 0",)),
    Case("generate-temperature-inf", generate("--sample", "--temperature", "inf"), ("--temperature", "finite")),
    Case("generate-temperature-nan", generate("--sample", "--temperature", "nan"), ("--temperature",)),
    Case("evaluate-k-a-million", evaluate_p("--models", "popular", "--k", "1000000"), ("--k 1000000", "10,000")),
    Case("evaluate-sgns-epochs-a-billion", evaluate_p("--models", "sgns", "-p", "sgns.epochs=1000000000"), ("sgns.epochs", "at most 10,000")),
    Case("evaluate-w2v-alpha-inf", evaluate_p("--models", "w2v", "-p", "w2v.alpha=1e400"), ("w2v.alpha=inf", "finite")),
    Case("evaluate-w2v-alpha-nan", evaluate_p("--models", "w2v", "-p", "w2v.alpha=float('nan')"), ("w2v.alpha",)),
    Case("evaluate-sgns-dim-huge", evaluate_p("--models", "sgns", "-p", "sgns.dim=100000"), ("sgns.dim", "at most 4,096")),
    Case("evaluate-sgns-dim-zero", evaluate_p("--models", "sgns", "-p", "sgns.dim=0"), ("sgns", "dim=0")),
    Case("evaluate-w2v-workers-over-cpus", evaluate_p("--models", "w2v", "-p", "w2v.workers=1000"), ("w2v.workers", "CPUs")),
    Case("evaluate-sgns-threads-over-cpus", evaluate_p("--models", "sgns", "-p", "sgns.threads=1000"), ("sgns.threads", "CPUs")),
    Case("evaluate-knn-int-too-large", evaluate_p("--models", "knn", "-p", "knn.k_neighbors=10**30"), ("knn.k_neighbors",)),
    Case("evaluate-knn-k-neighbors-huge", evaluate_p("--models", "knn", "-p", "knn.k_neighbors=100000000000000000000"), ("knn.k_neighbors", "too large")),
    Case("evaluate-sgns-window-huge", evaluate_p("--models", "sgns", "-p", "sgns.window=1000000"), ("sgns.window", "at most 1,000")),
    Case("synth-playlists-a-trillion", synth("--playlists", "1000000000000"), ("--playlists", "10,000,000")),
    Case("synth-playlists-zero", synth("--playlists", "0"), ("--playlists 0",)),
    Case("synth-workers-over-cpus", synth("--playlists", "10", "--workers", "1000"), ("--workers 1000", "CPUs")),
    Case("synth-seed-negative", synth("--playlists", "10", "--seed", "-5"), ("--seed -5",)),
    # --- verify validates the challenge set (item 6)
    Case("verify-challenge-num-samples-a-million", challenge_edit(_million_samples), ("challenge_set.json", "pid", "num_samples")),
    Case("verify-challenge-no-category", challenge_edit(_no_category), ("challenge_set.json", "pid", "categor")),
    Case("verify-challenge-repeated-seed", challenge_edit(_repeated_seed), ("challenge_set.json", "pid", "appears twice")),
    Case("verify-challenge-seed-outside-playlist", challenge_edit(_seed_outside), ("challenge_set.json", "pid", "outside")),
    Case("verify-challenge-counts-disagree", challenge_edit(_counts_off), ("challenge_set.json", "pid", "num_tracks")),
    Case("verify-challenge-no-num-holdouts", challenge_edit(lambda ps: ps[0].pop("num_holdouts")), ("challenge_set.json", "num_holdouts")),
    Case("verify-challenge-num-tracks-negative", challenge_edit(lambda ps: ps[0].update(num_tracks=-1)), ("challenge_set.json", "num_tracks")),
    Case("evaluate-challenge-repeated-seed", challenge_edit(_repeated_seed, "evaluate"), ("challenge_set.json", "appears twice")),
    # --- both generations (item 9)
    Case("verify-format-2018-current-header", verify_lines(lambda ls: ls, "--format", "2018"), ("line 1", "2018 verifier needs team_info,main"), code=1),
    Case("verify-format-2018-spaces-around-main", verify_lines(lambda ls: ["team_info, main, t, e@x", *ls[1:]], "--format", "2018"), ("line 1", "no spaces"), code=1),
    Case("verify-format-unknown", verify_lines(lambda ls: ls, "--format", "2019"), ("--format", "2019")),
    Case("evaluate-team-with-a-comma", evaluate_p("--models", "popular", "--team", "a,b"), ("--team", "commas")),
    Case("evaluate-email-with-a-newline", evaluate_p("--models", "popular", "--email", "a\nb"), ("--team/--email", "newlines")),
    Case("evaluate-config-team-format-unknown", _config('[team]\nformat = "2019"\n'), ("exp.toml", "format", "aicrowd")),
    Case("evaluate-config-lenient-not-bool", _config("[data]\nlenient = 1\n"), ("exp.toml", "lenient", "true or false")),
    # --- dead ends: advice that leads somewhere
    Case("split-per-category-on-a-3-playlist-corpus", _split_fixture, ("no playlist for challenge categor", "larger corpus")),
    Case("evaluate-per-category-on-a-3-playlist-corpus", _evaluate_fixture, ("no playlist for challenge categor",)),
    # --- check-model: names, paths and parameters
    Case("check-model-unknown-name", check_model("nosuchmodel"), ("nosuchmodel", "available")),
    Case("check-model-missing-module", check_model("nosuchmod:Thing"), ("nosuchmod", "No module")),
    Case("check-model-missing-class", check_model("models.knn:Nope"), ("models.knn", "Nope")),
    Case("check-model-not-a-recommender", check_model("os:path"), ("os:path", "not a Recommender")),
    Case("check-model-param-without-value", check_model("knn", "-p", "k_neighbors"), ("k_neighbors", "PARAM=VALUE")),
    Case("check-model-param-of-another-model", check_model("knn", "-p", "w2v.dim=3"), ("w2v.dim", "PARAM=VALUE")),
    Case("check-model-param-inf", check_model("w2v", "-p", "alpha=1e400"), ("w2v.alpha=inf", "finite")),
    Case("check-model-workers-over-cpus", check_model("w2v", "-p", "workers=1000"), ("w2v.workers", "CPUs")),
]  # fmt: skip


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(
    case: Case,
    env: Env,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    check(case, env, tmp_path, capsys, monkeypatch)


def test_no_advice_to_use_a_per_category_the_split_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 24: on a tiny corpus `split --per-category 1` advised "--per-category 0 or less",
    which is then refused."""
    from harness.cli import main

    assert main(_split_fixture(tmp_path, None)) == 2  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "--per-category 0" not in err and "larger corpus" in err
