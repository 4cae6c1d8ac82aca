"""Write the HTML report of a run: confidence intervals, paired tests, plots.

`mpd-harness report RUN_DIR [--out PATH]`: `harness.report.html.build_report` computes it from the
run folder's files (its slow steps show as progress on stderr); the HTML goes to `--out` (default
`RUN_DIR/report.html`), the plots to `RUN_DIR/plots/`. Notes (a model without a recall curve,
models left out) and the paths written are printed on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli.console import ConsoleReporter, metrics_help
from harness.errors import UsageError
from harness.outputs import check_file_target, html_is_ours
from harness.report.html import build_report, write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = metrics_help()
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder written by evaluate")
    parser.add_argument(
        "--out", type=Path, metavar="PATH", help="HTML file to write (default RUN_DIR/report.html)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it is a file mpd-harness did not write (an earlier report "
        "is always replaced)",
    )


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such folder")
    out = Path(args.out) if args.out is not None else run_dir / "report.html"
    check_file_target(out, flag="--out", ours=html_is_ours, force=args.force)
    reporter = ConsoleReporter()
    report = build_report(run_dir, reporter=reporter)
    write_report(report, out, run_dir / "plots")
    for note in report.notes:
        reporter.result(f"note: {note}")
    reporter.result(f"report: {out} (plots in {run_dir / 'plots'})")
    return 0
