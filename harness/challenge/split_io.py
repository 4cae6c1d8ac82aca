"""The split folder: `write_split` writes it atomically, `load_split` reads it back for a corpus.

Files (architecture.md): `challenge_set.json` (the official schema and key order),
`ground_truth.json` (the held-out tracks per pid, with category), `track_artists.parquet` (every
track of the corpus: track and artist URIs, for the artist credit when scoring without the corpus,
and `in_train`, true for the training catalogue) and `manifest.json`
(seed, settings, fingerprints, per-category report, sha256 of the other files). `load_split`
refuses a folder whose files changed or that was drawn from another corpus.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from harness.atomic import atomic_dir, read_json, read_json_object, write_json
from harness.challenge.categories import CATEGORIES
from harness.challenge.challenge_set import category_of, queries_from_playlists
from harness.challenge.split_core import (
    SPLIT_FORMAT,
    Split,
    check_split,
    split_fingerprint,
    train_catalogue,
)
from harness.data.corpus import Corpus
from harness.errors import HarnessError
from harness.outputs import check_folder_target, mark
from harness.types import Queries
from harness.version import __version__

FILES = ("challenge_set.json", "ground_truth.json", "track_artists.parquet", "manifest.json")


def _track_objects(corpus: Corpus, ids: NDArray[np.int32], pos: NDArray[np.int32]) -> list[Any]:
    """`corpus.track_object(id, pos)` for many tracks at once (same keys, same order)."""
    artist = corpus.track_artist[ids]  # (n,)
    album = corpus.track_album[ids]
    cols = zip(
        pos.tolist(),
        corpus.artist_names[artist].tolist(),
        corpus.track_uris[ids].tolist(),
        corpus.artist_uris[artist].tolist(),
        corpus.track_names[ids].tolist(),
        corpus.album_uris[album].tolist(),
        corpus.track_duration[ids].tolist(),
        corpus.album_names[album].tolist(),
        strict=True,
    )
    keys = ("pos", "artist_name", "track_uri", "artist_uri") + (
        "track_name",
        "album_uri",
        "duration_ms",
        "album_name",
    )
    return [dict(zip(keys, row, strict=True)) for row in cols]


def _challenge_doc(split: Split, corpus: Corpus) -> dict[str, Any]:
    """challenge_set.json in the official schema and key order."""
    q = split.queries
    last = int(corpus.modified_at.max()) if corpus.n_playlists else 0
    # a date derived from the data, not the clock, keeps the file byte-identical across runs
    date = datetime.fromtimestamp(last, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    tracks = _track_objects(corpus, q.seed_ids, q.seed_pos)
    offsets = q.seed_offsets.tolist()
    n_tracks = corpus.lengths[split.test_idx].tolist()  # (n_test,)
    names = corpus.names[split.test_idx].tolist()
    pids = corpus.pids[split.test_idx].tolist()
    playlists = []
    for j, number in enumerate(split.categories.tolist()):
        lo, hi = offsets[j], offsets[j + 1]
        p: dict[str, Any] = {}
        if CATEGORIES[number].title:
            p["name"] = names[j]
        p["num_holdouts"] = n_tracks[j] - (hi - lo)
        p["pid"] = pids[j]
        p["num_tracks"] = n_tracks[j]
        p["tracks"] = tracks[lo:hi]
        p["num_samples"] = hi - lo
        playlists.append(p)
    return {"date": date, "version": "v1", "playlists": playlists}


def _ground_truth_doc(split: Split, corpus: Corpus) -> dict[str, Any]:
    uris = corpus.track_uris[split.holdout_ids].tolist()  # (n_holdouts,)
    artists = corpus.artist_uris[corpus.track_artist[split.holdout_ids]].tolist()
    items = [
        {"pos": p, "track_uri": t, "artist_uri": a}
        for p, t, a in zip(split.holdout_pos.tolist(), uris, artists, strict=True)
    ]
    offsets = split.holdout_offsets.tolist()
    pids = corpus.pids[split.test_idx].tolist()
    out = [
        {"pid": pid, "category": number, "holdouts": items[offsets[j] : offsets[j + 1]]}
        for j, (pid, number) in enumerate(zip(pids, split.categories.tolist(), strict=True))
    ]
    return {"playlists": out}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_split_target(out_dir: str | Path) -> None:
    """Refuse a target that holds anything but an earlier split: writing replaces the folder."""
    check_folder_target(
        Path(out_dir),
        "split",
        flag="",
        legacy=_is_split,
        hint="writing a split replaces the whole folder, so choose a new or empty split folder",
    )


def _is_split(folder: Path) -> bool:
    """A split written before the `.mpd-harness` marker: its manifest says what it is."""
    try:
        doc = read_json(folder / "manifest.json")
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "format_version" in doc and "fingerprint" in doc


def write_split(split: Split, corpus: Corpus, out_dir: str | Path) -> None:
    """Write the split directory atomically: a killed write leaves no loadable half split.

    It replaces `out_dir` as a whole: only an empty folder or an earlier split may be there."""
    check_split_target(out_dir)
    with atomic_dir(out_dir) as tmp:
        mark(tmp, "split")
        write_json(tmp / "challenge_set.json", _challenge_doc(split, corpus))
        write_json(tmp / "ground_truth.json", _ground_truth_doc(split, corpus), indent=False)
        # every track the corpus knows (seeds and held-out tracks too), so that `score` gives
        # the artist credit `evaluate` gives; in_train marks the training catalogue
        in_train = train_catalogue(split.test_idx, corpus)  # (n_tracks,)
        table = pa.table(
            {
                "track_uri": pa.array(corpus.track_uris.tolist(), type=pa.string()),
                "artist_uri": pa.array(
                    corpus.artist_uris[corpus.track_artist].tolist(), type=pa.string()
                ),
                "in_train": pa.array(in_train, type=pa.bool_()),
            }
        )
        pq.write_table(table, tmp / "track_artists.parquet", compression="zstd")
        write_json(tmp / "manifest.json", _manifest(split, corpus, tmp))


def _manifest(split: Split, corpus: Corpus, directory: Path) -> dict[str, Any]:
    return {
        "format_version": SPLIT_FORMAT,
        "harness_version": __version__,
        "seed": split.seed,
        "settings": split.settings,
        "fingerprint": split.fingerprint,
        "source_fingerprint": corpus.source.get("fingerprint"),
        "source": corpus.source,
        "synthetic": bool(corpus.source.get("synthetic", False)),
        "n_playlists": corpus.n_playlists,
        "n_test": split.n_test,
        "n_train": corpus.n_playlists - split.n_test,
        "categories": split.report,
        "files": {name: _sha256(directory / name) for name in FILES if name != "manifest.json"},
    }


def load_split(split_dir: str | Path, corpus: Corpus) -> Split:
    """Read a split directory written by `write_split` for `corpus`.

    Raises HarnessError when files are missing or changed, or the split was made from another
    corpus (source fingerprint, pids, URIs or seed positions do not match).
    """
    d = Path(split_dir)
    manifest = _checked_manifest(d, corpus)
    cs_path, gt_path = d / "challenge_set.json", d / "ground_truth.json"
    # the sha256 check proved these are the files write_split wrote: no re-validation
    playlists = read_json(cs_path)["playlists"]
    queries = queries_from_playlists(playlists, corpus, where=str(cs_path), strict=True)
    gt = read_json(gt_path)["playlists"]
    if [g["pid"] for g in gt] != queries.pids.tolist():
        raise HarnessError(f"{gt_path}: pids differ from {cs_path} (order or content)")
    unknown = [int(p) for p in queries.pids if int(p) not in corpus.pid_index]
    if unknown:
        raise HarnessError(f"{cs_path}: pid {unknown[0]} is not in the corpus")
    test_idx = np.array([corpus.pid_index[int(p)] for p in queries.pids], dtype=np.int64)
    for j, g in enumerate(gt):
        if g["category"] != category_of(playlists[j]):
            raise HarnessError(f"{gt_path}: pid {g['pid']}: category differs from {cs_path}")
    hold_offsets, h_ids, h_pos = _holdouts(gt, gt_path, corpus)
    owner_h = np.repeat(np.arange(len(gt)), np.diff(hold_offsets))  # (n_holdouts,)
    owner_s = np.repeat(np.arange(len(gt)), np.diff(queries.seed_offsets))  # (n_seeds,)
    starts = corpus.offsets[test_idx]  # (n_test,)
    ok = np.array_equal(corpus.track_ids[starts[owner_h] + h_pos], h_ids) and np.array_equal(
        corpus.track_ids[starts[owner_s] + queries.seed_pos], queries.seed_ids
    )
    if not ok:
        raise HarnessError(f"{d}: seeds or holdouts do not match the corpus playlists")
    q = Queries(
        pids=queries.pids,
        seed_offsets=queries.seed_offsets,
        seed_ids=queries.seed_ids,
        seed_pos=queries.seed_pos,
        titles=queries.titles,
        categories=queries.categories,
    )
    source_fp = str(corpus.source.get("fingerprint") or "")
    fp = split_fingerprint(source_fp, q.pids, q.categories, q)
    if fp != manifest.get("fingerprint"):
        raise HarnessError(f"{d}: split fingerprint {fp} != manifest {manifest.get('fingerprint')}")
    split = Split(
        test_idx=test_idx,
        categories=q.categories,
        queries=q,
        holdout_offsets=hold_offsets,
        holdout_ids=h_ids,
        holdout_pos=h_pos,
        seed=int(manifest["seed"]),
        settings=manifest["settings"],
        fingerprint=fp,
        report=manifest.get("categories", {}),
    )
    check_split(split, corpus)
    return split


def _checked_manifest(d: Path, corpus: Corpus) -> dict[str, Any]:
    """The manifest of split folder `d`, once the folder is whole, in this format, drawn from
    `corpus`, and its files are the ones written (sha256)."""
    for name in FILES:
        if not (d / name).is_file():
            raise HarnessError(f"{d}: not a split directory (missing {name})")
    manifest = read_json_object(d / "manifest.json", "split manifest")
    if manifest.get("format_version") != SPLIT_FORMAT:
        raise HarnessError(
            f"{d / 'manifest.json'}: split format {manifest.get('format_version')} "
            f"!= {SPLIT_FORMAT}; re-run `mpd-harness split`"
        )
    have, want = corpus.source.get("fingerprint"), manifest.get("source_fingerprint")
    if have != want:
        raise HarnessError(
            f"{d}: this split was made from corpus {want} ({manifest.get('source', {}).get('path')})"
            f" but the corpus given has fingerprint {have}; split that corpus again"
        )
    digests = manifest.get("files", {})
    for name in FILES[:-1]:
        if _sha256(d / name) != digests.get(name):
            raise HarnessError(f"{d / name}: changed since the split was written (sha256 differs)")
    return manifest


def _holdouts(
    gt: list[dict[str, Any]], gt_path: Path, corpus: Corpus
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    """CSR offsets, track ids and positions of ground_truth.json's held-out tracks."""
    index = corpus.track_index
    offsets = np.zeros(len(gt) + 1, dtype=np.int64)
    np.cumsum([len(g["holdouts"]) for g in gt], out=offsets[1:])
    try:
        ids = np.array([index[h["track_uri"]] for g in gt for h in g["holdouts"]], np.int32)
    except KeyError as e:
        raise HarnessError(f"{gt_path}: track {e.args[0]} is not in the corpus") from None
    pos = np.array([h["pos"] for g in gt for h in g["holdouts"]], dtype=np.int32)
    return offsets, ids, pos
