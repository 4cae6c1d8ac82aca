"""Measuring written synthetic slices against the published figures of the real MPD
(`bench/bench_synth.py` and the tests), and checking each playlist against the dataset's rules."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.data.corpus import normalize_name
from harness.data.synthetic.catalogue import MAX_TRACKS, MIN_TRACKS

# Figures of the official stats.txt for the real 1M playlists (mpd-facts §1).
PUBLISHED: dict[str, Any] = {
    "playlists": 1_000_000,
    "track_occurrences": 66_346_428,
    "unique_tracks": 2_262_292,
    "unique_albums": 734_684,
    "unique_artists": 295_860,
    "unique_titles": 92_944,
    "unique_normalized_titles": 17_381,
    "description_share": 18_760 / 1e6,
    "mean_length": 66.346428,
    "length_mode": 20,
    "followers_1_share": 754_219 / 1e6,
    "edits_2_share": 92_252 / 1e6,
    "top_track_playlist_share": 46_574 / 1e6,
    "top_artist_occurrences_per_1m": 847_160,
    "top20_artist_occurrences_per_1m": [
        847160, 413297, 353624, 339570, 316603, 294667, 272116, 250734, 243119, 241560,
        230857, 223509, 212772, 203047, 198905, 197855, 195907, 192478, 187029, 185520,
    ],
    "top_titles": [
        "country", "chill", "rap", "workout", "oldies", "christmas", "rock", "party", "throwback",
        "jams", "worship", "summer", "feels", "new", "disney", "lit", "throwbacks", "music",
        "sleep", "vibes",
    ],
}  # fmt: skip

_URI_RE = {k: re.compile(rf"spotify:{k}:[0-9A-Za-z]{{22}}") for k in ("track", "artist", "album")}
_MIN_TS = int(dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc).timestamp())
_MAX_TS = int(dt.datetime(2017, 11, 1, tzinfo=dt.timezone.utc).timestamp())
PLAYLIST_KEYS = (
    "name", "collaborative", "pid", "modified_at", "num_tracks", "num_albums", "num_followers",
    "tracks", "num_edits", "duration_ms", "num_artists",
)  # fmt: skip
TRACK_KEYS = (
    "pos", "artist_name", "track_uri", "artist_uri", "track_name", "album_uri", "duration_ms",
    "album_name",
)  # fmt: skip


def _uri_ok(uri: Any, kind: str) -> bool:
    return isinstance(uri, str) and _URI_RE[kind].fullmatch(uri) is not None


def check_playlist(p: dict[str, Any]) -> list[str]:
    """Violations of the dataset's rules (check.py and the sampling rules) by one playlist."""
    errs = []
    keys = tuple(k for k in p if k != "description")
    if keys != PLAYLIST_KEYS:
        errs.append(f"keys {keys}")
    tracks = p.get("tracks", [])
    n = len(tracks)
    if not MIN_TRACKS <= n <= MAX_TRACKS:
        errs.append(f"{n} tracks")
    if p.get("num_tracks") != n:
        errs.append("num_tracks")
    artists = {t["artist_uri"] for t in tracks}
    albums = {t["album_uri"] for t in tracks}
    if p.get("num_artists") != len(artists) or len(artists) < 3:
        errs.append("num_artists")
    if p.get("num_albums") != len(albums) or len(albums) < 2:
        errs.append("num_albums")
    if p.get("duration_ms") != sum(t["duration_ms"] for t in tracks):
        errs.append("duration_ms")
    if not (isinstance(p.get("num_followers"), int) and p["num_followers"] >= 1):
        errs.append("num_followers")
    if not (isinstance(p.get("num_edits"), int) and p["num_edits"] >= 1):
        errs.append("num_edits")
    if p.get("collaborative") not in ("true", "false"):
        errs.append("collaborative")
    if not (isinstance(p.get("name"), str) and p["name"].strip()):
        errs.append("name")
    m = p.get("modified_at")
    if not (isinstance(m, int) and _MIN_TS <= m <= _MAX_TS and m % 86_400 == 0):
        errs.append("modified_at")
    for i, t in enumerate(tracks):
        if tuple(t) != TRACK_KEYS:
            errs.append(f"track {i} keys")
        if t.get("pos") != i:
            errs.append(f"track {i} pos")
        for kind in ("track", "artist", "album"):
            if not _uri_ok(t.get(f"{kind}_uri"), kind):
                errs.append(f"track {i} {kind}_uri")
        if not (isinstance(t.get("duration_ms"), int) and t["duration_ms"] > 0):
            errs.append(f"track {i} duration_ms")
    return errs


def measure_slices(paths: list[Path]) -> dict[str, Any]:
    """Statistics of written slices, named like PUBLISHED, plus rule violations.

    Reads every file (streaming, one at a time); URIs are checked to carry one name each.
    """
    tally = _Tally()
    for path in paths:
        for p in orjson.loads(Path(path).read_bytes())["playlists"]:
            tally.add(p, Path(path).name)
    return tally.summary()


@dataclass
class _Tally:
    """Counts over every playlist read so far."""

    lengths: list[int] = field(default_factory=list)
    followers: Counter[int] = field(default_factory=Counter)
    edits: Counter[int] = field(default_factory=Counter)
    days: Counter[int] = field(default_factory=Counter)
    titles: Counter[str] = field(default_factory=Counter)
    norm_titles: Counter[str] = field(default_factory=Counter)
    track_occ: Counter[str] = field(default_factory=Counter)
    track_pl: Counter[str] = field(default_factory=Counter)  # playlists holding each track
    artist_occ: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=dict)  # URI -> first name seen
    albums: set[str] = field(default_factory=set)
    n_desc: int = 0
    n_collab: int = 0
    n_artists_sum: int = 0
    n_albums_sum: int = 0
    violations: list[str] = field(default_factory=list)
    name_conflicts: int = 0

    def add(self, p: dict[str, Any], file_name: str) -> None:
        """Count one playlist object of the file `file_name`."""
        for e in check_playlist(p):
            self.violations.append(f"{file_name}: pid {p.get('pid')}: {e}")
        self.lengths.append(len(p["tracks"]))
        self.followers[p["num_followers"]] += 1
        self.edits[p["num_edits"]] += 1
        self.days[p["modified_at"] // 86_400] += 1
        self.titles[p["name"]] += 1
        self.norm_titles[normalize_name(p["name"])] += 1
        self.n_desc += "description" in p
        self.n_collab += p["collaborative"] == "true"
        self.n_artists_sum += p["num_artists"]
        self.n_albums_sum += p["num_albums"]
        seen = set()
        for t in p["tracks"]:
            uri = t["track_uri"]
            self.track_occ[uri] += 1
            seen.add(uri)
            self.artist_occ[t["artist_uri"]] += 1
            self.albums.add(t["album_uri"])
            for key, name in (
                (uri, t["track_name"]),
                (t["artist_uri"], t["artist_name"]),
                (t["album_uri"], t["album_name"]),
            ):
                if self.names.setdefault(key, name) != name:
                    self.name_conflicts += 1
        self.track_pl.update(seen)

    def summary(self) -> dict[str, Any]:
        """The statistics, named like PUBLISHED where they have a published counterpart."""
        lengths, n = self.lengths, len(self.lengths)
        occ = int(sum(lengths))
        scale = 1e6 * PUBLISHED["mean_length"] / occ  # occurrences per 1M playlists
        length_counts = Counter(lengths)
        occ_counts = Counter(self.track_occ.values())
        top_days = [
            (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat()
            for d, _ in self.days.most_common(20)
        ]
        top_titles = self.norm_titles.most_common(20)
        return {
            "playlists": n,
            "track_occurrences": occ,
            "unique_tracks": len(self.track_occ),
            "unique_albums": len(self.albums),
            "unique_artists": len(self.artist_occ),
            "unique_titles": len(self.titles),
            "unique_normalized_titles": len(self.norm_titles),
            "description_share": self.n_desc / n,
            "collaborative_share": self.n_collab / n,
            "mean_length": occ / n,
            "length_mode": length_counts.most_common(1)[0][0],
            "length_min": min(lengths),
            "length_max": max(lengths),
            "top20_lengths": [k for k, _ in length_counts.most_common(20)],
            "mean_artists_per_playlist": self.n_artists_sum / n,
            "mean_albums_per_playlist": self.n_albums_sum / n,
            "followers_1_share": self.followers[1] / n,
            "followers_top10": [(k, v / n) for k, v in sorted(self.followers.items())[:10]],
            "edits_2_share": self.edits[2] / n,
            "edits_top20": [k for k, _ in self.edits.most_common(20)],
            "top_modified_days": top_days,
            "top_track_playlist_share": max(self.track_pl.values()) / n,
            "tracks_once_share": occ_counts[1] / len(self.track_occ),
            "tracks_twice_share": occ_counts[2] / len(self.track_occ),
            "top_artist_occurrences_per_1m": round(max(self.artist_occ.values()) * scale),
            "top20_artist_occurrences_per_1m": [
                round(v * scale) for _, v in self.artist_occ.most_common(20)
            ],
            "top_titles": [t for t, _ in top_titles],
            "top_titles_per_1m": [(t, round(c * 1e6 / n)) for t, c in top_titles],
            "raw_variants_example": [t for t in self.titles if normalize_name(t) == "country"][:8],
            "name_conflicts": self.name_conflicts,
            "violations": len(self.violations),
            "violation_examples": self.violations[:5],
        }
