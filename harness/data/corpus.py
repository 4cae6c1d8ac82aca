"""The encoded MPD: contiguous int32 ids, CSR playlists, and string tables.

Track URIs become ids once, here; URIs come back only when files are written. The corpus is
stored on disk as data only: `arrays.npz` (loaded with allow_pickle=False) for the numbers and
Parquet tables for the strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from harness.atomic import atomic_dir, read_json, write_json

FORMAT_VERSION = 1

_PUNCT = re.compile(r"[.,/#!$%^*;:{}=_`~()@]")
_SPACE = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    """Title normalisation of the official stats script.

    Lowercase; each of ``. , / # ! $ % ^ * ; : { } = _ ` ~ ( ) @`` becomes a space; whitespace
    collapsed; stripped.
    """
    return _SPACE.sub(" ", _PUNCT.sub(" ", name.lower())).strip()


ObjArray = NDArray[np.object_]


@dataclass
class Corpus:
    """All playlists of an MPD (or a subset), encoded.

    Playlist `i` holds tracks `track_ids[offsets[i]:offsets[i+1]]` in playlist order.
    """

    # playlists, shape (n_playlists,) unless noted
    pids: NDArray[np.int64]
    offsets: NDArray[np.int64]  # (n_playlists + 1,)
    track_ids: NDArray[np.int32]  # (n_occurrences,)
    names: ObjArray  # str
    descriptions: ObjArray  # str or None
    collaborative: NDArray[np.bool_]
    modified_at: NDArray[np.int64]
    num_followers: NDArray[np.int32]
    num_edits: NDArray[np.int32]
    # tracks, shape (n_tracks,)
    track_uris: ObjArray
    track_names: ObjArray
    track_artist: NDArray[np.int32]
    track_album: NDArray[np.int32]
    track_duration: NDArray[np.int64]
    # artists (n_artists,) and albums (n_albums,)
    artist_uris: ObjArray
    artist_names: ObjArray
    album_uris: ObjArray
    album_names: ObjArray
    # where it came from: {"fingerprint": str, "path": str, "synthetic": bool, ...}
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def n_playlists(self) -> int:
        return len(self.pids)

    @property
    def n_tracks(self) -> int:
        return len(self.track_uris)

    @property
    def n_artists(self) -> int:
        return len(self.artist_uris)

    @property
    def n_albums(self) -> int:
        return len(self.album_uris)

    @property
    def lengths(self) -> NDArray[np.int64]:
        """Number of tracks of each playlist (duplicates counted)."""
        return np.diff(self.offsets)

    def tracks_of(self, i: int) -> NDArray[np.int32]:
        """Track ids of playlist index `i` (not pid) in order."""
        return self.track_ids[self.offsets[i] : self.offsets[i + 1]]

    @cached_property
    def normalized_names(self) -> ObjArray:
        """Normalised titles, shape (n_playlists,)."""
        return np.array([normalize_name(n) for n in self.names], dtype=object)

    @cached_property
    def pid_index(self) -> dict[int, int]:
        """pid -> playlist index."""
        return {int(p): i for i, p in enumerate(self.pids)}

    @cached_property
    def track_index(self) -> dict[str, int]:
        """track URI -> track id."""
        return {u: i for i, u in enumerate(self.track_uris)}

    def track_object(self, track_id: int, pos: int) -> dict[str, Any]:
        """The MPD JSON object of a track at position `pos`."""
        a = int(self.track_artist[track_id])
        b = int(self.track_album[track_id])
        return {
            "pos": int(pos),
            "artist_name": self.artist_names[a],
            "track_uri": self.track_uris[track_id],
            "artist_uri": self.artist_uris[a],
            "track_name": self.track_names[track_id],
            "album_uri": self.album_uris[b],
            "duration_ms": int(self.track_duration[track_id]),
            "album_name": self.album_names[b],
        }

    # ---------------------------------------------------------------- building

    @classmethod
    def from_playlists(
        cls, playlists: Iterable[Mapping[str, Any]], source: dict[str, Any] | None = None
    ) -> Corpus:
        """Encode already-validated playlist objects (the MPD JSON schema) in order.

        A simple reference encoder for tests and small inputs; `harness.data.ingest` has the fast path.
        """
        b = CorpusBuilder()
        for p in playlists:
            b.add(p)
        return b.build(source or {})

    # ---------------------------------------------------------------- storage

    def save(self, path: str | Path) -> None:
        """Write the corpus to directory `path` atomically (data formats only, no pickle)."""
        with atomic_dir(path) as tmp:
            np.savez(
                tmp / "arrays.npz",
                pids=self.pids,
                offsets=self.offsets,
                track_ids=self.track_ids,
                collaborative=self.collaborative,
                modified_at=self.modified_at,
                num_followers=self.num_followers,
                num_edits=self.num_edits,
                track_artist=self.track_artist,
                track_album=self.track_album,
                track_duration=self.track_duration,
            )
            _write_table(tmp / "playlists.parquet", name=self.names, description=self.descriptions)
            _write_table(tmp / "tracks.parquet", uri=self.track_uris, name=self.track_names)
            _write_table(tmp / "artists.parquet", uri=self.artist_uris, name=self.artist_names)
            _write_table(tmp / "albums.parquet", uri=self.album_uris, name=self.album_names)
            write_json(tmp / "meta.json", {"format_version": FORMAT_VERSION, "source": self.source})

    @classmethod
    def load(cls, path: str | Path) -> Corpus:
        """Load a corpus written by `save`."""
        d = Path(path)
        meta = read_json(d / "meta.json")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{d}: corpus format {meta.get('format_version')} != {FORMAT_VERSION}")
        with np.load(d / "arrays.npz", allow_pickle=False) as z:
            arr = {k: z[k] for k in z.files}
        pl = _read_table(d / "playlists.parquet")
        tr = _read_table(d / "tracks.parquet")
        ar = _read_table(d / "artists.parquet")
        al = _read_table(d / "albums.parquet")
        return cls(
            pids=arr["pids"],
            offsets=arr["offsets"],
            track_ids=arr["track_ids"],
            names=pl["name"],
            descriptions=pl["description"],
            collaborative=arr["collaborative"],
            modified_at=arr["modified_at"],
            num_followers=arr["num_followers"],
            num_edits=arr["num_edits"],
            track_uris=tr["uri"],
            track_names=tr["name"],
            track_artist=arr["track_artist"],
            track_album=arr["track_album"],
            track_duration=arr["track_duration"],
            artist_uris=ar["uri"],
            artist_names=ar["name"],
            album_uris=al["uri"],
            album_names=al["name"],
            source=meta["source"],
        )


def _write_table(path: Path, **cols: ObjArray) -> None:
    table = pa.table({k: pa.array(v, type=pa.string(), from_pandas=True) for k, v in cols.items()})
    pq.write_table(table, path, compression="zstd")


def _read_table(path: Path) -> dict[str, ObjArray]:
    t = pq.read_table(path)
    return {k: t.column(k).to_numpy(zero_copy_only=False).astype(object) for k in t.column_names}


class CorpusBuilder:
    """Accumulates playlists, mapping URIs to contiguous ids in order of first appearance."""

    def __init__(self) -> None:
        self.track_index: dict[str, int] = {}
        self.artist_index: dict[str, int] = {}
        self.album_index: dict[str, int] = {}
        self.track_uris: list[str] = []
        self.track_names: list[str] = []
        self.track_artist: list[int] = []
        self.track_album: list[int] = []
        self.track_duration: list[int] = []
        self.artist_uris: list[str] = []
        self.artist_names: list[str] = []
        self.album_uris: list[str] = []
        self.album_names: list[str] = []
        self.pids: list[int] = []
        self.lengths: list[int] = []
        self.chunks: list[NDArray[np.int32]] = []
        self.names: list[str] = []
        self.descriptions: list[str | None] = []
        self.collaborative: list[bool] = []
        self.modified_at: list[int] = []
        self.num_followers: list[int] = []
        self.num_edits: list[int] = []

    def _id(
        self, index: dict[str, int], uris: list[str], names: list[str], uri: str, name: str
    ) -> int:
        i = index.get(uri)
        if i is None:
            i = index[uri] = len(uris)
            uris.append(uri)
            names.append(name)
        return i

    def add(self, p: Mapping[str, Any]) -> None:
        """Add one playlist object (MPD JSON schema)."""
        ids = []
        for t in p["tracks"]:
            uri = t["track_uri"]
            tid = self.track_index.get(uri)
            if tid is None:
                tid = self.track_index[uri] = len(self.track_uris)
                self.track_uris.append(uri)
                self.track_names.append(t["track_name"])
                self.track_artist.append(
                    self._id(
                        self.artist_index,
                        self.artist_uris,
                        self.artist_names,
                        t["artist_uri"],
                        t["artist_name"],
                    )
                )
                self.track_album.append(
                    self._id(
                        self.album_index,
                        self.album_uris,
                        self.album_names,
                        t["album_uri"],
                        t["album_name"],
                    )
                )
                self.track_duration.append(int(t["duration_ms"]))
            ids.append(tid)
        self.chunks.append(np.asarray(ids, dtype=np.int32))
        self.lengths.append(len(ids))
        self.pids.append(int(p["pid"]))
        self.names.append(p["name"])
        self.descriptions.append(p.get("description"))
        c = p.get("collaborative", False)
        self.collaborative.append(c if isinstance(c, bool) else str(c).lower() == "true")
        self.modified_at.append(int(p["modified_at"]))
        self.num_followers.append(int(p["num_followers"]))
        self.num_edits.append(int(p["num_edits"]))

    def build(self, source: dict[str, Any]) -> Corpus:
        offsets = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=offsets[1:])
        obj = lambda xs: np.array(xs, dtype=object)  # noqa: E731
        return Corpus(
            pids=np.asarray(self.pids, dtype=np.int64),
            offsets=offsets,
            track_ids=np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int32),
            names=obj(self.names),
            descriptions=obj(self.descriptions),
            collaborative=np.asarray(self.collaborative, dtype=bool),
            modified_at=np.asarray(self.modified_at, dtype=np.int64),
            num_followers=np.asarray(self.num_followers, dtype=np.int32),
            num_edits=np.asarray(self.num_edits, dtype=np.int32),
            track_uris=obj(self.track_uris),
            track_names=obj(self.track_names),
            track_artist=np.asarray(self.track_artist, dtype=np.int32),
            track_album=np.asarray(self.track_album, dtype=np.int32),
            track_duration=np.asarray(self.track_duration, dtype=np.int64),
            artist_uris=obj(self.artist_uris),
            artist_names=obj(self.artist_names),
            album_uris=obj(self.album_uris),
            album_names=obj(self.album_names),
            source=source,
        )
