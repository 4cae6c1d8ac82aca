"""Tune a model's hyperparameters on the validation split, with Optuna and Ray.

`mpd-harness tune --model NAME [--space space.toml] --trials N [--metric r_precision]
[--storage URL] [--ray-address ADDR] [--workers K] --out DIR` plus evaluate's data and split
options. Trials run as Ray tasks and are scored on the validation split only; rerunning the
same command resumes the study. Writes DIR/best.toml (an experiment file: `evaluate --config
DIR/best.toml` scores it on the test split), DIR/trials.csv, DIR/history.png and
DIR/manifest.json. docs/tuning.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from harness.cli.console import ConsoleReporter
from harness.cli.evaluate import DATA_FLAGS, add_data_arguments, given_settings
from harness.run.tune import TrialRow, TuneResult, TuneSettings

STATE_STYLE = {"COMPLETE": "green", "RUNNING": "yellow", "PRUNED": "blue", "FAIL": "red"}
SHOWN = 25  # the table shows the best trial and the latest ones up to this many rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.challenge.metrics import METRICS

    parser.add_argument("--model", required=True, help="model to tune (a name or module:Class)")
    parser.add_argument(
        "--space",
        type=Path,
        metavar="SPACE_TOML",
        help="search space file (default: the model's own, docs/tuning.md lists them)",
    )
    parser.add_argument(
        "--trials", type=int, required=True, metavar="N", help="COMPLETE trials the study ends with"
    )
    parser.add_argument(
        "--metric",
        default="r_precision",
        choices=METRICS,
        help="validation metric to optimise (default r_precision)",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="SQLAlchemy URL of the study's database, e.g. postgresql://user@host/db "
        "(default: sqlite:///DIR/study.db)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="a running Ray cluster (`ray start --head` prints it), e.g. 10.0.0.1:6379 "
        "(default: start Ray on this machine)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="K",
        help="concurrent trials (default: CPUs / the model's threads)",
    )
    parser.add_argument(
        "--sampler-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the TPE sampler (default 0)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="tuning folder")
    add_data_arguments(parser)


def settings_from(args: argparse.Namespace) -> TuneSettings:
    from dataclasses import replace

    from harness.run.context import EvaluateSettings

    data = replace(EvaluateSettings(), **given_settings(args, DATA_FLAGS))
    return TuneSettings(
        model=args.model,
        trials=args.trials,
        out=args.out,
        data=data,
        space=args.space,
        metric=args.metric,
        storage=args.storage,
        ray_address=args.ray_address,
        workers=args.workers,
        seed=args.sampler_seed,
    )


def run(args: argparse.Namespace) -> int:
    import optuna

    from harness.report.tuning import write_reports
    from harness.run.tune import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the table says what Optuna logs
    reporter = ConsoleReporter()
    settings = settings_from(args)
    live = _LiveTable(reporter, settings.metric)
    try:
        with live:
            result = tune(settings, reporter, on_trial=live.update)
    except KeyboardInterrupt:
        reporter.err.print(
            "mpd-harness tune: interrupted; the study keeps its finished trials: rerun the same "
            "command to resume",
            highlight=False,
        )
        return 130
    synthetic = bool(result.info.get("data", {}).get("synthetic"))
    files = write_reports(result, settings.out, synthetic=synthetic)
    out = reporter.out
    out.print(trials_table(result.rows, result.metric, synthetic=synthetic))
    out.print(summary(result), highlight=False)
    for name, path in {**result.files, **files}.items():
        out.print(f"{name}: {path}", highlight=False)
    if "best" in result.files:
        out.print(
            f"test score (reads the test split's ground truth): mpd-harness evaluate --config "
            f"{result.files['best']}",
            highlight=False,
        )
    return 0


class _LiveTable:
    """The trials table, redrawn in place on a terminal; one line per finished trial elsewhere."""

    def __init__(self, reporter: ConsoleReporter, metric: str) -> None:
        self.reporter, self.metric = reporter, metric
        self.live: Live | None = None
        self.seen: set[tuple[int, str]] = set()

    def __enter__(self) -> _LiveTable:
        if self.reporter.err.is_terminal:
            self.live = Live(console=self.reporter.err, transient=True, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, rows: list[TrialRow], complete: int, wanted: int) -> None:
        line = progress_line(rows, complete, wanted, self.metric)
        if self.live is not None:
            self.live.update(Group(trials_table(rows, self.metric), Text(line)))
            return
        for r in rows:
            if r.state not in ("RUNNING", "WAITING") and (r.number, r.state) not in self.seen:
                self.seen.add((r.number, r.state))
                self.reporter.note(f"trial {r.number} {r.state} {_value(r)} {_params(r)} {line}")


def progress_line(rows: Sequence[TrialRow], complete: int, wanted: int, metric: str) -> str:
    """`12/20 complete, 2 running, best 0.1423 (trial 7)`."""
    from harness.challenge.metrics import BY_NAME

    running = sum(r.state == "RUNNING" for r in rows)
    done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
    text = f"{complete}/{wanted} complete, {running} running"
    if done:
        sign = 1.0 if BY_NAME[metric].higher_is_better else -1.0
        best = max(done, key=lambda r: (sign * float(r.value or 0.0), -r.number))
        text += f", best {_value(best)} (trial {best.number})"
    return text


def trials_table(rows: Sequence[TrialRow], metric: str, *, synthetic: bool = False) -> Table:
    """The trials (the latest SHOWN), in number order: params, value, seconds, state, note."""
    from harness.challenge.metrics import BY_NAME

    params = sorted({p for r in rows for p in r.params})
    caption = f"{len(rows)} trials" + (", SYNTHETIC data" if synthetic else "")
    shown = list(rows)[-SHOWN:]
    if len(rows) > SHOWN:
        caption += f"; the last {SHOWN} shown (DIR/trials.csv has all)"
    table = Table(title=f"trials: validation {BY_NAME[metric].label}", caption=caption)
    for col in ("#", "state", "value", "s", *params, "note"):
        table.add_column(col, justify="right" if col not in ("state", "note") else "left")
    for r in shown:
        style = STATE_STYLE.get(r.state, "")
        cells = [str(r.number), f"[{style}]{r.state}[/]" if style else r.state, _value(r)]
        cells.append("" if r.seconds is None else f"{r.seconds:.1f}")
        cells += [_fmt(r.params.get(p)) for p in params]
        table.add_row(*cells, Text(r.note[:60]))
    return table


def summary(result: TuneResult) -> str:
    """One line: the study, the trials, the best."""
    b = result.best
    best = "no COMPLETE trial" if b is None else f"best trial {b.number}: {_value(b)} {_params(b)}"
    return (
        f"study {result.study_name} ({result.storage}): {result.n_complete} COMPLETE trials "
        f"of {len(result.rows)}; {best}"
    )


def _value(r: TrialRow) -> str:
    return "" if r.value is None else f"{r.value:.4f}"


def _params(r: TrialRow) -> str:
    return " ".join(f"{k}={_fmt(v)}" for k, v in sorted(r.params.items()))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
