"""Spotify URIs as fixed-width keys, and packed name lists: what parser processes send the merger.

Why: ingest's merger (the one serial step) spent most of its time hashing URI strings that had
just been pickled over from a worker and unpickled again (issue 26: ~80 ms of CPU per 1,000-
playlist slice). A valid URI is `spotify:<kind>:` + 22 base-62 characters, so its 22 characters,
padded to 24 bytes, are three uint64 words: the worker sends a (n, 3) array (one memcpy to pickle)
and the merger finds global ids in a compiled open-addressing table (`KeyTable`). Names travel as
one string plus lengths (`Packed`); the merger slices out only the names of new tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

ID_CHARS = 22  # base-62 characters after the `spotify:<kind>:` prefix
_BASE62 = np.zeros(256, dtype=bool)
_BASE62[
    np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
] = True


def prefix(kind: str) -> str:
    return f"spotify:{kind}:"


def uri_keys(uris: list[str], kind: str) -> tuple[NDArray[np.uint64], NDArray[np.bool_]]:
    """Keys (n, 3) of `uris` and which are not `spotify:<kind>:` + 22 base-62 characters (n,).

    Checked as one byte matrix; a bad URI's key is all zeros (it never reaches the merger)."""
    head = prefix(kind).encode()
    width = len(head) + ID_CHARS
    n = len(uris)
    bad = np.fromiter(map(len, uris), np.int64, n) != width  # (n,)
    ok = np.flatnonzero(~bad)
    raw = "".join(uris if len(ok) == n else [uris[i] for i in ok.tolist()]).encode()
    keys = np.zeros((n, 3), dtype=np.uint64)
    if len(raw) != len(ok) * width:  # a non-ASCII character: find the URIs that hold one
        ascii_ok = np.array([uris[i].isascii() for i in ok.tolist()], dtype=bool)
        bad[ok[~ascii_ok]] = True
        ok = ok[ascii_ok]
        raw = "".join([uris[i] for i in ok.tolist()]).encode()
    chars = np.frombuffer(raw, np.uint8).reshape(len(ok), width)  # (n_ok, width)
    good = (chars[:, : len(head)] == np.frombuffer(head, np.uint8)).all(axis=1)
    good &= _BASE62[chars[:, len(head) :]].all(axis=1)
    bad[ok] = ~good
    padded = np.zeros((len(ok), 24), dtype=np.uint8)
    padded[:, :ID_CHARS] = chars[:, len(head) :]
    keys[ok] = padded.view(np.uint64)
    keys[bad] = 0
    return keys, bad


def render(keys: NDArray[np.uint64], kind: str) -> list[str]:
    """The URIs of valid keys (n, 3), in order."""
    n = len(keys)
    text = np.ascontiguousarray(keys).view(np.uint8).reshape(n, 24)[:, :ID_CHARS].tobytes()
    head, s = prefix(kind), text.decode("ascii")
    return [head + s[i : i + ID_CHARS] for i in range(0, n * ID_CHARS, ID_CHARS)]


@dataclass
class Packed:
    """A list of strings as one string and the lengths (pickles as two buffers, not n objects)."""

    text: str
    lengths: NDArray[np.int64]  # (n,)

    @classmethod
    def of(cls, items: list[str]) -> Packed:
        return cls("".join(items), np.fromiter(map(len, items), np.int64, len(items)))

    def __len__(self) -> int:
        return len(self.lengths)

    def take(self, idx: NDArray[np.integer]) -> list[str]:
        """The strings at positions `idx`."""
        ends = np.cumsum(self.lengths)
        stops = ends[idx].tolist()
        starts = (ends[idx] - self.lengths[idx]).tolist()
        s = self.text
        return [s[a:b] for a, b in zip(starts, stops, strict=True)]


# ------------------------------------------------------------------------ global key table


@numba.njit(cache=True, nogil=True)
def _slot(a: np.uint64, b: np.uint64, c: np.uint64, mask: int) -> np.int64:
    h = (a * np.uint64(0x9E3779B97F4A7C15)) ^ (b * np.uint64(0xC2B2AE3D27D4EB4F)) ^ c
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))  # int64: uint64 mixed with int64 would be float64


@numba.njit(cache=True, nogil=True)
def _find(
    slots: NDArray[np.int32],  # (size,) id at each slot, -1 empty; size a power of two
    store: NDArray[np.uint64],  # (>= n_ids, 3) key of each id
    keys: NDArray[np.uint64],  # (n, 3)
    out: NDArray[np.int64],  # (n,) output: id, -1 where the key is absent
) -> None:
    mask = len(slots) - 1
    for i in range(len(keys)):
        a, b, c = keys[i, 0], keys[i, 1], keys[i, 2]
        s = _slot(a, b, c, mask)
        while True:
            g = slots[s]
            if g < 0:
                out[i] = -1
                break
            if store[g, 0] == a and store[g, 1] == b and store[g, 2] == c:
                out[i] = g
                break
            s = (s + 1) & mask


@numba.njit(cache=True, nogil=True)
def _insert(slots: NDArray[np.int32], store: NDArray[np.uint64], ids: NDArray[np.int64]) -> None:
    """Put `ids` (keys in `store`, none present yet) into `slots`."""
    mask = len(slots) - 1
    for g in ids:
        s = _slot(store[g, 0], store[g, 1], store[g, 2], mask)
        while slots[s] >= 0:
            s = (s + 1) & mask
        slots[s] = g


class KeyTable:
    """Key -> global id, ids given in order of first `add`; at most half the slots filled."""

    def __init__(self) -> None:
        self.slots = np.full(1 << 12, -1, dtype=np.int32)
        self.store = np.zeros((1 << 10, 3), dtype=np.uint64)
        self.n = 0

    def lookup(self, keys: NDArray[np.uint64]) -> NDArray[np.int64]:
        """Global ids of `keys` (n, 3), -1 where unknown (nothing is added)."""
        out = np.empty(len(keys), dtype=np.int64)
        _find(self.slots, self.store, np.ascontiguousarray(keys), out)
        return out

    def add(self, keys: NDArray[np.uint64], ids: NDArray[np.int64]) -> NDArray[np.int32]:
        """Complete `ids` (from `lookup` of distinct `keys`): the unknown get new ids in order."""
        new = np.flatnonzero(ids < 0)
        out = ids.copy()
        out[new] = np.arange(self.n, self.n + len(new))
        need = self.n + len(new)
        if need > len(self.store):
            grown = np.zeros((max(need, 2 * len(self.store)), 3), dtype=np.uint64)
            grown[: self.n] = self.store[: self.n]
            self.store = grown
        self.store[self.n : need] = keys[new]
        if 2 * need > len(self.slots):
            size = len(self.slots)
            while 2 * need > size:
                size *= 2
            self.slots = np.full(size, -1, dtype=np.int32)
            _insert(self.slots, self.store, np.arange(need, dtype=np.int64))
        else:
            _insert(self.slots, self.store, out[new])
        self.n = need
        return out.astype(np.int32)

    @property
    def keys(self) -> NDArray[np.uint64]:
        """(n, 3) the keys in id order."""
        return self.store[: self.n]
