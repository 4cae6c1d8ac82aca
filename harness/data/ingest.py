"""Reading the MPD: slices (a folder, one slice file, or the MPD zip) -> validated, cached Corpus.

Slices are decoded one at a time with msgspec typed Structs, validated against the schema and the
invariants of the dataset (mpd-facts §1), and encoded into slice-local ids; the main process then
maps those to global ids in order of first appearance (the same ids as `Corpus.from_playlists`).
With several workers, slices are parsed in worker processes and merged in file order.

Schema decisions: playlist and track objects may hold no keys beyond the documented ones (the
dataset's own rule); `info` and the top-level object may hold extra keys (the 2020 re-release adds
some). `collaborative` is accepted as "true"/"false" or a JSON bool; `description` is optional.
A track URI must carry the same artist, album and duration everywhere; its name is taken from its
first appearance. The sampling rules (5..250 tracks, followers ≥ 1, ...) are not enforced, so
subsets and hand-made slices load.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import signal
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import msgspec
import numpy as np
import orjson
from numpy.typing import NDArray

from harness.data.corpus import FORMAT_VERSION, Corpus
from harness.errors import DataError
from harness.testhooks import kill_point

# Bump when parsing or validation changes what a cached corpus holds.
# 2: source["slices"] (file name and playlists of each slice); a track's duration_ms may differ
# between its occurrences (counted and warned, the first kept; it was an error)
DATA_VERSION = 2
SLICE_GLOB = "mpd.slice.*.json"
_SLICE_NAME = re.compile(r"mpd\.slice\.(\d+)-(\d+)\.json")
_ZIP_MEMBER = re.compile(r"(?:^|/)(mpd\.slice\.[^/]*\.json)$")
_URI = {
    kind: re.compile(rf"spotify:{kind}:[0-9A-Za-z]{{22}}") for kind in ("track", "artist", "album")
}
_MAX_EXAMPLES = 5  # skipped-playlist messages kept in corpus.source


def default_cache_dir() -> Path:
    """`$MPD_HARNESS_CACHE`, else `.cache/mpd-harness` under the current directory."""
    env = os.environ.get("MPD_HARNESS_CACHE")
    return Path(env) if env else Path.cwd() / ".cache" / "mpd-harness"


# ------------------------------------------------------------------------------------ schema


# Counts, ids, times and durations: never negative, and within int64 once summed.
Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


# gc=False: decoded JSON holds no reference cycles, and untracked Structs decode ~15% faster.
class Track(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    pos: Count
    artist_name: str
    track_uri: str
    artist_uri: str
    track_name: str
    album_uri: str
    duration_ms: Count
    album_name: str


class Playlist(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str
    collaborative: str | bool
    pid: Count
    modified_at: Count
    num_tracks: Count
    num_albums: Count
    num_followers: Count
    tracks: list[Track]
    num_edits: Count
    duration_ms: Count
    num_artists: Count
    description: str | None = None


class Info(msgspec.Struct):
    """Slice metadata; extra keys are allowed. The synthetic generator adds `synthetic: true`."""

    slice: str
    version: str
    generated_on: str
    synthetic: bool = False


class SliceFile(msgspec.Struct):
    info: Info
    playlists: list[Playlist]


_DECODER = msgspec.json.Decoder(SliceFile)


# ------------------------------------------------------------------------------------ sources


@dataclass(frozen=True)
class SliceRef:
    """One slice: a file, or a member of a zip archive."""

    path: str
    member: str | None = None

    @property
    def name(self) -> str:
        """How messages name this slice."""
        return f"{self.path}:{self.member}" if self.member else self.path

    def read(self) -> bytes:
        if self.member is None:
            return Path(self.path).read_bytes()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


def _slice_order(name: str) -> tuple[int, str]:
    """Sort key: first pid of `mpd.slice.<first>-<last>.json`, numerically; others by name last."""
    m = _SLICE_NAME.fullmatch(name)
    return (int(m.group(1)) if m else sys.maxsize, name)


def find_slices(path: str | Path) -> tuple[list[SliceRef], list[tuple[str, int, int]], str]:
    """The slices under `path`, in pid order, with (name, size, mtime_ns) stamps and the kind."""
    p = Path(path)
    if not p.exists():
        raise DataError(
            f"{p}: no such file or folder (expected a folder of {SLICE_GLOB}, "
            "one slice file, or the MPD zip)"
        )
    if p.is_dir():
        entries = list(p.iterdir())
        if not entries:
            raise DataError(f"{p}: the folder is empty (expected {SLICE_GLOB} files)")
        files = sorted(
            (f for f in entries if f.is_file() and f.match(SLICE_GLOB)),
            key=lambda f: _slice_order(f.name),
        )
        if not files:
            shown = ", ".join(sorted(e.name for e in entries)[:5])
            inner = [e for e in entries if e.is_dir() and any(e.glob(SLICE_GLOB))]
            hint = f"; did you mean {inner[0]}?" if inner else ""
            raise DataError(
                f"{p}: no {SLICE_GLOB} files in the folder (it holds: {shown}, ...){hint}"
            )
        stamps = [(f.name, *_stat(f)) for f in files]
        return [SliceRef(str(f)) for f in files], stamps, "folder"
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            members = [
                (m.group(1), info.filename)
                for info in zf.infolist()
                if not info.is_dir() and (m := _ZIP_MEMBER.search(info.filename))
            ]
        if not members:
            raise DataError(f"{p}: the zip holds no {SLICE_GLOB} files")
        members.sort(key=lambda nm: (_slice_order(nm[0]), nm[1]))
        return [SliceRef(str(p), full) for _, full in members], [(p.name, *_stat(p))], "zip"
    return [SliceRef(str(p))], [(p.name, *_stat(p))], "file"


def _stat(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns


def fingerprint(stamps: Sequence[tuple[str, int, int]], lenient: bool) -> str:
    """Hash of the format versions, the lenient flag and each input's name, size and mtime."""
    key = orjson.dumps([FORMAT_VERSION, DATA_VERSION, lenient, [list(s) for s in stamps]])
    return hashlib.sha256(key).hexdigest()[:24]


# ------------------------------------------------------------------------------------ one slice


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
    # local tracks (n_t,), artists (n_a,), albums (n_b,)
    tr_uri: list[str]
    tr_name: list[str]
    tr_art: NDArray[np.int32]
    tr_alb: NDArray[np.int32]
    tr_dur: NDArray[np.int64]
    ar_uri: list[str]
    ar_name: list[str]
    al_uri: list[str]
    al_name: list[str]
    occ_dur: NDArray[np.int64]  # (n_occurrences,) duration_ms as given at each occurrence

    def subset(self, keep: NDArray[np.bool_]) -> SliceResult:
        """The same slice with only the playlists where `keep` is true, local ids re-numbered."""
        occ = self.occ[np.repeat(keep, self.lengths)]
        used_t = _first_appearance(occ, len(self.tr_uri))
        used_a = _first_appearance(self.tr_art[used_t], len(self.ar_uri))
        used_b = _first_appearance(self.tr_alb[used_t], len(self.al_uri))
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
            occ=_renumber(used_t, len(self.tr_uri))[occ],
            tr_uri=[self.tr_uri[i] for i in used_t],
            tr_name=[self.tr_name[i] for i in used_t],
            tr_art=_renumber(used_a, len(self.ar_uri))[self.tr_art[used_t]],
            tr_alb=_renumber(used_b, len(self.al_uri))[self.tr_alb[used_t]],
            tr_dur=self.tr_dur[used_t],
            ar_uri=[self.ar_uri[i] for i in used_a],
            ar_name=[self.ar_name[i] for i in used_a],
            al_uri=[self.al_uri[i] for i in used_b],
            al_name=[self.al_name[i] for i in used_b],
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


def _factorize(values: list[str]) -> tuple[NDArray[np.int32], list[str]]:
    """Codes (first-appearance order) and the distinct values; a dict is faster than pandas here."""
    d: dict[str, int] = {}
    codes = np.array([d.setdefault(v, len(d)) for v in values], dtype=np.int32)
    return codes, list(d)


def _first_index(codes: NDArray[np.int32]) -> NDArray[np.int64]:
    """Index of the first occurrence of each code, for codes numbered in first-appearance order."""
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    new[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return np.flatnonzero(new)


def parse_slice(ref: SliceRef, lenient: bool = False) -> SliceResult:
    """Read, decode, validate and locally encode one slice. Runs in worker processes."""
    data = ref.read()
    n_bytes = len(data)
    skipped: list[str] = []
    try:
        sf = _DECODER.decode(data)
        info, playlists = sf.info, sf.playlists
        index = list(range(len(playlists)))
    except msgspec.ValidationError as e:
        info, playlists, index = _decode_per_playlist(ref, data, e, lenient, skipped)
    except msgspec.DecodeError as e:
        raise DataError(_syntax_error(ref, data, e)) from None
    del data
    return _encode(ref.name, n_bytes, info, playlists, index, lenient, skipped)


def _syntax_error(ref: SliceRef, data: bytes, e: msgspec.DecodeError) -> str:
    """Locate a JSON syntax error as line/column/byte (the stdlib parser reports positions)."""
    try:
        json.loads(data)
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


# A check: (bad playlists mask (n,), field, message for playlist index i).
_Check = tuple[NDArray[np.bool_], str, Callable[[int], str]]


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
    n = len(playlists)
    lengths = np.array([len(p.tracks) for p in playlists], dtype=np.int64)  # (n,)
    flat = [t for p in playlists for t in p.tracks]  # (n_occ,)
    occ, tr_uri = _factorize([t.track_uri for t in flat])
    art_occ, ar_uri = _factorize([t.artist_uri for t in flat])
    alb_occ, al_uri = _factorize([t.album_uri for t in flat])
    first = _first_index(occ)  # (n_t,) first occurrence of each local track
    dur_occ = np.array([t.duration_ms for t in flat], dtype=np.int64)
    pos = np.array([t.pos for t in flat], dtype=np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    pl_of = np.repeat(np.arange(n), lengths)  # (n_occ,) playlist index of each occurrence

    checks = _checks(
        playlists,
        flat,
        lengths,
        starts,
        pl_of,
        occ,
        art_occ,
        alb_occ,
        dur_occ,
        pos,
        first,
        tr_uri,
        ar_uri,
        al_uri,
    )
    bad = np.zeros(n, dtype=bool)
    for mask, _, _ in checks:
        bad |= mask
    if bad.any():
        msgs = [
            f"{name}: playlist pid {playlists[j].pid} (playlists[{index[j]}]): {what}: "
            f"{describe(j)}"
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

    art_first, alb_first = art_occ[first], alb_occ[first]
    return SliceResult(
        name=name,
        n_bytes=n_bytes,
        synthetic=bool(info.synthetic),
        skipped=skipped,
        pids=np.array([p.pid for p in playlists], dtype=np.int64),
        index=np.array(index, dtype=np.int64),
        lengths=lengths,
        names=[p.name for p in playlists],
        descriptions=[p.description for p in playlists],
        collaborative=np.array([_collab(p.collaborative) for p in playlists], dtype=bool),
        modified_at=np.array([p.modified_at for p in playlists], dtype=np.int64),
        num_followers=np.array([p.num_followers for p in playlists], dtype=np.int64),
        num_edits=np.array([p.num_edits for p in playlists], dtype=np.int64),
        occ=occ,
        tr_uri=tr_uri,
        tr_name=[flat[i].track_name for i in first.tolist()],
        tr_art=art_first,
        tr_alb=alb_first,
        tr_dur=dur_occ[first],
        ar_uri=ar_uri,
        ar_name=[flat[i].artist_name for i in _first_index(art_occ).tolist()],
        al_uri=al_uri,
        al_name=[flat[i].album_name for i in _first_index(alb_occ).tolist()],
        occ_dur=dur_occ,
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


def _per_playlist(pl_of: NDArray[np.int64], bad_occ: NDArray[np.bool_], n: int) -> Any:
    return np.bincount(pl_of[bad_occ], minlength=n) > 0


def _checks(
    playlists: list[Playlist],
    flat: list[Track],
    lengths: NDArray[np.int64],
    starts: NDArray[np.int64],
    pl_of: NDArray[np.int64],
    occ: NDArray[np.int32],
    art_occ: NDArray[np.int32],
    alb_occ: NDArray[np.int32],
    dur_occ: NDArray[np.int64],
    pos: NDArray[np.int64],
    first: NDArray[np.int64],
    tr_uri: list[str],
    ar_uri: list[str],
    al_uri: list[str],
) -> list[_Check]:
    """Every invariant of mpd-facts §1 that a single slice can check, vectorised."""
    n = len(playlists)

    def col(attr: str) -> NDArray[np.int64]:
        return np.array([getattr(p, attr) for p in playlists], dtype=np.int64)

    def first_bad_track(i: int, bad_occ: NDArray[np.bool_]) -> int:
        return int(np.flatnonzero(bad_occ[starts[i] : starts[i + 1]])[0])

    checks: list[_Check] = []
    num_tracks = col("num_tracks")
    checks.append(
        (
            num_tracks != lengths,
            "num_tracks",
            lambda i: f"is {num_tracks[i]} but there are {lengths[i]} tracks",
        )
    )
    bad_pos = pos != np.arange(len(pos)) - starts[pl_of]
    checks.append(
        (
            _per_playlist(pl_of, bad_pos, n),
            "tracks[].pos",
            lambda i: (
                f"tracks[{(j := first_bad_track(i, bad_pos))}].pos is {pos[starts[i] + j]}, "
                f"expected {j}"
            ),
        )
    )
    csum = np.concatenate([[0], np.cumsum(dur_occ)])
    dur_sum = csum[starts[1:]] - csum[starts[:-1]]  # (n,)
    duration = col("duration_ms")
    checks.append(
        (
            duration != dur_sum,
            "duration_ms",
            lambda i: f"is {duration[i]} but the tracks sum to {dur_sum[i]}",
        )
    )
    for attr, codes, n_codes in (
        ("num_artists", art_occ, len(ar_uri)),
        ("num_albums", alb_occ, len(al_uri)),
    ):
        distinct = np.bincount(
            np.unique(pl_of * max(n_codes, 1) + codes) // max(n_codes, 1), minlength=n
        )
        stated = col(attr)
        kind = attr[4:-1]
        checks.append(
            (
                stated != distinct,
                attr,
                partial(_count_message, stated=stated, distinct=distinct, kind=kind),
            )
        )
    for kind, codes, uniques in (
        ("track", occ, tr_uri),
        ("artist", art_occ, ar_uri),
        ("album", alb_occ, al_uri),
    ):
        bad_u = _bad_uris(uniques, kind)
        if bad_u.any():
            bad_occ = bad_u[codes]
            checks.append(
                (
                    _per_playlist(pl_of, bad_occ, n),
                    f"tracks[].{kind}_uri",
                    partial(_uri_message, bad_occ=bad_occ, kind=kind, flat=flat, starts=starts),
                )
            )
    # A track URI names one artist and album: compare each occurrence with the first. (A
    # differing duration_ms is only counted, in Merger._commit: no metric uses it, and the
    # challenge facts promise one *name* per URI, not one duration.)
    same: tuple[tuple[str, NDArray[np.integer[Any]]], ...] = (
        ("artist_uri", art_occ),
        ("album_uri", alb_occ),
    )
    for what, values in same:
        bad_occ = values != values[first][occ]
        if bad_occ.any():
            checks.append(
                (
                    _per_playlist(pl_of, bad_occ, n),
                    f"tracks[].{what}",
                    partial(
                        _inconsistent,
                        bad_occ=bad_occ,
                        what=what,
                        flat=flat,
                        starts=starts,
                        first=first,
                        occ=occ,
                    ),
                )
            )
    empty = np.array([not p.name for p in playlists], dtype=bool)
    checks.append((empty, "name", lambda i: "is empty"))
    bad_c = np.array(
        [
            isinstance(p.collaborative, str) and p.collaborative not in ("true", "false")
            for p in playlists
        ],
        dtype=bool,
    )
    checks.append(
        (bad_c, "collaborative", lambda i: f'is {playlists[i].collaborative!r}, not "true"/"false"')
    )
    pids = col("pid")
    order = np.argsort(pids, kind="stable")
    dup_sorted = np.zeros(n, dtype=bool)
    dup_sorted[1:] = pids[order][1:] == pids[order][:-1]
    dup = np.zeros(n, dtype=bool)
    dup[order] = dup_sorted
    checks.append((dup, "pid", lambda i: f"{pids[i]} appears earlier in the same slice"))
    return checks


_BASE62 = np.zeros(256, dtype=bool)
_BASE62[
    np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
] = True


def _bad_uris(uris: list[str], kind: str) -> NDArray[np.bool_]:
    """Which URIs are not `spotify:<kind>:` + 22 base-62 characters, checked as one byte matrix."""
    prefix = f"spotify:{kind}:".encode()
    width = len(prefix) + 22
    bad = np.fromiter(map(len, uris), np.int64, len(uris)) != width  # (n,)
    ok = np.flatnonzero(~bad)
    raw = "".join([uris[i] for i in ok.tolist()]).encode()
    if len(raw) != len(ok) * width:  # some non-ASCII character: check one by one
        return np.array([_URI[kind].fullmatch(u) is None for u in uris], dtype=bool)
    chars = np.frombuffer(raw, np.uint8).reshape(len(ok), width)  # (n_ok, width)
    good = (chars[:, : len(prefix)] == np.frombuffer(prefix, np.uint8)).all(axis=1)
    good &= _BASE62[chars[:, len(prefix) :]].all(axis=1)
    bad[ok] = ~good
    return bad


def _count_message(
    i: int, stated: NDArray[np.int64], distinct: NDArray[np.int64], kind: str
) -> str:
    return f"is {stated[i]} but the tracks have {distinct[i]} distinct {kind}_uri"


def _uri_message(
    i: int, bad_occ: NDArray[np.bool_], kind: str, flat: list[Track], starts: NDArray[np.int64]
) -> str:
    j = int(np.flatnonzero(bad_occ[starts[i] : starts[i + 1]])[0])
    uri = getattr(flat[starts[i] + j], f"{kind}_uri")
    return f"tracks[{j}].{kind}_uri {uri!r} is not spotify:{kind}: + 22 base-62 characters"


def _inconsistent(
    i: int,
    bad_occ: NDArray[np.bool_],
    what: str,
    flat: list[Track],
    starts: NDArray[np.int64],
    first: NDArray[np.int64],
    occ: NDArray[np.int32],
) -> str:
    j = int(np.flatnonzero(bad_occ[starts[i] : starts[i + 1]])[0])
    t = flat[starts[i] + j]
    f = flat[first[occ[starts[i] + j]]]
    return (
        f"tracks[{j}] ({t.track_uri}) has {what} {getattr(t, what)!r}, but "
        f"{getattr(f, what)!r} earlier in this slice"
    )


# ------------------------------------------------------------------------------------ merging


class _Column:
    """A growable numpy column (amortised doubling)."""

    def __init__(self, dtype: type) -> None:
        self.buf: NDArray[Any] = np.empty(1024, dtype=dtype)
        self.n = 0

    def extend(self, values: NDArray[Any]) -> None:
        need = self.n + len(values)
        if need > len(self.buf):
            grown = np.empty(max(need, 2 * len(self.buf)), dtype=self.buf.dtype)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : need] = values
        self.n = need

    @property
    def view(self) -> NDArray[Any]:
        return self.buf[: self.n]


@dataclass
class _Table:
    """URI -> global id, with the names, in first-appearance order."""

    index: dict[str, int] = field(default_factory=dict)
    uris: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def lookup(self, uris: list[str]) -> NDArray[np.int64]:
        """Global ids of `uris`, -1 where unknown (nothing is added)."""
        n = len(uris)
        return np.fromiter(map(self.index.get, uris, itertools.repeat(-1, n)), np.int64, n)

    def add(self, uris: list[str], names: list[str], ids: NDArray[np.int64]) -> NDArray[np.int32]:
        """Complete `ids` (from `lookup` of distinct `uris`): the unknown get new ids in order."""
        new = np.flatnonzero(ids < 0).tolist()
        start = len(self.uris)
        out = ids.copy()
        out[new] = np.arange(start, start + len(new))
        fresh = [uris[i] for i in new]
        self.index.update(zip(fresh, range(start, start + len(new)), strict=True))
        self.uris.extend(fresh)
        self.names.extend([names[i] for i in new])
        return out.astype(np.int32)


class Merger:
    """Maps slice-local ids to global ids, checking what needs every earlier slice."""

    def __init__(self, lenient: bool) -> None:
        self.lenient = lenient
        self.tracks, self.artists, self.albums = _Table(), _Table(), _Table()
        self.t_art, self.t_alb, self.t_dur = _Column(np.int32), _Column(np.int32), _Column(np.int64)
        self.pid_seen: set[int] = set()
        self.pid_file: list[tuple[str, NDArray[np.int64]]] = []
        self.parts: list[SliceResult] = []  # playlist columns, occ replaced by global ids
        self.skipped: list[str] = []
        self.n_skipped = 0
        self.synthetic = False
        self.n_bytes = 0
        self.dur_conflicts = 0  # occurrences whose duration_ms differs from the one kept
        self.dur_example: str | None = None

    def add(self, r: SliceResult) -> None:
        self.n_skipped += len(r.skipped)
        self.skipped.extend(r.skipped[: max(0, _MAX_EXAMPLES - len(self.skipped))])
        self.synthetic |= r.synthetic
        self.n_bytes += r.n_bytes
        ids = self._lookup(r)
        bad, msgs = self._cross_slice_problems(r, *ids)
        if bad.any():
            if not self.lenient:
                raise DataError(msgs[0])
            self.n_skipped += int(bad.sum())
            self.skipped.extend(msgs[: max(0, _MAX_EXAMPLES - len(self.skipped))])
            r = r.subset(~bad)
            ids = self._lookup(r)
        self._commit(r, *ids)

    def _lookup(self, r: SliceResult) -> tuple[NDArray[np.int64], ...]:
        """Global ids of the slice's tracks, artists and albums; -1 for new ones."""
        return (
            self.tracks.lookup(r.tr_uri),
            self.artists.lookup(r.ar_uri),
            self.albums.lookup(r.al_uri),
        )

    def _cross_slice_problems(
        self,
        r: SliceResult,
        gt: NDArray[np.int64],
        ga: NDArray[np.int64],
        gb: NDArray[np.int64],
    ) -> tuple[NDArray[np.bool_], list[str]]:
        """Playlists whose pid was seen in an earlier slice or whose tracks disagree with one.

        `gt`, `ga`, `gb`: global ids of the local tracks, artists, albums (-1: new).
        """
        n = len(r.pids)
        seen = self.pid_seen
        dup = np.array([p in seen for p in r.pids.tolist()], dtype=bool)
        known = gt >= 0  # (n_t,)
        bad_t = np.zeros(len(gt), dtype=bool)
        what: dict[int, str] = {}
        if known.any():
            g = gt[known]
            for col, ours, label in (
                (self.t_art, ga[r.tr_art], "artist_uri"),
                (self.t_alb, gb[r.tr_alb], "album_uri"),
            ):
                diff = np.zeros(len(gt), dtype=bool)
                diff[known] = col.view[g] != ours[known]
                for j in np.flatnonzero(diff & ~bad_t).tolist():
                    what[j] = label
                bad_t |= diff
        bad_occ = bad_t[r.occ]
        pl_of = np.repeat(np.arange(n), r.lengths)
        inconsistent = np.bincount(pl_of[bad_occ], minlength=n) > 0
        bad = dup | inconsistent
        msgs = []
        starts = np.concatenate([[0], np.cumsum(r.lengths)])
        for i in np.flatnonzero(bad).tolist():
            head = f"{r.name}: playlist pid {r.pids[i]} (playlists[{r.index[i]}])"
            if dup[i]:
                msgs.append(
                    f"{head}: pid: {r.pids[i]} already appears in {self._file_of(r.pids[i])}"
                )
                continue
            local = r.occ[starts[i] : starts[i + 1]]
            j = int(np.flatnonzero(bad_t[local])[0])
            t = int(local[j])
            msgs.append(
                f"{head}: tracks[{j}].{what[t]}: track {r.tr_uri[t]} "
                f"{self._describe(r, t, what[t])} here but {self._describe_global(int(gt[t]), what[t])} "
                "in an earlier slice"
            )
        return bad, msgs

    def _describe(self, r: SliceResult, t: int, what: str) -> str:
        if what == "artist_uri":
            return f"has artist {r.ar_uri[r.tr_art[t]]}"
        return f"has album {r.al_uri[r.tr_alb[t]]}"

    def _describe_global(self, g: int, what: str) -> str:
        if what == "artist_uri":
            return self.artists.uris[self.t_art.view[g]]
        return self.albums.uris[self.t_alb.view[g]]

    def _file_of(self, pid: int) -> str:
        for name, pids in self.pid_file:
            if (pids == pid).any():
                return name
        return "an earlier slice"

    def _commit(
        self, r: SliceResult, gt: NDArray[np.int64], ga: NDArray[np.int64], gb: NDArray[np.int64]
    ) -> None:
        new = gt < 0  # (n_t,)
        ga32 = self.artists.add(r.ar_uri, r.ar_name, ga)
        gb32 = self.albums.add(r.al_uri, r.al_name, gb)
        gt32 = self.tracks.add(r.tr_uri, r.tr_name, gt)
        self.t_art.extend(ga32[r.tr_art[new]])
        self.t_alb.extend(gb32[r.tr_alb[new]])
        self.t_dur.extend(r.tr_dur[new])
        self._count_duration_conflicts(r, gt32)
        self.pid_seen.update(r.pids.tolist())
        self.pid_file.append((r.name, r.pids))
        r.occ = gt32[r.occ]
        r.tr_uri = r.tr_name = r.ar_uri = r.ar_name = r.al_uri = r.al_name = []
        self.parts.append(r)

    def _count_duration_conflicts(self, r: SliceResult, gt32: NDArray[np.int32]) -> None:
        """Count occurrences whose duration_ms differs from the track's first (kept) one."""
        kept = self.t_dur.view[gt32[r.occ]]  # (n_occ,) the value the corpus keeps
        diff = kept != r.occ_dur
        if diff.any():
            self.dur_conflicts += int(diff.sum())
            if self.dur_example is None:
                k = int(np.flatnonzero(diff)[0])
                i = int(np.searchsorted(np.cumsum(r.lengths), k, side="right"))
                j = k - int(r.lengths[:i].sum())
                self.dur_example = (
                    f"{r.name}: playlist pid {r.pids[i]} (playlists[{r.index[i]}]): "
                    f"tracks[{j}] ({r.tr_uri[r.occ[k]]}) has duration_ms {r.occ_dur[k]}, "
                    f"kept {kept[k]} from its first occurrence"
                )
        r.occ_dur = r.occ_dur[:0]  # not needed after this

    def build(self, source: dict[str, Any]) -> Corpus:
        parts = self.parts
        lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])

        def cat(attr: str, dtype: type) -> NDArray[Any]:
            if not parts:
                return np.zeros(0, dtype=dtype)
            return np.concatenate([getattr(p, attr) for p in parts]).astype(dtype, copy=False)

        def obj(xs: list[Any]) -> NDArray[np.object_]:
            out = np.empty(len(xs), dtype=object)
            out[:] = xs
            return out

        return Corpus(
            pids=cat("pids", np.int64),
            offsets=offsets,
            track_ids=cat("occ", np.int32),
            names=obj([x for p in parts for x in p.names]),
            descriptions=obj([x for p in parts for x in p.descriptions]),
            collaborative=cat("collaborative", np.bool_),
            modified_at=cat("modified_at", np.int64),
            num_followers=cat("num_followers", np.int32),
            num_edits=cat("num_edits", np.int32),
            track_uris=obj(self.tracks.uris),
            track_names=obj(self.tracks.names),
            track_artist=self.t_art.view.copy(),
            track_album=self.t_alb.view.copy(),
            track_duration=self.t_dur.view.copy(),
            artist_uris=obj(self.artists.uris),
            artist_names=obj(self.artists.names),
            album_uris=obj(self.albums.uris),
            album_names=obj(self.albums.names),
            source=source,
        )


# ------------------------------------------------------------------------------------ loading


def _auto_workers(n_files: int) -> int:
    """Two parser processes pay off from a handful of slices; one below that."""
    return max(1, min(2, os.cpu_count() or 1, n_files // 4))


def _pool(workers: int) -> Any:
    """Parser processes. `fork` starts fast and needs no importable __main__; it happens before
    any progress thread exists. Results come back through multiprocessing's in-memory pickling,
    never through a file."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ctx.Pool(workers, initializer=_ignore_sigint)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_job(job: tuple[SliceRef, bool]) -> SliceResult:
    return parse_slice(*job)


def _in_order(pool: Any, jobs: list[tuple[SliceRef, bool]], ahead: int) -> Iterator[SliceResult]:
    """Results in job order, with at most `ahead` slices in flight (bounded memory, unlike imap
    when the merging falls behind)."""
    pending: collections.deque[Any] = collections.deque()
    todo = iter(jobs)
    for job in itertools.islice(todo, ahead):
        pending.append(pool.apply_async(_parse_job, (job,)))
    while pending:
        result = pending.popleft().get()
        for job in itertools.islice(todo, 1):
            pending.append(pool.apply_async(_parse_job, (job,)))
        yield result


def _ingest(
    refs: list[SliceRef], lenient: bool, workers: int, progress: bool, label: str
) -> Merger:
    """Parse every slice (ahead, in `workers` processes when > 1) and merge them in file order."""
    merger = Merger(lenient)
    with contextlib.ExitStack() as stack:
        results: Iterable[SliceResult]
        if workers > 1:
            pool = stack.enter_context(_pool(workers))
            results = _in_order(pool, [(ref, lenient) for ref in refs], ahead=2 * workers)
        else:
            results = (parse_slice(ref, lenient) for ref in refs)
        advance: Callable[[], None] = lambda: None  # noqa: E731
        if progress:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            bar = stack.enter_context(
                Progress(
                    "[progress.description]{task.description}",
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=Console(stderr=True),
                )
            )
            task = bar.add_task(f"reading {label}", total=len(refs))
            advance = lambda: bar.advance(task)  # noqa: E731
        for r in results:
            merger.add(r)
            kill_point(f"ingest:{r.name.rsplit('/', 1)[-1]}")
            advance()
    return merger


def load_corpus(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    lenient: bool = False,
    progress: bool = False,
    workers: int | None = None,
    use_cache: bool = True,
) -> Corpus:
    """Load the MPD at `path` (a folder of slices, one slice file, or the MPD zip) as a Corpus.

    The encoded corpus is cached under `cache_dir` (default: `default_cache_dir()`) in a folder
    named by the inputs' fingerprint and reused while no input changes. Invalid data raises
    DataError naming the file, pid and field; with `lenient=True` invalid playlists are skipped
    and counted instead (`corpus.source["skipped"]`; JSON syntax errors and unreadable files
    still stop). `workers`: parser processes (default: 2 from 4 slices on, else 1).
    """
    refs, stamps, kind = find_slices(path)
    fp = fingerprint(stamps, lenient)
    shown = str(Path(path))
    where = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = where / fp
    if use_cache and (target / "meta.json").exists():
        try:
            corpus = Corpus.load(target)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            print(
                f"warning: cached corpus {target} is unreadable ({e}); rebuilding", file=sys.stderr
            )
        else:
            corpus.source["path"] = shown
            _warn_skipped(corpus.source)
            return corpus
    n_workers = workers if workers is not None else _auto_workers(len(refs))
    merger = _ingest(refs, lenient, n_workers, progress, Path(path).name)
    if not merger.parts or not any(len(p.pids) for p in merger.parts):
        if not merger.n_skipped:
            raise DataError(f"{shown}: the slices hold no playlists")
    source = {
        "path": shown,
        "kind": kind,
        "fingerprint": fp,
        "n_files": len(refs),
        "n_bytes": merger.n_bytes,
        "synthetic": merger.synthetic,
        "lenient": lenient,
        "skipped": merger.n_skipped,
        "skipped_examples": merger.skipped,
        "data_version": DATA_VERSION,
        "duration_conflicts": merger.dur_conflicts,
        "duration_conflict_example": merger.dur_example,
        # [file name, playlists kept] of each slice in corpus order: `stats` replays the
        # official script's file order (sorted names) from it
        "slices": [[Path(p.name).name, len(p.pids)] for p in merger.parts],
    }
    corpus = merger.build(source)
    if use_cache:
        corpus.save(target)
    _warn_skipped(source)
    return corpus


def _warn_skipped(source: dict[str, Any]) -> None:
    if source.get("duration_conflicts"):
        print(
            f"warning: {source['path']}: {source['duration_conflicts']} track occurrence(s) give "
            "a track another duration_ms than its first occurrence (the first is kept; no "
            f"metric uses it); first: {source.get('duration_conflict_example')}",
            file=sys.stderr,
        )
    if source.get("skipped"):
        first = (source.get("skipped_examples") or ["?"])[0]
        print(
            f"warning: {source['path']}: skipped {source['skipped']} invalid playlist(s) "
            f"(--lenient); first: {first}",
            file=sys.stderr,
        )
