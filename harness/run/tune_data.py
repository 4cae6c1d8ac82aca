"""The data a tuning run scores on: `harness.run.context.prepare_validation`, the preparation
`evaluate --score-on validation` uses too.

The corpus, the test split read without its ground truth, and the validation split (drawn into
`SPLIT_DIR/validation/` when absent): a trial and that evaluate see the same training playlists,
queries and held-out tracks. The split folder defaults to `DIR/split`; as for a `--split` given, a folder there drawn with
other settings (another --split-seed, say) is an error, not redrawn: a tuning folder holds one
split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.progress import SILENT, Reporter
from harness.run.context import EvaluateSettings, prepare_validation
from harness.run.trial import Target, validation_target


@dataclass(frozen=True)
class Prepared:
    """The validation target of a tuning run and the settings that reproduce it."""

    target: Target
    settings: EvaluateSettings  # resolved: preset, split folder, per_category, validation size
    info: dict[str, Any]  # data, split (the test split), validation


def prepare_tuning(data: EvaluateSettings, out: Path, reporter: Reporter = SILENT) -> Prepared:
    """Corpus, split and validation split for `tune --out out`; the test answers stay unread."""
    from harness.run.manifest import fingerprint

    # the split folder defaults to DIR/split (named, so the folder DIR is not taken for a run
    # folder); no run folder is written
    split = data.split if data.split is not None else Path(out) / "split"
    ctx = prepare_validation(replace(data, split=split, out=None), reporter)
    key = fingerprint([ctx.validation["fingerprint"], ctx.data.get("fingerprint"), data.k])
    target = validation_target(ctx.train, data.k, key)
    resolved = replace(
        data,
        synthetic=None if data.mpd is not None else ctx.data.get("preset"),
        split=Path(ctx.split["path"]),
        per_category=ctx.split["per_category"],
        coverage=ctx.split.get("coverage") or data.coverage,
        validation=ctx.validation["per_category"],
        out=None,
    )
    info = {"data": ctx.data, "split": ctx.split, "validation": ctx.validation}
    return Prepared(target, resolved, info)
