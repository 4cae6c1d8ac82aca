"""The data a tuning run scores on: evaluate's own preparation with `score_on="validation"`.

The corpus, the test split read without its ground truth, and the validation split (drawn into
`SPLIT_DIR/validation/` when absent) come from `harness.run.context.prepare`, exactly as
`evaluate --score-on validation` prepares them: a trial and that evaluate see the same training
playlists, queries and held-out tracks. The split folder defaults to `DIR/split`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.progress import SILENT, Reporter
from harness.run.context import EvaluateSettings, prepare
from harness.run.trial import Target


@dataclass(frozen=True)
class Prepared:
    """The validation target of a tuning run and the settings that reproduce it."""

    target: Target
    settings: EvaluateSettings  # resolved: preset, split folder, per_category, validation size
    info: dict[str, Any]  # data, split (the test split), validation


def prepare_validation(data: EvaluateSettings, out: Path, reporter: Reporter = SILENT) -> Prepared:
    """Corpus, split and validation split for `tune --out out`; the test answers stay unread."""
    from harness.run.manifest import fingerprint

    settings = replace(data, score_on="validation", out=Path(out), challenge_set=None)
    ev = prepare(settings, reporter)
    assert ev.gt_offsets is not None and ev.gt_tracks is not None
    test_split = ev.split["test_split"]
    key = fingerprint([ev.split["fingerprint"], ev.data.get("fingerprint"), ev.k])
    target = Target(ev.train, ev.queries, ev.gt_offsets, ev.gt_tracks, ev.k, key)
    resolved = replace(
        data,
        synthetic=None if data.mpd is not None else ev.data.get("preset"),
        split=Path(test_split["path"]),
        per_category=test_split["per_category"],
        coverage=test_split.get("coverage") or data.coverage,
        validation=ev.split["per_category"],
        out=None,
    )
    validation = {k: v for k, v in ev.split.items() if k != "test_split"}
    info = {"data": ev.data, "split": test_split, "validation": validation}
    return Prepared(target, resolved, info)
