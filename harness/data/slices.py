"""What an MPD slice is and where the slices are: the slice file's schema (msgspec Structs), and
the slices of a folder, of one slice file or of the MPD zip, in pid order.

Schema decisions: playlist and track objects may hold no keys beyond the documented ones (the
dataset's own rule); `info` and the top-level object may hold extra keys (the 2020 re-release adds
some). `collaborative` is accepted as "true"/"false" or a JSON bool; `description` is optional.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec

from harness.errors import DataError

SLICE_GLOB = "mpd.slice.*.json"
_SLICE_NAME = re.compile(r"mpd\.slice\.(\d+)-(\d+)\.json")
_ZIP_MEMBER = re.compile(r"(?:^|/)(mpd\.slice\.[^/]*\.json)$")

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


DECODER = msgspec.json.Decoder(SliceFile)


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
        """The slice's bytes; one larger than `max_slice_bytes()` is refused before it is read
        whole (a zip member is streamed, so memory never depends on the member's size)."""
        limit = max_slice_bytes()
        if self.member is None:
            size = Path(self.path).stat().st_size
            if size > limit:
                raise DataError(_too_big(self.name, size, limit))
            return Path(self.path).read_bytes()
        with zipfile.ZipFile(self.path) as zf:
            info = zf.getinfo(self.member)
            if info.file_size > limit:  # what the zip says, checked before reading
                raise DataError(_too_big(self.name, info.file_size, limit))
            chunks, total = [], 0
            with zf.open(info) as f:  # and what it holds, in case the header lies
                while chunk := f.read(1 << 20):
                    total += len(chunk)
                    if total > limit:
                        raise DataError(_too_big(self.name, total, limit))
                    chunks.append(chunk)
            return b"".join(chunks)


MAX_SLICE_BYTES = 512 << 20  # a real slice is about 33 MB, the largest synthetic one 18 MB
MAX_SLICE_ENV = "MPD_HARNESS_MAX_SLICE_MB"  # raise it for a corpus with bigger slices


def max_slice_bytes() -> int:
    """The largest slice read: MAX_SLICE_BYTES, or $MPD_HARNESS_MAX_SLICE_MB megabytes."""
    value = os.environ.get(MAX_SLICE_ENV, "").strip()
    if not value:
        return MAX_SLICE_BYTES
    try:
        mb = float(value)
    except ValueError:
        raise DataError(f"${MAX_SLICE_ENV}={value!r}: not a number of megabytes") from None
    if not 0 < mb < float("inf"):
        raise DataError(f"${MAX_SLICE_ENV}={value!r}: must be a positive number of megabytes")
    return int(mb * (1 << 20))


def _too_big(name: str, size: int, limit: int) -> str:
    return (
        f"{name}: {size:,} bytes or more, over the {limit:,} a slice may have (a real slice is "
        f"about 33 MB); set ${MAX_SLICE_ENV} to read bigger slices"
    )


def _slice_order(name: str) -> tuple[int, str]:
    """Sort key: first pid of `mpd.slice.<first>-<last>.json`, numerically; others by name last."""
    m = _SLICE_NAME.fullmatch(name)
    return (int(m.group(1)) if m else sys.maxsize, name)


def find_slices(
    path: str | Path, *, lenient: bool = False, warn: Callable[[str], None] | None = None
) -> tuple[list[SliceRef], list[tuple[str, int, int]], str]:
    """The slices under `path`, in pid order, with (name, size, mtime_ns) stamps and the kind.

    An entry of a folder named like a slice that is not a readable file (a folder, a broken or
    looping symlink, a socket) is an error, so a run never misses part of the MPD unnoticed;
    with `lenient` it is skipped and told to `warn`."""
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
        named = [f for f in entries if f.match(SLICE_GLOB)]
        odd = [(f, why) for f in named if (why := _not_a_slice_file(f))]
        for f, why in odd:
            message = f"{f}: named like a slice but {why}"
            if not lenient:
                raise DataError(
                    f"{message}; move or rename it (--lenient skips it, with a warning)"
                )
            if warn is not None:
                warn(f"{message}; skipped (--lenient)")
        skipped = {f for f, _ in odd}
        files = sorted((f for f in named if f not in skipped), key=lambda f: _slice_order(f.name))
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


def _not_a_slice_file(p: Path) -> str | None:
    """Why `p` cannot be read as a slice file (None: a regular file, perhaps via a symlink)."""
    try:
        st = p.stat()  # follows symlinks: a loop or a dangling link raises
    except OSError as e:
        kind = "a looping symlink" if e.errno == errno.ELOOP else "a broken symlink"
        return f"is {kind}" if p.is_symlink() else f"cannot be read ({e.strerror})"
    if stat.S_ISDIR(st.st_mode):
        return "is a folder"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    return None


def _stat(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns
