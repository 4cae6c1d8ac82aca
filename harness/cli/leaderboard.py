"""Re-render the leaderboard of a run folder from its files.

`mpd-harness leaderboard RUN_DIR [--no-write] [--submission NAME=PATH ...] [--force]`: builds the
leaderboard from the run folder (`harness.report.leaderboard.build`; never retrains), rewrites
`leaderboard.{json,md,csv}` unless `--no-write`, and prints the overall and per-category tables on
stdout. Each `--submission NAME=PATH` first verifies, scores and stores a submission file made
elsewhere as the run `RUN_DIR/NAME` (`harness.run.external`; `--force` adds one that fails the
verifier); it is a row marked `(external)`. Requested models without a complete run are named on
stderr (`not finished: ...`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from harness.cli.console import ConsoleReporter, metrics_help
from harness.errors import HarnessError
from harness.report.leaderboard import build, render, unfinished_note, write
from harness.run.external import ExternalSpec, add_externals, parse_specs
from harness.run.rundir import model_scores

SUBMISSION_HELP = (
    "a challenge-format file made elsewhere to rank with the models: verified against the run's "
    "challenge set, scored on its split and stored as RUN_DIR/NAME, shown as 'NAME (external)'; "
    "repeatable"
)


def add_submission_argument(parser: argparse.ArgumentParser, extra_help: str = "") -> None:
    """`--submission NAME=PATH` (repeatable), shared with `evaluate`."""
    parser.add_argument(
        "--submission",
        dest="submissions",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=SUBMISSION_HELP + extra_help,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = metrics_help()
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder written by evaluate")
    parser.add_argument(
        "--no-write", action="store_true", help="only print; do not rewrite leaderboard.*"
    )
    add_submission_argument(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --submission: add a file that fails the verifier anyway (playlists without "
        "a line count as misses), and score again one already stored",
    )


def add_submissions(
    run_dir: Path, specs: Sequence[ExternalSpec], force: bool, reporter: ConsoleReporter
) -> None:
    """Add each external submission to the run folder and print its summary line."""
    for added in add_externals(run_dir, specs, force=force, reporter=reporter):
        m = model_scores(run_dir / added.name)
        missing = len(added.manifest.get("missing_pids", []))
        reporter.out.print(
            f"[bold]{added.name}[/bold] (external) R-prec {m['r_precision']:.4f} "
            f"NDCG {m['ndcg']:.4f} clicks {m['clicks']:5.2f}"
            + (f" missing {missing}" if missing else "")
            + (" (reused)" if added.reused else ""),
            highlight=False,
        )


def run(args: argparse.Namespace) -> int:
    reporter = ConsoleReporter()
    specs = parse_specs(args.submissions)
    if specs:
        add_submissions(args.run_dir, specs, args.force, reporter)
    board = build(args.run_dir, reporter=reporter)
    if board.missing:
        reporter.err.print(unfinished_note(board.missing), highlight=False, markup=False)
    if not board.models:
        raise HarnessError(f"{args.run_dir}: no complete model run to rank")
    if not args.no_write:
        write(board, args.run_dir)
    for table in render(board):
        reporter.out.print(table)
    return 0
