"""Summary statistics of an MPD, like the official stats.py.

`mpd-harness stats PATH [--json] [--lenient] [--cache-dir DIR]`: Rich tables on stdout, or one
JSON object with `--json`; the numbers come from `harness.data.stats`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from harness.cli.console import ConsoleReporter
from harness.data.ingest import load_corpus
from harness.data.stats import compute_stats, renderables
from harness.progress import Reporter


class _NoProgress(ConsoleReporter):
    """Warnings on stderr, but no progress bar: not next to `--json` output, and not when stderr
    is a file or a pipe (where Rich would still leave an empty line)."""

    step = Reporter.step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        type=Path,
        metavar="MPD_PATH",
        help="folder of mpd.slice.*.json, one slice, or the zip",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lenient", action="store_true", help="skip and count invalid playlists")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="CACHE_DIR",
        help="corpus cache folder (default: $MPD_HARNESS_CACHE or .cache/mpd-harness)",
    )


def render(stats: dict[str, Any], console: Console) -> None:
    """Print the summary and every histogram."""
    for item in renderables(stats):
        console.print(item)


def run(args: argparse.Namespace) -> int:
    reporter = ConsoleReporter() if sys.stderr.isatty() and not args.json else _NoProgress()
    corpus = load_corpus(
        args.path, cache_dir=args.cache_dir, lenient=args.lenient, reporter=reporter
    )
    stats = compute_stats(corpus)
    if args.json:
        sys.stdout.write(orjson.dumps(stats).decode() + "\n")
    else:
        render(stats, Console())
    return 0
