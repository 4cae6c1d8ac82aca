"""Re-render the leaderboard of a run folder from its files.

`mpd-harness leaderboard RUN_DIR [--no-write]`: builds the leaderboard from the run folder
(`harness.report.leaderboard.build`; never retrains), rewrites `leaderboard.{json,md,csv}` unless
`--no-write`, and prints the overall and per-category tables on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.console import ConsoleReporter
from harness.errors import HarnessError
from harness.report.leaderboard import build, render, write


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder written by evaluate")
    parser.add_argument(
        "--no-write", action="store_true", help="only print; do not rewrite leaderboard.*"
    )


def run(args: argparse.Namespace) -> int:
    reporter = ConsoleReporter()
    board = build(args.run_dir, reporter=reporter)
    if not board.models:
        raise HarnessError(f"{args.run_dir}: no complete model run to rank")
    if not args.no_write:
        write(board, args.run_dir)
    for table in render(board):
        reporter.out.print(table)
    return 0
