"""What `verify` checks a submission against: the challenge set (validated first) and the
tracks the recommendations should come from. Used by harness/challenge/submission.py and
harness/challenge/scoring.py; `from harness.challenge.submission import load_challenge_seeds`
keeps working."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from harness.atomic import read_json
from harness.errors import DataError


def load_challenge_seeds(path: str | Path) -> dict[int, frozenset[str]]:
    """pid -> seed track URIs of each playlist of a challenge_set.json, in file order.

    The challenge set itself is validated first: its size, each playlist's counts
    (`len(tracks) == num_samples`, `num_samples + num_holdouts == num_tracks`), seed positions
    unique and within the playlist, URIs, and a recognisable category
    (harness/challenge/challenge_set.py); a problem is a DataError naming the playlist."""
    from harness.challenge.challenge_set import category_of, check_size, validate_playlist

    check_size(Path(path))
    doc = read_json(path)
    playlists = doc.get("playlists") if isinstance(doc, dict) else None
    if not isinstance(playlists, list):
        raise DataError(f"{path}: no 'playlists' list; is this a challenge_set.json?")
    seeds: dict[int, frozenset[str]] = {}
    for i, p in enumerate(playlists):
        pid = p.get("pid") if isinstance(p, dict) else None
        tracks = p.get("tracks") if isinstance(p, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(tracks, list):
            raise DataError(f"{path}: playlists[{i}]: needs an integer 'pid' and a 'tracks' list")
        if pid in seeds:
            raise DataError(f"{path}: playlists[{i}]: pid {pid} appears twice")
        validate_playlist(p, i, str(path))
        try:
            category_of(p)
        except DataError as e:
            raise DataError(f"{path}: playlists[{i}]: {e}") from None
        try:
            seeds[pid] = frozenset(t["track_uri"] for t in tracks)
        except (TypeError, KeyError) as e:
            raise DataError(f"{path}: playlists[{i}] (pid {pid}): a track lacks 'track_uri'") from e
    return seeds


def load_known_tracks(path: str | Path, cache_dir: Path | None = None) -> tuple[set[str], str]:
    """(track URIs, what they are) from a split's track_artists.parquet (the training
    catalogue) or from an MPD (a folder of slices, one slice or the zip; via the corpus cache)."""
    p = Path(path)
    if p.is_file() and p.suffix == ".parquet":
        try:
            names = pq.read_schema(p).names
            table = pq.read_table(
                p, columns=["track_uri", *(["in_train"] if "in_train" in names else [])]
            )
        except (OSError, KeyError, ValueError, pa.ArrowException) as e:
            raise DataError(f"{p}: cannot read a 'track_uri' column ({e})") from e
        if "in_train" in names:  # every corpus track is listed: keep the training catalogue
            table = table.filter(table.column("in_train"))
        return set(table.column("track_uri").to_pylist()), "the training data"
    from harness.data.ingest import load_corpus  # lazy: only this option reads an MPD

    corpus = load_corpus(p, cache_dir=cache_dir)
    return set(corpus.track_uris.tolist()), "the MPD"
