"""Score a challenge-format submission against a split.

`score SUBMISSION --split SPLIT_DIR [--json] [--no-verify]`: a table of the metrics overall and
per category (or, with `--json`, the dict `harness.challenge.scoring.score` returns) on stdout;
the verifier's warnings and other notes on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from rich.console import Console

from harness.challenge.scoring import report_notices, score_submission, score_table
from harness.cli.console import ConsoleReporter, metrics_help, table_console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = metrics_help()
    parser.add_argument(
        "submission", type=Path, metavar="SUBMISSION", help="submission CSV (plain or .gz)"
    )
    parser.add_argument(
        "--split",
        type=Path,
        required=True,
        metavar="SPLIT_DIR",
        help="split directory (challenge_set.json, ground_truth.json, track_artists.parquet)",
    )
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="score even if the verifier finds errors (absent playlists count as missing)",
    )


def run(args: argparse.Namespace) -> int:
    scored = score_submission(args.submission, args.split, verify=not args.no_verify)
    # in the table, a synthetic split is named in the title rather than in a note
    report_notices(scored, args.split, _verbatim_reporter(), synthetic=args.json)
    if args.json:
        sys.stdout.write(orjson.dumps(scored.result).decode() + "\n")
    else:
        label = " (SYNTHETIC data, not the real MPD)" if scored.synthetic else ""
        title = f"{args.submission} on {args.split}{label}"
        table_console().print(score_table(scored.result, title=title))
    return 0


def _verbatim_reporter() -> ConsoleReporter:
    """Notes and warnings on stderr, each line as written: the verifier's report quotes URIs and
    pids verbatim, so no folding at the console's width and no `:name:` emoji codes."""
    return ConsoleReporter(err=Console(stderr=True, soft_wrap=True, emoji=False))
