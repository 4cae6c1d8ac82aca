"""The MPD data layer: loading, validation messages, lenient mode, the cache, zip input."""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

import harness.data.ingest as data
from harness.cli import main
from harness.data.corpus import Corpus
from harness.data.ingest import default_cache_dir, load_corpus
from harness.data.keys import KeyTable, Packed, render, uri_keys
from harness.errors import DataError
from harness.progress import Recorder

COLUMNS = (
    "pids",
    "offsets",
    "track_ids",
    "names",
    "descriptions",
    "collaborative",
    "modified_at",
    "num_followers",
    "num_edits",
    "track_uris",
    "track_names",
    "track_artist",
    "track_album",
    "track_duration",
    "artist_uris",
    "artist_names",
    "album_uris",
    "album_names",
)


def slice_obj(slice_path: Path) -> dict[str, Any]:
    return orjson.loads(slice_path.read_bytes())


def write_slice(folder: Path, obj: dict[str, Any], name: str = "mpd.slice.0-2.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2))
    return path


def shifted(obj: dict[str, Any], by: int) -> dict[str, Any]:
    """The same slice with pids moved by `by` (tracks unchanged, so they stay consistent)."""
    out = copy.deepcopy(obj)
    for p in out["playlists"]:
        p["pid"] += by
    out["info"]["slice"] = f"{by}-{by + 2}"
    return out


def assert_same(a: Corpus, b: Corpus) -> None:
    for col in COLUMNS:
        x, y = getattr(a, col), getattr(b, col)
        assert x.dtype == y.dtype, col
        assert list(x) == list(y), col


def load_error(path: Path, tmp_path: Path, **kw: Any) -> str:
    with pytest.raises(DataError) as e:
        load_corpus(path, cache_dir=tmp_path / "cache", **kw)
    return str(e.value)


# ---------------------------------------------------------------- loading


def test_fixture_loads_like_the_reference_encoder(slice_path: Path, tmp_path: Path) -> None:
    c = load_corpus(slice_path, cache_dir=tmp_path / "cache")
    assert_same(c, Corpus.from_playlists(slice_obj(slice_path)["playlists"]))
    assert c.n_playlists == 3 and len(c.track_ids) == 18
    assert c.n_tracks == 7 and c.n_artists == 4 and c.n_albums == 4
    assert list(c.collaborative) == [False, True, False]
    assert c.names[0] == "Country 🤠" and c.descriptions[1] == "sunday morning ☕ — café"
    assert c.source["path"] == str(slice_path)
    assert c.source["n_files"] == 1 and c.source["skipped"] == 0
    assert c.source["synthetic"] is False
    assert len(c.source["fingerprint"]) == 24


def test_folder_sorted_by_first_pid_numerically(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    d = tmp_path / "mpd"
    for first in (0, 10, 3):
        write_slice(d, shifted(obj, first), f"mpd.slice.{first}-{first + 2}.json")
    (d / "README.md").write_text("not a slice")
    c = load_corpus(d, cache_dir=tmp_path / "cache")
    assert list(c.pids) == [0, 1, 2, 3, 4, 5, 10, 11, 12]
    assert c.n_tracks == 7  # the same tracks in every slice
    assert c.source["n_files"] == 3


def test_two_workers_give_the_same_corpus(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    d = tmp_path / "mpd"
    for first in range(0, 24, 3):
        write_slice(d, shifted(obj, first), f"mpd.slice.{first}-{first + 2}.json")
    one = load_corpus(d, use_cache=False, workers=1)
    two = load_corpus(d, use_cache=False, workers=2)
    assert_same(one, two)
    assert two.n_playlists == 24
    bad = shifted(obj, 12)
    bad["playlists"][1]["num_tracks"] = 1
    write_slice(d, bad, "mpd.slice.12-14.json")
    with pytest.raises(DataError, match=r"mpd\.slice\.12-14\.json: playlist pid 13 .*num_tracks"):
        load_corpus(d, use_cache=False, workers=2)


def test_zip_input(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    z = tmp_path / "spotify_million_playlist_dataset.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data/mpd.slice.3-5.json", orjson.dumps(shifted(obj, 3)))
        zf.writestr("data/mpd.slice.0-2.json", slice_path.read_bytes())
        zf.writestr("__MACOSX/data/._mpd.slice.0-2.json", b"\x00junk")
        zf.writestr("README.md", "readme")
    c = load_corpus(z, cache_dir=tmp_path / "cache")
    assert list(c.pids) == [0, 1, 2, 3, 4, 5]
    assert c.source["kind"] == "zip" and c.source["n_files"] == 2
    first = load_corpus(slice_path, use_cache=False)
    assert list(c.track_uris) == list(first.track_uris)


def test_collaborative_bool_extra_info_keys_and_synthetic_flag(
    slice_path: Path, tmp_path: Path
) -> None:
    obj = slice_obj(slice_path)
    obj["playlists"][1]["collaborative"] = True
    obj["playlists"][0]["collaborative"] = False
    obj["info"]["license"] = "CC BY 4.0"
    obj["info"]["synthetic"] = True
    c = load_corpus(write_slice(tmp_path / "d", obj), cache_dir=tmp_path / "cache")
    assert list(c.collaborative) == [False, True, False]
    assert c.source["synthetic"] is True


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x"
    monkeypatch.delenv("MPD_HARNESS_CACHE")
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / ".cache" / "mpd-harness"


# ---------------------------------------------------------------- cache


def test_cache_round_trip_and_reuse(
    slice_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = load_corpus(slice_path, cache_dir=cache)
    entries = list(cache.iterdir())
    assert [e.name for e in entries] == [first.source["fingerprint"]]
    assert (entries[0] / "meta.json").exists()

    def no_parsing(*args: Any) -> None:
        raise AssertionError("a cached corpus must not be parsed again")

    monkeypatch.setattr(data, "parse_slice", no_parsing)
    again = load_corpus(slice_path, cache_dir=cache)
    assert_same(first, again)
    assert again.source == first.source
    assert not list(cache.glob(".*tmp*")), "no temporary directory left behind"


def test_cache_rebuilt_when_a_slice_changes(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    path = write_slice(tmp_path / "d", obj)
    cache = tmp_path / "cache"
    before = load_corpus(tmp_path / "d", cache_dir=cache)
    obj["playlists"][0]["name"] = "Country Roads"
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    after = load_corpus(tmp_path / "d", cache_dir=cache)
    assert after.names[0] == "Country Roads" and before.names[0] == "Country 🤠"
    assert after.source["fingerprint"] != before.source["fingerprint"]
    assert len(list(cache.iterdir())) == 2


def test_unreadable_cache_is_rebuilt(slice_path: Path, tmp_path: Path) -> None:
    first = load_corpus(slice_path, cache_dir=tmp_path / "cache")
    npz = tmp_path / "cache" / first.source["fingerprint"] / "arrays.npz"
    npz.write_bytes(b"not a zip")
    reporter = Recorder()
    again = load_corpus(slice_path, cache_dir=tmp_path / "cache", reporter=reporter)
    assert_same(first, again)
    assert "is unreadable" in "\n".join(reporter.texts("warn"))
    assert Corpus.load(npz.parent).n_playlists == 3  # rewritten


def test_lenient_flag_has_its_own_cache_entry(slice_path: Path, tmp_path: Path) -> None:
    strict = load_corpus(slice_path, cache_dir=tmp_path / "cache")
    lenient = load_corpus(slice_path, cache_dir=tmp_path / "cache", lenient=True)
    assert strict.source["fingerprint"] != lenient.source["fingerprint"]


# ---------------------------------------------------------------- errors


def test_nonexistent_path(tmp_path: Path) -> None:
    msg = load_error(tmp_path / "nope", tmp_path)
    assert "nope" in msg and "no such file or folder" in msg


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    msg = load_error(tmp_path / "empty", tmp_path)
    assert "empty" in msg and "folder is empty" in msg


def test_folder_without_slices(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "challenge_set.json").write_text("{}")
    msg = load_error(tmp_path / "d", tmp_path)
    assert "no mpd.slice.*.json files" in msg and "challenge_set.json" in msg
    (tmp_path / "d" / "data").mkdir()
    (tmp_path / "d" / "data" / "mpd.slice.0-999.json").write_text("{}")
    assert f"did you mean {tmp_path / 'd' / 'data'}?" in load_error(tmp_path / "d", tmp_path)


def test_truncated_json_gives_position(slice_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "d" / "mpd.slice.0-2.json"
    path.parent.mkdir()
    text = slice_path.read_bytes()
    path.write_bytes(text[:5000])
    msg = load_error(path, tmp_path, lenient=True)  # syntax errors stop even when lenient
    assert str(path) in msg
    assert "invalid JSON at line" in msg and "column" in msg


def test_json_syntax_error_line_and_column(slice_path: Path, tmp_path: Path) -> None:
    lines = slice_path.read_text(encoding="utf-8").splitlines()
    assert lines[10].strip() == '"pid": 0,'
    lines[10] = lines[10].replace('"pid": 0,', '"pid": 0,,')
    path = tmp_path / "mpd.slice.0-2.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    msg = load_error(path, tmp_path)
    assert "line 11 column" in msg


def mutated(slice_path: Path, tmp_path: Path, fn: Any) -> Path:
    obj = slice_obj(slice_path)
    fn(obj["playlists"])
    return write_slice(tmp_path / "d", obj)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda ps: ps[1].pop("num_edits"), ["pid 1", "playlists[1]", "num_edits", "missing"]),
        (lambda ps: ps[2].update(num_followers="14"), ["pid 2", "num_followers", "Expected `int`"]),
        (lambda ps: ps[0]["tracks"][2].update(pos=3), ["pid 0", "pos", "tracks[2].pos is 3"]),
        (
            lambda ps: ps[0]["tracks"][1].update(duration_ms=-5),
            ["pid 0", "playlists[0].tracks[1].duration_ms", ">= 0"],
        ),
        (lambda ps: ps[1].update(num_tracks=6), ["pid 1", "num_tracks", "is 6 but there are 5"]),
        (lambda ps: ps[2].update(duration_ms=1), ["pid 2", "duration_ms", "sum to 2049000"]),
        (lambda ps: ps[0].update(num_artists=5), ["pid 0", "num_artists", "4 distinct"]),
        (lambda ps: ps[1].update(num_albums=2), ["pid 1", "num_albums", "3 distinct"]),
        (lambda ps: ps[0].update(collaborative="yes"), ["pid 0", "collaborative", "'yes'"]),
        (lambda ps: ps[2].update(name=""), ["pid 2", "name", "empty"]),
        (lambda ps: ps[1].update(extra=1), ["pid 1", "unknown field `extra`"]),
        (lambda ps: ps[2].update(pid=0), ["pid 0", "playlists[2]", "earlier in the same slice"]),
        (
            lambda ps: ps[1]["tracks"][3].update(track_uri="spotify:track:short"),
            ["pid 1", "tracks[3].track_uri", "'spotify:track:short'", "22 base-62"],
        ),
        (
            lambda ps: (
                ps[2]["tracks"][4].update(artist_uri="spotify:artist:2Beyonce2Beyonce2Beyon"),
                ps[2].update(num_artists=3),
            ),
            ["pid 2", "tracks[4]", "artist_uri", "spotify:track:t6Jolenet6Jolenet6Jole"],
        ),
    ],
    ids=[
        "missing-field",
        "wrong-type",
        "pos-gap",
        "negative",
        "count-mismatch",
        "duration-mismatch",
        "num-artists",
        "num-albums",
        "collaborative",
        "empty-name",
        "extra-key",
        "duplicate-pid-in-slice",
        "bad-uri",
        "inconsistent-track",
    ],
)
def test_invalid_playlist_named_by_file_pid_and_field(
    slice_path: Path, tmp_path: Path, mutate: Any, expected: list[str]
) -> None:
    path = mutated(slice_path, tmp_path, mutate)
    msg = load_error(path, tmp_path)
    assert msg.startswith(str(path))
    for part in expected:
        assert part in msg, (part, msg)


def test_missing_info(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    del obj["info"]["generated_on"]
    msg = load_error(write_slice(tmp_path / "d", obj), tmp_path)
    assert "info" in msg and "generated_on" in msg


def test_duplicate_pid_across_slices(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    d = tmp_path / "d"
    write_slice(d, obj)
    second = shifted(obj, 3)
    second["playlists"][1]["pid"] = 2
    write_slice(d, second, "mpd.slice.2-5.json")  # its name's range holds pid 2
    msg = load_error(d, tmp_path)
    assert str(d / "mpd.slice.2-5.json") in msg
    assert "pid 2" in msg and "already appears in" in msg and "mpd.slice.0-2.json" in msg


def test_track_inconsistent_across_slices(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    d = tmp_path / "d"
    write_slice(d, obj)
    second = shifted(obj, 3)
    other = "spotify:album:" + "Z" * 22
    for p in second["playlists"]:  # consistent within the slice, not with the first one
        for t in p["tracks"]:
            if t["track_name"] == "Hold Up":
                t["album_uri"] = other
                p["num_albums"] = len({x["album_uri"] for x in p["tracks"]})
    write_slice(d, second, "mpd.slice.3-5.json")
    msg = load_error(d, tmp_path)
    assert "mpd.slice.3-5.json: playlist pid 4 (playlists[1]): tracks[3].album_uri" in msg
    assert f"spotify:track:t3HoldUpt3HoldUpt3Hold has album {other} here but" in msg


def test_a_track_with_two_durations_loads_with_a_warning(slice_path: Path, tmp_path: Path) -> None:
    """The facts promise one name per URI, not one duration: the first duration is kept and
    the other occurrences are counted, within a slice and across slices."""
    obj = slice_obj(slice_path)
    d = tmp_path / "d"
    second = shifted(obj, 3)
    changed = 0
    for doc in (obj, second):
        for p in doc["playlists"][1:]:  # Jolene's first occurrence (pid 0) keeps 0 + its value
            for t in p["tracks"]:
                if t["track_name"] == "Jolene":
                    t["duration_ms"] += 7
                    p["duration_ms"] += 7
                    changed += 1
    write_slice(d, obj)
    write_slice(d, second, "mpd.slice.3-5.json")
    reporter = Recorder()
    corpus = load_corpus(d, cache_dir=tmp_path / "cache", reporter=reporter)
    err = "\n".join(reporter.texts("warn"))
    assert f"{changed} track occurrence(s) give a track another duration_ms" in err
    assert "mpd.slice.0-2.json: playlist pid 1 (playlists[1])" in err
    assert corpus.source["duration_conflicts"] == changed > 0
    jolene = corpus.track_index["spotify:track:t6Jolenet6Jolenet6Jole"]
    first = next(t for t in obj["playlists"][0]["tracks"] if t["track_name"] == "Jolene")
    assert corpus.track_duration[jolene] == first["duration_ms"]
    reporter = Recorder()  # from the cache: the same warning
    load_corpus(d, cache_dir=tmp_path / "cache", reporter=reporter)
    assert f"{changed} track occurrence(s)" in "\n".join(reporter.texts("warn"))


# ---------------------------------------------------------------- lenient


def test_lenient_skips_and_counts(slice_path: Path, tmp_path: Path) -> None:
    def break_two(ps: list[dict[str, Any]]) -> None:
        ps[0]["num_edits"] = "2"  # a type
        ps[2]["num_tracks"] = 99  # an invariant

    path = mutated(slice_path, tmp_path, break_two)
    reporter = Recorder()
    c = load_corpus(path, cache_dir=tmp_path / "cache", lenient=True, reporter=reporter)
    assert list(c.pids) == [1]
    assert c.source["skipped"] == 2
    examples = c.source["skipped_examples"]
    assert len(examples) == 2
    assert "pid 0 (playlists[0]): Expected `int`, got `str`" in examples[0]
    assert "pid 2 (playlists[2]): num_tracks: is 99" in examples[1]  # its position in the file
    # only the tracks of the kept playlist remain, numbered from 0
    assert c.n_tracks == 5 and list(c.tracks_of(0)) == [0, 1, 2, 3, 4]
    assert list(c.track_uris) == [
        t["track_uri"] for t in slice_obj(slice_path)["playlists"][1]["tracks"]
    ]
    assert "skipped 2 invalid playlist(s)" in "\n".join(reporter.texts("warn"))


def test_the_cli_prints_load_warnings_on_stderr(
    slice_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def break_two(ps: list[dict[str, Any]]) -> None:
        ps[0]["num_edits"] = "2"
        ps[2]["num_tracks"] = 99

    path = mutated(slice_path, tmp_path, break_two)
    argv = ["stats", str(path), "--lenient", "--json", "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out)["playlists"] == 1
    err = " ".join(err.split())  # the console may wrap a long line
    assert f"warning: {path}: skipped 2 invalid playlist(s) (--lenient); first: " in err


def test_lenient_skips_duplicates_across_slices(slice_path: Path, tmp_path: Path) -> None:
    obj = slice_obj(slice_path)
    d = tmp_path / "d"
    write_slice(d, obj)
    second = shifted(obj, 3)
    second["playlists"][0]["pid"] = 1
    write_slice(d, second, "mpd.slice.1-5.json")  # its name's range holds pid 1
    c = load_corpus(d, cache_dir=tmp_path / "cache", lenient=True)
    assert list(c.pids) == [0, 1, 2, 4, 5]
    assert c.source["skipped"] == 1
    assert (
        "mpd.slice.1-5.json: playlist pid 1 (playlists[0]): pid: 1 already appears in"
        in (c.source["skipped_examples"][0])
    )
    assert c.n_tracks == 7


def test_uri_check_byte_matrix_agrees_with_the_regex() -> None:
    uris = [
        "spotify:track:t6Jolenet6Jolenet6Jole",  # good
        "spotify:track:t6Jolenet6Jolenet6Jol",  # 21 characters
        "spotify:track:t6Jolenet6Jolenet6Jole1",  # 23 characters
        "spotify:album:t6Jolenet6Jolenet6Jole",  # wrong kind
        "spotify:track:t6Jolenet6Jolenet6Jol-",  # not base 62
        "spotify:track:t6Jolenet6Jolenet6Jolé",  # non-ASCII
    ]
    keys, bad = uri_keys(uris, "track")
    assert list(bad) == [False, True, True, True, True, True]
    assert list(uri_keys(uris[:5], "track")[1]) == [False, True, True, True, True]
    assert list(uri_keys([], "artist")[1]) == []
    assert render(keys[:1], "track") == uris[:1]
    assert not keys[1:].any()  # a malformed URI has no key


def test_key_table_gives_ids_in_first_appearance_order_across_growth() -> None:
    rng = np.random.default_rng(0)
    alphabet = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    ids = ["".join(row) for row in rng.choice(alphabet, size=(20_000, 22))]
    uris = [f"spotify:artist:{x}" for x in dict.fromkeys(ids)]  # distinct, in order
    table, seen = KeyTable(), 0
    for chunk in (uris[:3], uris[:1000], uris[500:9000], uris[8000:]):  # overlapping batches
        keys, bad = uri_keys(chunk, "artist")
        assert not bad.any()
        got = table.add(keys, table.lookup(keys))
        want = [uris.index(u) for u in chunk[:50]]
        assert got[:50].tolist() == want
        seen = max(seen, uris.index(chunk[-1]) + 1)
        assert table.n == seen
    assert render(table.keys, "artist") == uris
    assert table.lookup(uri_keys(["spotify:artist:" + "z" * 22], "artist")[0]).tolist() == [-1]


def test_packed_names_take_any_positions() -> None:
    names = ["", "Sigur Rós", "a", "日本語のタイトル", "", "x" * 300]
    packed = Packed.of(names)
    assert packed.take(np.array([5, 0, 3, 1])) == [names[5], names[0], names[3], names[1]]
    assert packed.take(np.arange(len(names))) == names
    assert Packed.of([]).take(np.zeros(0, dtype=np.int64)) == []


def test_progress_bar_over_slices(slice_path: Path, tmp_path: Path) -> None:
    reporter = Recorder()
    c = load_corpus(slice_path, use_cache=False, reporter=reporter)
    assert c.n_playlists == 3
    assert "reading mpd.slice.0-2.json" in reporter.texts("step")
