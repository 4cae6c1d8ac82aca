"""The split folder: `write_split` writes it atomically, `load_split` reads it back for a corpus.

Files (architecture.md): `challenge_set.json` (the official schema and key order),
`ground_truth.json` (the held-out tracks per pid, with category), `track_artists.parquet` (the
training catalogue: track and artist URIs, for scoring without the corpus) and `manifest.json`
(seed, settings, fingerprints, per-category report, sha256 of the other files). `load_split`
refuses a folder whose files changed or that was drawn from another corpus.

A validation split (drawn from the test split's training playlists) lives in
`SPLIT_DIR/validation/` with the same four files; its manifest adds `kind: "validation"` and
the test split's fingerprint. `write_validation` adds or replaces that folder alone (the test
split's files are not touched), `load_validation` reads it back as the `harness.types.Validation`
models get, `read_split_ref` reads what it needs of the test split without opening the test
ground truth, and `validation_train_set` gives a model everything it may learn from (training
playlists + validation) that way.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from harness.atomic import atomic_dir, read_json, write_json
from harness.challenge.categories import CATEGORIES
from harness.challenge.challenge_set import category_of, queries_from_playlists
from harness.challenge.split_core import (
    SPLIT_FORMAT,
    VALIDATION_STREAMS,
    Split,
    SplitRef,
    as_validation,
    check_split,
    split_fingerprint,
    train_catalogue,
    train_without,
)
from harness.data.corpus import Corpus
from harness.errors import HarnessError, UsageError
from harness.types import Queries, TrainSet, Validation
from harness.version import __version__

FILES = ("challenge_set.json", "ground_truth.json", "track_artists.parquet", "manifest.json")
VALIDATION_DIR = "validation"  # SPLIT_DIR/validation/: the validation split, same files


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
    p = Path(out_dir)
    if not p.exists():
        return
    if not p.is_dir():
        raise UsageError(f"{p}: exists and is not a folder; choose another split folder")
    if any(p.iterdir()) and not (p / "manifest.json").is_file():
        raise UsageError(
            f"{p}: a folder that is not a split (no manifest.json) and not empty; writing a split "
            "replaces the whole folder, so choose a new or empty one"
        )


def write_split(split: Split, corpus: Corpus, out_dir: str | Path) -> None:
    """Write the split directory atomically: a killed write leaves no loadable half split.

    It replaces `out_dir` as a whole: only an empty folder or an earlier split may be there."""
    check_split_target(out_dir)
    with atomic_dir(out_dir) as tmp:
        _write_files(split, corpus, tmp, split.test_idx)
        write_json(tmp / "manifest.json", _manifest(split, corpus, tmp))


def write_validation(
    validation: Split, split: Split | SplitRef, corpus: Corpus, split_dir: str | Path
) -> None:
    """Write `SPLIT_DIR/validation/` atomically, leaving the test split's files as they are.

    Replaces an earlier validation folder; refuses a `validation` entry the harness did not write.
    Its manifest adds `kind`, the test split's fingerprint and the random streams of the draw.
    """
    ref = _ref(split)
    if validation.of_split != ref.fingerprint:
        raise UsageError(
            f"validation split {validation.fingerprint} was drawn for split {validation.of_split}, "
            f"not {ref.fingerprint}"
        )
    target = Path(split_dir) / VALIDATION_DIR
    check_split_target(target)
    outside = np.concatenate([validation.test_idx, ref.test_idx])  # not training here
    with atomic_dir(target) as tmp:
        _write_files(validation, corpus, tmp, outside)
        manifest = _manifest(validation, corpus, tmp)
        manifest |= {
            "kind": "validation",
            "split_fingerprint": ref.fingerprint,
            "split_seed": ref.seed,
            "n_train": corpus.n_playlists - len(outside),  # what stays for fitting
            "n_split_test": len(ref.test_idx),
            "streams": {
                "selection": [validation.seed, "category", *VALIDATION_STREAMS[0]],
                "seed_positions": [validation.seed, "category", *VALIDATION_STREAMS[1]],
            },
        }
        write_json(tmp / "manifest.json", manifest)


def _ref(split: Split | SplitRef) -> SplitRef:
    return split.ref if isinstance(split, Split) else split


def _write_files(split: Split, corpus: Corpus, directory: Path, outside: NDArray[np.int64]) -> None:
    """The challenge set, ground truth and training catalogue (every playlist but `outside`)."""
    write_json(directory / "challenge_set.json", _challenge_doc(split, corpus))
    write_json(directory / "ground_truth.json", _ground_truth_doc(split, corpus), indent=False)
    tracks = np.flatnonzero(train_catalogue(outside, corpus))
    table = pa.table(
        {
            "track_uri": pa.array(corpus.track_uris[tracks].tolist(), type=pa.string()),
            "artist_uri": pa.array(
                corpus.artist_uris[corpus.track_artist[tracks]].tolist(), type=pa.string()
            ),
        }
    )
    pq.write_table(table, directory / "track_artists.parquet", compression="zstd")


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
    return _read_split(Path(split_dir), corpus)


def _read_split(
    d: Path, corpus: Corpus, of_split: str = "", outside: NDArray[np.int64] | None = None
) -> Split:
    """The split (or, with `of_split`, the validation split) in folder `d`, checked."""
    manifest = _checked_manifest(d, corpus)
    cs_path, gt_path = d / "challenge_set.json", d / "ground_truth.json"
    # the sha256 check proved these are the files write_split wrote: no re-validation
    playlists = read_json(cs_path)["playlists"]
    queries = queries_from_playlists(playlists, corpus, where=str(cs_path), strict=True)
    gt = read_json(gt_path)["playlists"]
    if [g["pid"] for g in gt] != queries.pids.tolist():
        raise HarnessError(f"{gt_path}: pids differ from {cs_path} (order or content)")
    test_idx = _corpus_rows(queries.pids, corpus, cs_path)
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
    fp = split_fingerprint(source_fp, q.pids, q.categories, q, of_split)
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
        of_split=of_split,
    )
    check_split(split, corpus, outside)
    return split


def read_split_ref(split_dir: str | Path, corpus: Corpus) -> SplitRef:
    """The test split in `split_dir` as its validation split needs it, without opening its
    ground_truth.json: the manifest and challenge_set.json (pids, seeds), checked against the
    corpus and the manifest's fingerprint. For code that must never see the test answers."""
    d = Path(split_dir)
    for name in ("manifest.json", "challenge_set.json"):
        if not (d / name).is_file():
            raise HarnessError(f"{d}: not a split directory (missing {name})")
    manifest = _format_checked(d, corpus)
    cs_path = d / "challenge_set.json"
    if _sha256(cs_path) != manifest.get("files", {}).get("challenge_set.json"):
        raise HarnessError(f"{cs_path}: changed since the split was written (sha256 differs)")
    playlists = read_json(cs_path)["playlists"]
    q = queries_from_playlists(playlists, corpus, where=str(cs_path), strict=True)
    fp = split_fingerprint(str(corpus.source.get("fingerprint") or ""), q.pids, q.categories, q)
    if fp != manifest.get("fingerprint"):
        raise HarnessError(f"{d}: split fingerprint {fp} != manifest {manifest.get('fingerprint')}")
    test_idx = _corpus_rows(q.pids, corpus, cs_path)
    return SplitRef(test_idx, int(manifest["seed"]), manifest["settings"], fp)


def load_validation_split(
    split_dir: str | Path, split: Split | SplitRef, corpus: Corpus
) -> Split | None:
    """The validation split in `split_dir/validation/` as a `Split` (None when there is none).

    Raises HarnessError when it is incomplete, changed, or drawn for another test split.
    """
    ref = _ref(split)
    vd = Path(split_dir) / VALIDATION_DIR
    if not vd.exists():
        return None
    manifest = read_json(vd / "manifest.json") if (vd / "manifest.json").is_file() else {}
    if manifest.get("kind") != "validation":
        raise HarnessError(f"{vd}: not a validation split (no manifest.json with kind validation)")
    if manifest.get("split_fingerprint") != ref.fingerprint:
        raise HarnessError(
            f"{vd}: drawn for split {manifest.get('split_fingerprint')}, not {ref.fingerprint}; "
            "draw it again (`mpd-harness split --validation N`)"
        )
    return _read_split(vd, corpus, of_split=ref.fingerprint, outside=ref.test_idx)


def load_validation(
    split_dir: str | Path, corpus: Corpus, split: Split | SplitRef
) -> Validation | None:
    """The validation split of `split` (read from `split_dir`) as models get it on
    `TrainSet.validation`: rows of `train_set(corpus, split)`; None when there is none."""
    v = load_validation_split(split_dir, split, corpus)
    return None if v is None else as_validation(v, _ref(split), corpus)


def validation_train_set(split_dir: str | Path, corpus: Corpus) -> TrainSet:
    """Everything a model that learns from held-out tracks may see: the training playlists of
    the split in `split_dir` with its validation attached (`TrainSet.validation`).

    Never opens the test split's ground_truth.json (`read_split_ref`). Raises HarnessError when
    the split has no validation.
    """
    ref = read_split_ref(split_dir, corpus)
    validation = load_validation(split_dir, corpus, ref)
    if validation is None:
        raise HarnessError(
            f"{split_dir}: no validation split; add one with `mpd-harness split --validation N`"
        )
    return replace(train_without(corpus, ref.test_idx), validation=validation)


def _corpus_rows(pids: NDArray[np.int64], corpus: Corpus, where: Path) -> NDArray[np.int64]:
    unknown = [int(p) for p in pids if int(p) not in corpus.pid_index]
    if unknown:
        raise HarnessError(f"{where}: pid {unknown[0]} is not in the corpus")
    return np.array([corpus.pid_index[int(p)] for p in pids], dtype=np.int64)


def _checked_manifest(d: Path, corpus: Corpus) -> dict[str, Any]:
    """The manifest of split folder `d`, once the folder is whole, in this format, drawn from
    `corpus`, and its files are the ones written (sha256)."""
    for name in FILES:
        if not (d / name).is_file():
            raise HarnessError(f"{d}: not a split directory (missing {name})")
    manifest = _format_checked(d, corpus)
    digests = manifest.get("files", {})
    for name in FILES[:-1]:
        if _sha256(d / name) != digests.get(name):
            raise HarnessError(f"{d / name}: changed since the split was written (sha256 differs)")
    return manifest


def _format_checked(d: Path, corpus: Corpus) -> dict[str, Any]:
    """The manifest of split folder `d`, in this format and drawn from `corpus`."""
    manifest: dict[str, Any] = read_json(d / "manifest.json")
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
