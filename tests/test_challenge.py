"""Reading an official-format challenge set: invariants, category recognition, unknown seeds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from harness.challenge.challenge_set import category_of, load_challenge_set
from harness.data.corpus import Corpus
from harness.errors import DataError

U = "spotify:track:"
NEW_URI = U + "Unknown0Unknown0Unkno0"  # 22 characters, in no corpus


def track(fixture: Corpus, tid: int, pos: int) -> dict[str, Any]:
    return fixture.track_object(tid, pos)


def playlist(
    fixture: Corpus, pid: int, positions: list[int], num_tracks: int, name: str | None
) -> dict[str, Any]:
    """A challenge playlist in the official key order; seeds cycle over the fixture's tracks."""
    p: dict[str, Any] = {}
    if name is not None:
        p["name"] = name
    p["num_holdouts"] = num_tracks - len(positions)
    p["pid"] = pid
    p["num_tracks"] = num_tracks
    p["tracks"] = [track(fixture, k % fixture.n_tracks, pos) for k, pos in enumerate(positions)]
    p["num_samples"] = len(positions)
    return p


def hand_made(fixture: Corpus) -> dict[str, Any]:
    """One playlist per category, in the real file's order (1, 3..10, 2)."""
    rnd25 = [0, 3] + list(range(10, 33))  # 25 positions, not 0..24
    rnd100 = list(range(1, 101))  # 100 positions, not 0..99
    pls = [
        playlist(fixture, 1000000, [], 20, "Chill Vibes!"),
        playlist(fixture, 1000001, list(range(5)), 30, "rock"),
        playlist(fixture, 1000002, list(range(5)), 50, None),
        playlist(fixture, 1000003, list(range(10)), 60, "party"),
        playlist(fixture, 1000004, list(range(10)), 70, None),
        playlist(fixture, 1000005, list(range(25)), 120, "road trip"),
        playlist(fixture, 1000006, rnd25, 130, "gym"),
        playlist(fixture, 1000007, list(range(100)), 180, "old"),
        playlist(fixture, 1000008, rnd100, 190, "new"),
        playlist(fixture, 1000009, [0], 25, "Country"),
    ]
    pls[1]["tracks"][2]["track_uri"] = NEW_URI  # a seed the corpus does not know
    return {"date": "2018-01-16 08:47:28.198015", "version": "v1", "playlists": pls}


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "challenge_set.json"
    path.write_bytes(orjson.dumps(doc))
    return path


def test_categories_are_recognised_from_the_file(fixture_corpus: Corpus, tmp_path: Path) -> None:
    q = load_challenge_set(write(tmp_path, hand_made(fixture_corpus)), fixture_corpus)
    assert q.categories.tolist() == [1, 3, 4, 5, 6, 7, 8, 9, 10, 2]
    assert q.pids.tolist() == list(range(1000000, 1000010))
    assert q.titles.tolist()[:3] == ["chill vibes", "rock", None]
    assert q.titles[4] is None and q.titles[9] == "country"


def test_seeds_keep_their_positions_and_unknown_ones_are_counted(
    fixture_corpus: Corpus, tmp_path: Path
) -> None:
    q = load_challenge_set(write(tmp_path, hand_made(fixture_corpus)), fixture_corpus)
    assert q.unknown_seeds == 1 and q.n_unknown.tolist()[1] == 1
    assert q.n_seeds.tolist() == [0, 4, 5, 10, 10, 25, 25, 100, 100, 1]
    assert q.seeds(1).tolist() == [0, 1, 3, 4]  # tracks 0, 1, (unknown), 3, 4
    assert q.seed_pos[q.seed_offsets[1] : q.seed_offsets[2]].tolist() == [0, 1, 3, 4]
    assert q.seed_pos[q.seed_offsets[6] : q.seed_offsets[6] + 3].tolist() == [0, 3, 10]
    assert q.seed_ids.dtype == np.int32 and (q.seed_ids >= 0).all()


def test_category_of_a_single_playlist(fixture_corpus: Corpus) -> None:
    p = playlist(fixture_corpus, 5, list(range(5)), 40, None)
    assert category_of(p) == 4
    p["name"] = "x"
    assert category_of(p) == 3
    p = playlist(fixture_corpus, 6, [0, 2, 4, 6, 8], 40, "x")
    with pytest.raises(DataError, match=r"pid 6: no challenge category has num_samples=5"):
        category_of(p)


def _break(doc: dict[str, Any], how: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    p = doc["playlists"][3]  # pid 1000003, category 5
    if how == "missing track":
        p["tracks"].pop()
    elif how == "holdouts":
        p["num_holdouts"] += 1
    elif how == "pos type":
        p["tracks"][1]["pos"] = "1"
    elif how == "pos range":
        p["tracks"][1]["pos"] = 60
    elif how == "pos twice":
        p["tracks"][1]["pos"] = 0
    elif how == "uri":
        p["tracks"][1]["track_uri"] = "spotify:track:short"
    elif how == "category":
        p["tracks"] = p["tracks"][:3]
        p["num_samples"], p["num_holdouts"] = 3, 57
    elif how == "duplicate pid":
        p["pid"] = 1000002
    elif how == "num_tracks":
        p["num_tracks"] = "60"
    return doc


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("missing track", r"pid 1000003\): field 'num_samples' is 10 but 'tracks' has 9"),
        ("holdouts", r"pid 1000003\): num_samples \+ num_holdouts = 10 \+ 51 != num_tracks = 60"),
        ("pos type", r"pid 1000003\): tracks\[1\] field 'pos' must be an integer"),
        ("pos range", r"pid 1000003\): tracks\[1\] field 'pos' = 60 outside 0..59"),
        ("pos twice", r"pid 1000003\): tracks\[1\] field 'pos' = 0 appears twice"),
        ("uri", r"pid 1000003\): tracks\[1\] field 'track_uri' is not a URI"),
        ("category", r"playlist 3: pid 1000003: no challenge category has num_samples=3"),
        ("duplicate pid", r"playlist 3 \(pid 1000002\): pid also used by playlist 2"),
        ("num_tracks", r"pid 1000003\): field 'num_tracks' must be a non-negative integer"),
    ],
)
def test_invariant_errors_name_the_pid_and_field(
    fixture_corpus: Corpus, tmp_path: Path, how: str, message: str
) -> None:
    path = write(tmp_path, _break(hand_made(fixture_corpus), how))
    with pytest.raises(DataError, match=message) as e:
        load_challenge_set(path, fixture_corpus)
    assert str(path) in str(e.value)


def test_not_a_challenge_file(fixture_corpus: Corpus, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_challenge_set(bad, fixture_corpus)
    with pytest.raises(DataError, match="'playlists' list"):
        load_challenge_set(write(tmp_path, {"date": "x"}), fixture_corpus)
    with pytest.raises(DataError, match="no such file"):
        load_challenge_set(tmp_path / "missing.json", fixture_corpus)


def test_category_names_are_the_tables_names() -> None:
    """Plots label categories from `Category.label`; the leaderboard's table uses the same words."""
    from harness.challenge.categories import CATEGORIES
    from harness.report.leaderboard import CATEGORY_NAMES

    assert {n: c.name for n, c in CATEGORIES.items()} == CATEGORY_NAMES
    assert CATEGORIES[3].label == "3: title + first 5"
    assert CATEGORIES[10].label == "10: title + random 100"
    assert CATEGORIES[6].label == "6: first 10, no title"
