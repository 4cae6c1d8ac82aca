"""`stats`: the official summary on the fixture, against values counted by hand from the file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from harness.cli import main
from harness.cli.stats import render
from harness.data.corpus import normalize_name
from harness.data.ingest import load_corpus
from harness.data.stats import SUMMARY_KEYS, compute_stats

# Counted by hand from tests/fixtures/mpd.slice.0-2.json:
# lengths 6 + 5 + 7 = 18 occurrences; Jolene appears in all three (twice in pid 0).
SUMMARY = {
    "playlists": 3,
    "tracks": 18,
    "unique_tracks": 7,
    "unique_albums": 4,
    "unique_artists": 4,
    "unique_titles": 3,
    "unique_normalized_titles": 3,
    "playlists_with_descriptions": 1,
    "avg_playlist_length": 6.0,
}
TOP_TRACKS = [
    ("Jolene by Dolly Parton", 4),
    ("Formation by Beyoncé", 3),
    ("Svefn-g-englar by Sigur Rós", 3),
    ("Jefe de Jefes by Los Tigres del Norte", 2),
    ("Contrabando y Traición by Los Tigres del Norte", 2),
    ("Starálfur by Sigur Rós", 2),
    ("Hold Up by Beyoncé", 2),
]
TOP_ARTISTS = [("Beyoncé", 5), ("Sigur Rós", 5), ("Dolly Parton", 4), ("Los Tigres del Norte", 4)]


def pairs(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["value"], r["count"]) for r in rows]


def test_stats_match_hand_counts(slice_path: Path, tmp_path: Path) -> None:
    s = compute_stats(load_corpus(slice_path, cache_dir=tmp_path))
    assert {k: s[k] for k in SUMMARY_KEYS} == SUMMARY
    assert pairs(s["top_titles"]) == [
        ("country 🤠", 1),
        ("chill vibes", 1),
        ("música del norte", 1),
    ]
    assert pairs(s["top_tracks"]) == TOP_TRACKS
    assert pairs(s["top_artists"]) == TOP_ARTISTS
    assert pairs(s["num_edits"]) == [(5, 1), (3, 1), (2, 1)]
    # 1508976000 = 2017-10-26 00:00 UTC, 1509062400 the day after, 1420070400 = 2015-01-01
    assert pairs(s["modified_at_days"]) == [("2017-10-26", 1), ("2017-10-27", 1), ("2015-01-01", 1)]
    assert pairs(s["playlist_lengths"]) == [(6, 1), (5, 1), (7, 1)]
    assert pairs(s["num_followers"]) == [(2, 1), (1, 1), (14, 1)]
    assert s["synthetic"] is False


def test_histograms_count_and_cut_at_20(slice_path: Path, tmp_path: Path) -> None:
    obj = orjson.loads(slice_path.read_bytes())
    base = obj["playlists"][1]
    obj["playlists"] = []
    for pid in range(30):  # pid p gets p % 3 + 1 followers; names cycle over 25 values
        p = dict(base, pid=pid, num_followers=pid % 3 + 1, name=f"mix {pid % 25}")
        obj["playlists"].append(p)
    path = tmp_path / "mpd.slice.0-29.json"
    path.write_bytes(orjson.dumps(obj))
    s = compute_stats(load_corpus(path, cache_dir=tmp_path / "cache"))
    assert pairs(s["num_followers"]) == [(1, 10), (2, 10), (3, 10)]
    assert len(s["top_titles"]) == 20
    assert pairs(s["top_titles"])[:6] == [(f"mix {i}", 2) for i in range(5)] + [("mix 5", 1)]
    assert s["unique_titles"] == 25 and s["playlists_with_descriptions"] == 30
    assert pairs(s["top_tracks"])[0] == ("Svefn-g-englar by Sigur Rós", 30)


def test_cli_json_has_the_required_keys(
    slice_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["stats", str(slice_path), "--json", "--cache-dir", str(tmp_path)])
    assert rc == 0
    out = orjson.loads(capsys.readouterr().out)
    assert set(SUMMARY_KEYS) <= set(out)
    assert {k: out[k] for k in SUMMARY_KEYS} == SUMMARY
    assert out["top_artists"][0] == {"value": "Beyoncé", "count": 5}


def test_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["stats", str(tmp_path / "missing"), "--cache-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("mpd-harness stats: error:") and "missing" in err
    assert "Traceback" not in err


def test_rich_tables(slice_path: Path, tmp_path: Path) -> None:
    s = compute_stats(load_corpus(slice_path, cache_dir=tmp_path))
    buf = io.StringIO()
    render(s, Console(file=buf, width=100, color_system=None))
    text = buf.getvalue()
    assert "MPD statistics" in text and "SYNTHETIC" not in text
    assert "avg playlist length" in text and "6.000000" in text
    assert "Jolene by Dolly Parton" in text and "2017-10-26" in text


def test_synthetic_data_is_labelled(slice_path: Path, tmp_path: Path) -> None:
    obj = orjson.loads(slice_path.read_bytes())
    obj["info"]["synthetic"] = True
    path = tmp_path / "mpd.slice.0-2.json"
    path.write_bytes(orjson.dumps(obj))
    s = compute_stats(load_corpus(path, cache_dir=tmp_path / "cache"))
    assert s["synthetic"] is True
    buf = io.StringIO()
    render(s, Console(file=buf, width=100, color_system=None))
    assert "MPD statistics (SYNTHETIC data)" in buf.getvalue()


def _reference_stats(folder: Path) -> dict[str, list[tuple[object, int]]]:
    """The organisers' stats.py loop, restated: slices in sorted(os.listdir) order, Counters."""
    from collections import Counter

    hists: dict[str, Counter[object]] = {
        k: Counter() for k in ("top_titles", "top_tracks", "top_artists", "num_followers")
    }
    for name in sorted(os.listdir(folder)):
        for p in orjson.loads((folder / name).read_bytes())["playlists"]:
            hists["top_titles"][normalize_name(p["name"])] += 1
            hists["num_followers"][p["num_followers"]] += 1
            for t in p["tracks"]:
                hists["top_tracks"][f"{t['track_name']} by {t['artist_name']}"] += 1
                hists["top_artists"][t["artist_name"]] += 1
    return {k: list(h.most_common(20)) for k, h in hists.items()}


def test_ties_follow_the_official_file_order(slice_path: Path, tmp_path: Path) -> None:
    """stats.py reads sorted(os.listdir): 10000-... before 2000-... before 300-..., so equal
    counts are listed in that order, not in pid order."""
    obj = orjson.loads(slice_path.read_bytes())
    folder = tmp_path / "mpd"
    folder.mkdir()
    for first, p in zip((2000, 10000, 300), obj["playlists"], strict=True):
        doc = dict(obj, playlists=[dict(p, pid=first)])
        (folder / f"mpd.slice.{first}-{first}.json").write_bytes(orjson.dumps(doc))
    s = compute_stats(load_corpus(folder, cache_dir=tmp_path / "cache"))
    ref = _reference_stats(folder)
    for key, want in ref.items():
        assert pairs(s[key]) == want, key
    # the tie order really differs from pid order here
    assert pairs(s["top_titles"])[0] == (normalize_name(obj["playlists"][1]["name"]), 1)
