"""Crash-safe writes: write to a temporary sibling, fsync, then rename over the target.

A killed process leaves at most a hidden `.NAME.tmp-<pid>-<host>-*` file or folder behind, never
a half-written target; the next atomic write to NAME on the same host removes those whose process
is gone (a killed 1M-playlist `synth` leaves 18 GB).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from harness.errors import DataError


class JSONFileError(DataError, ValueError):
    """A file that is not valid JSON; the message names it. Still a ValueError for callers that
    treat an unreadable file as absent (e.g. a cache or an incomplete run)."""


def _host_tag() -> str:
    """This host's name, reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _prefix(path: Path, kind: str) -> str:
    """Name prefix of the temporaries of `path`: the owner's pid and host let a later write
    tell a killed writer's leftovers from a live one's."""
    return f".{path.name}.{kind}-{os.getpid()}-{_host_tag()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def sweep_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of `path` left by killed processes on this host; return them.

    Only names made by this module with a pid that no longer exists on this host are touched,
    so a concurrent writer (here or on another host sharing the folder) keeps its temporaries.
    """
    target = Path(path)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(?:tmp|old)-(\d+)-([A-Za-z0-9]+)-")
    host = _host_tag()
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    for entry in entries:
        m = pattern.match(entry.name)
        if not m or m.group(2) != host or _alive(int(m.group(1))):
            continue
        p = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError:
            continue  # not ours to remove after all (permissions): leave it
        removed.append(p)
    return removed


def _fsync_dir(path: Path) -> None:
    """Make a folder's entries (a rename into it) durable; a no-op where folders cannot be
    opened (not POSIX)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself is atomic anyway
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file under `root`, then each folder: the whole tree is on disk before the
    rename that publishes it."""
    for dirpath, _, files in os.walk(root, topdown=False):  # a folder after its contents
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                os.fsync(f.fileno())
        _fsync_dir(Path(dirpath))


def _tmp_sibling(path: Path, suffix: str = "") -> Path:
    sweep_stale(path)
    fd, name = tempfile.mkstemp(prefix=_prefix(path, "tmp"), suffix=suffix, dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(target, target.suffix)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


GZIP_LEVEL = 6  # within 2% of level 9 on URI lists, about 3x faster


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file for writing (text or binary); gzip when the name ends in `.gz`."""
    with atomic_path(path) as tmp:
        binary = "b" in mode
        if str(path).endswith(".gz"):
            # mtime=0 keeps gzip output byte-identical across runs.
            raw = open(tmp, "wb")  # noqa: SIM115
            gz = gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
            )
            f: IO[Any] = (
                cast(IO[Any], gz)
                if binary
                else io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
            )
            try:
                yield f
            finally:
                f.close()
                raw.close()
        elif binary:
            with open(tmp, "wb") as fb:
                yield fb
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as ft:
                yield ft


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory; it replaces `path` only if the block succeeds."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(errno.EEXIST, "a file stands where a folder is to be written", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target, "tmp"), dir=target.parent))
    # mkdtemp makes the folder private (0700); give it the permissions a plain mkdir() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)
    try:
        yield tmp
        _fsync_tree(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=_prefix(target, "old"), dir=target.parent))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | os.PathLike[str], obj: Any, *, indent: bool = True) -> None:
    """Write JSON atomically with sorted-free, deterministic output (keys in insertion order)."""
    opts = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    with atomic_open(path, "wb") as f:
        f.write(orjson.dumps(obj, option=opts))
        f.write(b"\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file (gzip when the name ends in `.gz`); orjson refuses nesting deeper than
    1024 levels with a JSONDecodeError, so no input can exhaust the stack here."""
    p = Path(path)
    try:
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise JSONFileError(f"{p}: not a readable gzip file ({e})") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise JSONFileError(f"{p}: not valid JSON ({e})") from None


def read_json_object(path: str | os.PathLike[str], what: str = "") -> dict[str, Any]:
    """A JSON file that must hold an object (`what` names the file's role in the message)."""
    doc = read_json(path)
    if not isinstance(doc, dict):
        kind = type(doc).__name__.replace("NoneType", "null").replace("dict", "object")
        role = f" {what}" if what else ""
        raise JSONFileError(f"{path}: not a{role} file (a JSON {kind}, not an object)")
    return doc
