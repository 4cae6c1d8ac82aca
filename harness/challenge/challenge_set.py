"""Reading a challenge set: the official `challenge_set.json`, or one written by `split`.

Every playlist is validated (`len(tracks) == num_samples`, `num_samples + num_holdouts ==
num_tracks`, integer positions, well-formed URIs) and its category (1-10) is recognised from the
file alone: the number of seeds, whether the title is present, and whether the seed positions are
exactly 0..K-1 (mpd-facts §2). Errors name the file, the playlist's index and pid, and the field.

Seed tracks the corpus does not know cannot become ids: they are dropped from the queries and
counted per playlist (`ChallengeQueries.n_unknown`), so a caller can report them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from harness.data.corpus import Corpus, normalize_name
from harness.errors import DataError
from harness.types import Queries

TRACK_URI = re.compile(r"spotify:track:[0-9A-Za-z]{22}\Z")
ARTIST_URI = re.compile(r"spotify:artist:[0-9A-Za-z]{22}\Z")
ALBUM_URI = re.compile(r"spotify:album:[0-9A-Za-z]{22}\Z")
_URI_FIELDS = (("track_uri", TRACK_URI), ("artist_uri", ARTIST_URI), ("album_uri", ALBUM_URI))

# (num_samples, has a title, seeds are the first K positions) -> category; mpd-facts §2
CATEGORY_KEYS: dict[tuple[int, bool, bool], int] = {
    (0, True, True): 1,
    (1, True, True): 2,
    (5, True, True): 3,
    (5, False, True): 4,
    (10, True, True): 5,
    (10, False, True): 6,
    (25, True, True): 7,
    (25, True, False): 8,
    (100, True, True): 9,
    (100, True, False): 10,
}


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _where(p: Mapping[str, Any], i: int, path: str) -> str:
    pid = p.get("pid") if isinstance(p, Mapping) else None
    return f"{path}: playlist {i} (pid {pid})"


def category_of(playlist: Mapping[str, Any]) -> int:
    """The challenge category (1-10) of a validated challenge playlist.

    Raises DataError when no category has this seed count, title presence and seed layout.
    """
    k = playlist["num_samples"]
    titled = playlist.get("name") is not None
    positions = sorted(int(t["pos"]) for t in playlist["tracks"])
    first = positions == list(range(len(positions)))
    cat = CATEGORY_KEYS.get((k, titled, first))
    if cat is None:
        raise DataError(
            f"pid {playlist.get('pid')}: no challenge category has num_samples={k}, "
            f"{'a' if titled else 'no'} name and {'first-K' if first else 'non-first-K'} "
            "seed positions (categories: 0/1/5/5*/10/10*/25/25r/100/100r seeds, "
            "* = no name, r = random positions)"
        )
    return cat


def validate_playlist(p: Any, i: int, path: str) -> None:
    """Check one challenge playlist's schema and invariants; DataError names pid and field."""
    if not isinstance(p, Mapping):
        raise DataError(f"{path}: playlist {i}: expected an object, got {type(p).__name__}")
    where = _where(p, i, path)
    for key in ("pid", "num_tracks", "num_samples", "num_holdouts"):
        if key not in p:
            raise DataError(f"{where}: missing field '{key}'")
        if not _is_int(p[key]) or p[key] < 0:
            raise DataError(
                f"{where}: field '{key}' must be a non-negative integer, got {p[key]!r}"
            )
    if "name" in p and not isinstance(p["name"], str):
        raise DataError(f"{where}: field 'name' must be a string, got {p['name']!r}")
    tracks = p.get("tracks")
    if not isinstance(tracks, list):
        raise DataError(f"{where}: field 'tracks' must be a list")
    if len(tracks) != p["num_samples"]:
        raise DataError(
            f"{where}: field 'num_samples' is {p['num_samples']} but 'tracks' has "
            f"{len(tracks)} entries"
        )
    if p["num_samples"] + p["num_holdouts"] != p["num_tracks"]:
        raise DataError(
            f"{where}: num_samples + num_holdouts = {p['num_samples']} + {p['num_holdouts']} "
            f"!= num_tracks = {p['num_tracks']}"
        )
    seen: set[int] = set()
    for j, t in enumerate(tracks):
        if not isinstance(t, Mapping):
            raise DataError(f"{where}: tracks[{j}] must be an object")
        pos = t.get("pos")
        if not isinstance(pos, int) or isinstance(pos, bool):
            raise DataError(f"{where}: tracks[{j}] field 'pos' must be an integer, got {pos!r}")
        if not 0 <= pos < p["num_tracks"]:
            raise DataError(
                f"{where}: tracks[{j}] field 'pos' = {pos} outside 0..{p['num_tracks'] - 1}"
            )
        if pos in seen:
            raise DataError(f"{where}: tracks[{j}] field 'pos' = {pos} appears twice")
        seen.add(pos)
        if "track_uri" not in t:
            raise DataError(f"{where}: tracks[{j}] missing field 'track_uri'")
        for key, pattern in _URI_FIELDS:
            if key in t and not (isinstance(t[key], str) and pattern.match(t[key])):
                raise DataError(f"{where}: tracks[{j}] field '{key}' is not a URI: {t[key]!r}")


# The official challenge set is about 70 MB; a file far larger is not one, and is refused
# before it is read whole.
MAX_CHALLENGE_BYTES = 1 << 30


def check_size(path: Path) -> None:
    """Refuse a challenge set larger than MAX_CHALLENGE_BYTES (fail fast: nothing is read)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    if size > MAX_CHALLENGE_BYTES:
        raise DataError(
            f"{path}: {size:,} bytes, over the {MAX_CHALLENGE_BYTES:,} a challenge set may have "
            "(the official one is about 70 MB); is this a challenge_set.json?"
        )


def read_challenge_set(path: str | Path) -> list[dict[str, Any]]:
    """The validated playlists of a challenge set file, in file order."""
    p = Path(path)
    check_size(p)
    try:
        doc = orjson.loads(p.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{p}: no such file") from None
    except orjson.JSONDecodeError as e:
        raise DataError(f"{p}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("playlists"), list):
        raise DataError(f"{p}: expected an object with a 'playlists' list")
    playlists: list[dict[str, Any]] = doc["playlists"]
    pids: dict[int, int] = {}
    for i, pl in enumerate(playlists):
        validate_playlist(pl, i, str(p))
        if pl["pid"] in pids:
            raise DataError(f"{_where(pl, i, str(p))}: pid also used by playlist {pids[pl['pid']]}")
        pids[pl["pid"]] = i
    return playlists


@dataclass(frozen=True)
class ChallengeQueries(Queries):
    """Queries read from a challenge file, with the seeds that the corpus did not know."""

    n_unknown: NDArray[np.int64]  # (n,) seeds dropped per playlist (URI not in the corpus)

    @property
    def unknown_seeds(self) -> int:
        return int(self.n_unknown.sum())


def queries_from_playlists(
    playlists: Sequence[Mapping[str, Any]],
    corpus: Corpus,
    *,
    where: str = "challenge set",
    strict: bool = False,
) -> ChallengeQueries:
    """Encode validated challenge playlists as Queries (seeds in file order, original `pos`).

    strict: an unknown seed URI raises DataError instead of being dropped and counted.
    """
    index = corpus.track_index
    n = len(playlists)
    pids = np.zeros(n, dtype=np.int64)
    cats = np.zeros(n, dtype=np.int8)
    titles = np.empty(n, dtype=object)
    n_unknown = np.zeros(n, dtype=np.int64)
    seed_offsets = np.zeros(n + 1, dtype=np.int64)
    ids: list[int] = []
    pos: list[int] = []
    for i, p in enumerate(playlists):
        pids[i] = p["pid"]
        try:
            cats[i] = category_of(p)
        except DataError as e:
            raise DataError(f"{where}: playlist {i}: {e}") from None
        name = p.get("name")
        titles[i] = normalize_name(name) if name is not None else None
        for j, t in enumerate(p["tracks"]):
            tid = index.get(t["track_uri"])
            if tid is None:
                if strict:
                    raise DataError(
                        f"{where}: playlist {i} (pid {p['pid']}): tracks[{j}] track_uri "
                        f"{t['track_uri']} is not in the corpus"
                    )
                n_unknown[i] += 1
                continue
            ids.append(tid)
            pos.append(t["pos"])
        seed_offsets[i + 1] = len(ids)
    return ChallengeQueries(
        pids=pids,
        seed_offsets=seed_offsets,
        seed_ids=np.asarray(ids, dtype=np.int32),
        seed_pos=np.asarray(pos, dtype=np.int32),
        titles=titles,
        categories=cats,
        n_unknown=n_unknown,
    )


def load_challenge_set(path: str | Path, corpus: Corpus) -> ChallengeQueries:
    """Queries for a challenge set file (official or ours), validated, categories recognised.

    Seeds whose URI the corpus lacks are dropped and counted in `n_unknown` / `unknown_seeds`.
    """
    return queries_from_playlists(read_challenge_set(path), corpus, where=str(path))
