"""The typed settings and results of `tune` (harness/run/tune.py): what the command's flags
become, one trial as tables show it, and what a tuning run leaves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.run.context import EvaluateSettings


@dataclass(frozen=True)
class TuneSettings:
    """Everything `tune` needs (the command's flags, typed). `data` holds evaluate's data and
    split options (its `split` defaults to `out/split`; its `out` is unused)."""

    model: str
    trials: int
    out: Path
    data: EvaluateSettings = field(default_factory=EvaluateSettings)
    space: Path | None = None
    metric: str = "r_precision"
    storage: str | None = None  # SQLAlchemy URL; default sqlite:///OUT/study.db
    ray_address: str | None = None
    workers: int | None = None  # concurrent trials; default CPUs / the model's threads
    seed: int = 0  # of the TPE sampler
    heartbeat_s: int = 10  # a killed run's trials are failed after 3 heartbeats


@dataclass(frozen=True)
class TrialRow:
    """One trial as the table, the CSV and the plot show it."""

    number: int
    state: str  # COMPLETE, RUNNING, PRUNED, FAIL, WAITING
    params: dict[str, Any]
    value: float | None
    seconds: float | None
    note: str = ""
    values: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    shared_mb: float | None = None


@dataclass
class TuneResult:
    """What a tuning run left: the study, its trials, the best configuration and the files."""

    study_name: str
    storage: str  # the URL with any password masked
    metric: str
    higher_is_better: bool
    rows: list[TrialRow]
    best: TrialRow | None
    best_params: dict[str, Any]  # every parameter of the best configuration (fixed included)
    files: dict[str, Path]
    workers: int
    info: dict[str, Any]  # data, split, validation, space, timings

    @property
    def n_complete(self) -> int:
        return sum(r.state == "COMPLETE" for r in self.rows)


# (rows so far, COMPLETE trials, requested) after every change of a trial's state
OnTrial = Callable[[list[TrialRow], int, int], None]
