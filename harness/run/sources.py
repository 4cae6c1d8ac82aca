"""Where a run's data and split come from: the MPD given by path, or a synthetic preset
generated once; the split (and its validation split, for models that learn from held-out
tracks) reused from its folder when it fits, drawn and written otherwise."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.atomic import atomic_dir, read_json, read_json_object
from harness.errors import HarnessError, UsageError
from harness.outputs import check_folder_target, mark
from harness.progress import SILENT, Reporter
from harness.run.manifest import jsonable
from harness.types import TrainSet, Validation

if TYPE_CHECKING:
    from harness.challenge.split import Split, SplitRef
    from harness.data.corpus import Corpus

DEFAULT_PRESET = "default"
SYNTHETIC_ROOT = Path("data/synthetic")
SYNTHETIC_PREFIX = "synthetic:"  # the API's data="synthetic:<preset>"


@dataclass
class DataSource:
    """Where the corpus comes from and what the run is called."""

    name: str
    path: Path
    synthetic: bool
    preset: str | None = None
    seed: int | None = None


def resolve_data(
    mpd: Path | None,
    synthetic: str | None,
    seed: int,
    reporter: Reporter = SILENT,
    root: Path = SYNTHETIC_ROOT,
) -> DataSource:
    """The MPD at `mpd`, else the synthetic preset (generated once, atomically) with `seed`."""
    if mpd is not None:
        path = Path(mpd)
        if not path.exists():
            raise UsageError(f"--mpd {path}: no such file or folder")
        stem = path.name
        for suffix in (".zip", ".json"):
            stem = stem.removesuffix(suffix)
        return DataSource(name=stem or "mpd", path=path, synthetic=False)
    preset = synthetic or DEFAULT_PRESET
    path = ensure_synthetic(preset, seed, root, reporter)
    return DataSource(
        name=f"synthetic-{preset}-s{seed}", path=path, synthetic=True, preset=preset, seed=seed
    )


def parse_data(data: str | os.PathLike[str]) -> tuple[Path | None, str | None]:
    """The API's `data=`: `"synthetic:<preset>"` -> (None, preset), a path -> (path, None)."""
    text = os.fspath(data)
    if text.startswith(SYNTHETIC_PREFIX):
        return None, text.removeprefix(SYNTHETIC_PREFIX)
    return Path(text), None


def ensure_synthetic(preset: str, seed: int, root: Path, reporter: Reporter = SILENT) -> Path:
    """`root/<preset>-s<seed>/`, generated unless present and made by this generator version.

    Generated into a temporary folder renamed into place at the end, so a folder that exists
    is complete and an interrupted generation is never reused.
    """
    from harness.data.synthetic import PRESETS, marker, read_marker, write_synthetic

    if preset not in PRESETS:
        raise UsageError(f"--synthetic {preset!r}: unknown preset; available: {', '.join(PRESETS)}")
    target = root / f"{preset}-s{seed}"
    n = PRESETS[preset]
    check_folder_target(
        target,
        "synthetic",
        flag="",
        legacy=lambda p: (p / "synthetic.json").exists(),
        hint=f"move it away; --synthetic {preset} generates its MPD there",
    )
    if target.is_dir():
        found = read_marker(target)
        if found == jsonable(marker(n, seed)):
            return target
        made_by = f"generator version {found.get('generator_version')}" if found else "no marker"
        reporter.note(f"{target}: made by another synthetic generator ({made_by}); regenerating")
    with (
        reporter.step(f"generating synthetic MPD {preset!r} ({n:,} playlists)"),
        atomic_dir(target) as tmp,
    ):
        mark(tmp, "synthetic")
        write_synthetic(tmp, n, seed)
    reporter.note(f"synthetic MPD: {target} ({n:,} playlists, seed {seed})")
    return target


def marker_seed(path: Path) -> int | None:
    """The generator seed of a synthetic MPD folder given with --mpd (None for real data)."""
    from harness.data.synthetic import read_marker

    marker = read_marker(path) if path.is_dir() else None
    seed = marker.get("seed") if marker else None
    return seed if isinstance(seed, int) else None


def split_mismatch(
    manifest: dict[str, Any],
    corpus: Corpus,
    seed: int,
    per_category: int | None,
    coverage: str = "best-effort",
) -> str | None:
    """Why an existing split (its manifest) does not fit this corpus, seed and settings."""
    from harness.challenge.split import default_per_category, split_settings

    fp = corpus.source.get("fingerprint")
    src = manifest.get("source_fingerprint")
    if src != fp:
        return f"made from data {src}, not {fp}"
    if manifest.get("seed") != seed:
        return f"made with seed {manifest.get('seed')}, not {seed}"
    n = default_per_category(corpus.n_playlists) if per_category is None else per_category
    have = manifest.get("settings", {})
    want = split_settings(n, coverage)
    if jsonable(have) != jsonable(want):
        diff = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
        got = ", ".join(f"{k} {have.get(k)!r}" for k in diff)
        return f"made with {got}, not {', '.join(f'{k} {want.get(k)!r}' for k in diff)}"
    return None


def ensure_split(
    corpus: Corpus,
    split_dir: Path,
    *,
    seed: int,
    per_category: int | None,
    coverage: str = "best-effort",
    explicit: bool,
    reporter: Reporter = SILENT,
) -> Split:
    """Load the split in `split_dir` when it matches, else build and write it there.

    A split the user named with --split is never overwritten: a mismatch is an error.
    """
    from harness.challenge.split import load_split, make_split, write_split

    manifest_path = split_dir / "manifest.json"
    if manifest_path.exists():
        manifest = read_json_object(manifest_path, "split manifest")
        why = split_mismatch(manifest, corpus, seed, per_category, coverage)
        if why is None:
            split = load_split(split_dir, corpus)
            reporter.note(f"split: reusing {split_dir}")
            return split
        if explicit:
            raise UsageError(
                f"--split {split_dir}: {why}; give matching --seed/--per-category or another folder"
            )
        reporter.note(f"split: {split_dir} was {why}: rebuilding")
    with reporter.step("splitting"):
        split = make_split(corpus, seed=seed, per_category=per_category, coverage=coverage)
        write_split(split, corpus, split_dir)
    reporter.note(f"split: wrote {split_dir} ({len(split.test_idx):,} test playlists, seed {seed})")
    for line in off_target(split):
        reporter.note(f"split: {line}")
    lost = not_in_train(split)
    if lost:
        reporter.note(
            f"split: {lost:,} seed/held-out track occurrences are absent from training "
            f"(coverage {coverage}: this corpus cannot keep them all, see {split_dir}/manifest.json)"
        )
    return split


def off_target(split: Any, tolerance_pct: float = 10.0) -> list[str]:
    """One line per category whose mean num_tracks is further than `tolerance_pct` from the
    published mean (small corpora: too few long playlists keep every track in training)."""
    lines = []
    for number, r in split.report.items():
        pct = r.get("deviation", {}).get("mean_pct") if isinstance(r, dict) else None
        if pct is not None and abs(pct) > tolerance_pct:
            lines.append(
                f"category {number}'s mean num_tracks {r['num_tracks']['mean']:.1f} is "
                f"{abs(pct):.0f}% {'below' if pct < 0 else 'above'} the published "
                f"{r['target']['mean']} (see the split manifest)"
            )
    return lines


def ensure_split_ref(
    corpus: Corpus,
    split_dir: Path,
    *,
    seed: int,
    per_category: int | None,
    coverage: str = "best-effort",
    explicit: bool,
    reporter: Reporter = SILENT,
) -> SplitRef:
    """`ensure_split` for code that must never read the test answers (tuning, fitting on the
    validation split): a split folder that matches is read without its ground_truth.json."""
    from harness.challenge.split import read_split_ref

    manifest_path = split_dir / "manifest.json"
    if manifest_path.exists():
        why = split_mismatch(read_json(manifest_path), corpus, seed, per_category, coverage)
        if why is None:
            ref = read_split_ref(split_dir, corpus)
            reporter.note(f"split: reusing {split_dir} (its ground truth unread)")
            return ref
    split = ensure_split(
        corpus,
        split_dir,
        seed=seed,
        per_category=per_category,
        coverage=coverage,
        explicit=explicit,
        reporter=reporter,
    )
    return split.ref


def ensure_validation(
    corpus: Corpus,
    split_dir: Path,
    split: Split | SplitRef,
    *,
    per_category: int | None,
    explicit: bool,
    reporter: Reporter = SILENT,
) -> tuple[Validation, dict[str, Any]]:
    """The validation split of `split` in `split_dir/validation/`, drawn and added when absent;
    with what a manifest says of it (path, seed, fingerprint, per_category, n_queries).

    per_category None: whatever validation the folder has, else one of the test split's size.
    An existing one of another size (or stale: drawn for another split, files changed) is
    redrawn, except in a split the user named with --split, where it is an error. The test
    split's own files are never touched, nor its ground truth read.
    """
    found = _validation(corpus, split_dir, split, per_category, explicit, reporter, draw=True)
    assert found is not None  # drawn when absent
    return found


def existing_validation(
    corpus: Corpus, split_dir: Path, split: Split | SplitRef, reporter: Reporter = SILENT
) -> tuple[Validation, dict[str, Any]] | None:
    """The validation split the folder has, if it has a usable one (a note says why not)."""
    return _validation(corpus, split_dir, split, None, False, reporter, draw=False)


def _validation(
    corpus: Corpus,
    split_dir: Path,
    split: Split | SplitRef,
    per_category: int | None,
    explicit: bool,
    reporter: Reporter,
    draw: bool,
) -> tuple[Validation, dict[str, Any]] | None:
    from harness.challenge.split import (
        VALIDATION_DIR,
        Split,
        as_validation,
        load_validation_split,
        make_validation,
        write_validation,
    )

    if per_category is not None and per_category < 1:
        raise UsageError(f"--validation {per_category}: must be at least 1")
    ref = split.ref if isinstance(split, Split) else split
    where = split_dir / VALIDATION_DIR
    why = None
    try:
        v = load_validation_split(split_dir, ref, corpus)
    except HarnessError as e:
        v, why = None, f"cannot be used ({e})"
    if v is not None and per_category not in (None, v.settings["per_category"]):
        why = f"has {v.settings['per_category']} playlists per category, not {per_category}"
        v = None
    if v is not None:
        reporter.note(f"validation: reusing {where}")
    elif not draw:
        if why is not None:
            reporter.note(f"validation: {where} {why}: not used")
        return None
    else:
        if why is not None:
            if explicit:
                raise UsageError(
                    f"--split {split_dir}: its validation split {why}; use another folder or "
                    "draw it again with `mpd-harness split --validation N`"
                )
            reporter.note(f"validation: {where} {why}: redrawing")
        with reporter.step("drawing the validation split"):
            v = make_validation(corpus, ref, per_category=per_category)
            write_validation(v, ref, corpus, split_dir)
        reporter.note(
            f"validation: wrote {where} ({v.n_test:,} playlists drawn from the training playlists)"
        )
    info = {
        "path": str(where),
        "seed": v.seed,
        "fingerprint": v.fingerprint,
        "per_category": v.settings["per_category"],
        "coverage": v.settings.get("coverage"),
        "n_queries": v.n_test,
    }
    return as_validation(v, ref, corpus), info


def not_in_train(split: Any) -> int:
    """Seed and held-out track occurrences of the test set that training never shows."""
    return sum(
        sum(r.get("not_in_train", {}).values())
        for r in split.report.values()
        if isinstance(r, dict)
    )


def whole_train_set(corpus: Corpus) -> TrainSet:
    """Every playlist of the corpus (challenge mode: nothing is held out)."""
    return TrainSet(
        offsets=corpus.offsets,
        track_ids=corpus.track_ids,
        titles=corpus.normalized_names,
        n_tracks=corpus.n_tracks,
        track_artist=corpus.track_artist,
        track_album=corpus.track_album,
    )
