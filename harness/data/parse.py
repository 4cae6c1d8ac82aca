"""One slice: read, decode (msgspec), validate (`checks.py`) and encode with slice-local ids.

Runs in the parser processes; the merger (`merge.py`) maps the local ids to global ones. A schema
error sends the slice down a slow path that names the offending playlist's pid and field; with
`lenient` such playlists, and those failing an invariant, are skipped and their messages kept.
A track URI must carry the same artist and album everywhere; its name is taken from its first
appearance. URIs travel to the merger as fixed-width keys and names packed (`keys.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

from harness.data.checks import FlatSlice, find_problems, first_index
from harness.data.keys import Packed, render
from harness.data.slices import DECODER, Info, Playlist, SliceRef
from harness.errors import DataError


@dataclass
class SliceResult:
    """One slice, validated and encoded with slice-local ids (first-appearance order)."""

    name: str
    n_bytes: int
    synthetic: bool
    skipped: list[str]
    # playlists, shape (n,)
    pids: NDArray[np.int64]
    index: NDArray[np.int64]  # position in the file
    lengths: NDArray[np.int64]
    names: list[str]
    descriptions: list[str | None]
    collaborative: NDArray[np.bool_]
    modified_at: NDArray[np.int64]
    num_followers: NDArray[np.int64]
    num_edits: NDArray[np.int64]
    occ: NDArray[np.int32]  # (n_occurrences,) local track ids
    # local tracks (n_t,), artists (n_a,), albums (n_b,); keys (n_*, 3) of their URIs
    tr_key: NDArray[np.uint64]
    tr_name: Packed
    tr_art: NDArray[np.int32]
    tr_alb: NDArray[np.int32]
    tr_dur: NDArray[np.int64]
    ar_key: NDArray[np.uint64]
    ar_name: Packed
    al_key: NDArray[np.uint64]
    al_name: Packed
    occ_dur: NDArray[np.int64]  # (n_occurrences,) duration_ms as given at each occurrence

    def uri(self, kind: str, local: int) -> str:
        """The URI of local track, artist or album id `local`."""
        keys = {"track": self.tr_key, "artist": self.ar_key, "album": self.al_key}[kind]
        return render(keys[local : local + 1], kind)[0]

    def subset(self, keep: NDArray[np.bool_]) -> SliceResult:
        """The same slice with only the playlists where `keep` is true, local ids re-numbered."""
        occ = self.occ[np.repeat(keep, self.lengths)]
        used_t = _first_appearance(occ, len(self.tr_key))
        used_a = _first_appearance(self.tr_art[used_t], len(self.ar_key))
        used_b = _first_appearance(self.tr_alb[used_t], len(self.al_key))
        idx = np.flatnonzero(keep)
        return SliceResult(
            name=self.name,
            n_bytes=self.n_bytes,
            synthetic=self.synthetic,
            skipped=self.skipped,
            pids=self.pids[keep],
            index=self.index[keep],
            lengths=self.lengths[keep],
            names=[self.names[i] for i in idx],
            descriptions=[self.descriptions[i] for i in idx],
            collaborative=self.collaborative[keep],
            modified_at=self.modified_at[keep],
            num_followers=self.num_followers[keep],
            num_edits=self.num_edits[keep],
            occ=_renumber(used_t, len(self.tr_key))[occ],
            tr_key=self.tr_key[used_t],
            tr_name=Packed.of(self.tr_name.take(used_t)),
            tr_art=_renumber(used_a, len(self.ar_key))[self.tr_art[used_t]],
            tr_alb=_renumber(used_b, len(self.al_key))[self.tr_alb[used_t]],
            tr_dur=self.tr_dur[used_t],
            ar_key=self.ar_key[used_a],
            ar_name=Packed.of(self.ar_name.take(used_a)),
            al_key=self.al_key[used_b],
            al_name=Packed.of(self.al_name.take(used_b)),
            occ_dur=self.occ_dur[np.repeat(keep, self.lengths)],
        )


def _first_appearance(codes: NDArray[np.int32], n: int) -> NDArray[np.int64]:
    """Distinct values of `codes` in order of first appearance."""
    uniq, first = np.unique(codes, return_index=True)
    return uniq[np.argsort(first, kind="stable")].astype(np.int64)


def _renumber(used: NDArray[np.int64], n: int) -> NDArray[np.int32]:
    """Old id -> new id (position in `used`), -1 for ids not used."""
    m = np.full(n, -1, dtype=np.int32)
    m[used] = np.arange(len(used), dtype=np.int32)
    return m


def parse_slice(ref: SliceRef, lenient: bool = False) -> SliceResult:
    """Read, decode, validate and locally encode one slice. Runs in worker processes."""
    data = ref.read()
    n_bytes = len(data)
    skipped: list[str] = []
    try:
        sf = DECODER.decode(data)
        info, playlists = sf.info, sf.playlists
        index = list(range(len(playlists)))
    except msgspec.ValidationError as e:
        try:
            info, playlists, index = _decode_per_playlist(ref, data, e, lenient, skipped)
        except RecursionError:
            raise DataError(_too_deep(ref, data)) from None
    except msgspec.DecodeError as e:
        raise DataError(_syntax_error(ref, data, e)) from None
    except RecursionError:  # msgspec's decoder recurses per level of nesting
        raise DataError(_too_deep(ref, data)) from None
    del data
    return _encode(ref.name, n_bytes, info, playlists, index, lenient, skipped)


def _too_deep(ref: SliceRef, data: bytes) -> str:
    """Where JSON nesting goes too deep: orjson stops at depth 1024 and names the position."""
    import orjson

    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as e:
        return f"{ref.name}: JSON nested too deeply ({e}); an MPD slice nests 4 levels"
    return f"{ref.name}: JSON nested too deeply to decode; an MPD slice nests 4 levels"


def _syntax_error(ref: SliceRef, data: bytes, e: msgspec.DecodeError) -> str:
    """Locate a JSON syntax error as line/column/byte (the stdlib parser reports positions)."""
    try:
        json.loads(data)
    except RecursionError:
        return _too_deep(ref, data)
    except json.JSONDecodeError as je:
        return (
            f"{ref.name}: invalid JSON at line {je.lineno} column {je.colno} "
            f"(char {je.pos}): {je.msg}"
        )
    except UnicodeDecodeError as ue:
        return f"{ref.name}: invalid UTF-8 at byte {ue.start}: {ue.reason}"
    return f"{ref.name}: invalid JSON: {e}"


def _decode_per_playlist(
    ref: SliceRef, data: bytes, err: msgspec.ValidationError, lenient: bool, skipped: list[str]
) -> tuple[Info, list[Playlist], list[int]]:
    """Slow path after a schema error: find the offending playlist(s) and name their pid."""
    raw = msgspec.json.decode(data)
    if not isinstance(raw, dict):
        raise DataError(f"{ref.name}: the top level is not a JSON object ({err})")
    for key in ("info", "playlists"):
        if key not in raw:
            raise DataError(f"{ref.name}: missing top-level field `{key}`")
    try:
        info = msgspec.convert(raw["info"], Info)
    except msgspec.ValidationError as e:
        raise DataError(f"{ref.name}: info: {_at(e, '$.info')}") from None
    if not isinstance(raw["playlists"], list):
        raise DataError(f"{ref.name}: `playlists` is not a list")
    playlists, index = [], []
    for i, p in enumerate(raw["playlists"]):
        try:
            playlists.append(msgspec.convert(p, Playlist))
            index.append(i)
        except msgspec.ValidationError as e:
            pid = p.get("pid", "?") if isinstance(p, dict) else "?"
            msg = f"{ref.name}: playlist pid {pid} (playlists[{i}]): {_at(e, f'$.playlists[{i}]')}"
            if not lenient:
                raise DataError(msg) from None
            skipped.append(msg)
    return info, playlists, index


def _at(e: msgspec.ValidationError, prefix: str) -> str:
    """msgspec's message with its `$` path made absolute within the file."""
    return str(e).replace("`$", f"`{prefix}", 1)


def _encode(
    name: str,
    n_bytes: int,
    info: Info,
    playlists: list[Playlist],
    index: list[int],
    lenient: bool,
    skipped: list[str],
) -> SliceResult:
    """Validate the invariants of every playlist, then encode with slice-local ids.

    `index`: position of each playlist in the file (they differ once invalid ones are skipped).
    """
    f = FlatSlice.of(playlists)
    checks = find_problems(f, pid_range(name))
    bad = np.zeros(f.n, dtype=bool)
    for mask, _, _ in checks:
        bad |= mask
    if not bad.any():
        return _result(name, n_bytes, info, f, index, skipped)
    msgs = [
        f"{name}: playlist pid {playlists[j].pid} (playlists[{index[j]}]): {what}: {describe(j)}"
        for j in np.flatnonzero(bad).tolist()
        for mask, what, describe in checks
        if mask[j]
    ]
    if not lenient:
        raise DataError(msgs[0])
    skipped.extend(_unique_by_playlist(msgs))
    keep = np.flatnonzero(~bad).tolist()
    kept = [playlists[j] for j in keep]
    return _encode(name, n_bytes, info, kept, [index[j] for j in keep], lenient, skipped)


def pid_range(name: str) -> tuple[int, int] | None:
    """(first, last) pid of a slice named `.../mpd.slice.<first>-<last>.json` (None otherwise)."""
    m = re.search(r"(?:^|[/:\\])mpd\.slice\.(\d+)-(\d+)\.json\Z", name)
    return (int(m[1]), int(m[2])) if m else None


def _result(
    name: str, n_bytes: int, info: Info, f: FlatSlice, index: list[int], skipped: list[str]
) -> SliceResult:
    """The valid playlists of `f` as a SliceResult."""
    playlists, flat, first = f.playlists, f.flat, f.first

    def column(attr: str) -> NDArray[np.int64]:
        return np.array([getattr(p, attr) for p in playlists], dtype=np.int64)

    return SliceResult(
        name=name,
        n_bytes=n_bytes,
        synthetic=bool(info.synthetic),
        skipped=skipped,
        pids=column("pid"),
        index=np.array(index, dtype=np.int64),
        lengths=f.lengths,
        names=[p.name for p in playlists],
        descriptions=[p.description for p in playlists],
        collaborative=np.array([_collab(p.collaborative) for p in playlists], dtype=bool),
        modified_at=column("modified_at"),
        num_followers=column("num_followers"),
        num_edits=column("num_edits"),
        occ=f.occ,
        tr_key=f.keys["track"][0],
        tr_name=Packed.of([flat[i].track_name for i in first.tolist()]),
        tr_art=f.art_occ[first],
        tr_alb=f.alb_occ[first],
        tr_dur=f.dur_occ[first],
        ar_key=f.keys["artist"][0],
        ar_name=Packed.of([flat[i].artist_name for i in first_index(f.art_occ).tolist()]),
        al_key=f.keys["album"][0],
        al_name=Packed.of([flat[i].album_name for i in first_index(f.alb_occ).tolist()]),
        occ_dur=f.dur_occ,
    )


def _unique_by_playlist(msgs: list[str]) -> list[str]:
    """One message per skipped playlist (the first problem found)."""
    seen: set[str] = set()
    out = []
    for m in msgs:
        key = m.split("): ", 1)[0]
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _collab(c: str | bool) -> bool:
    return c if isinstance(c, bool) else c == "true"
