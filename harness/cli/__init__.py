"""`mpd-harness` command line: one subcommand per pipeline step.

Each command lives in its own module, which provides `add_arguments(parser)` and
`run(args) -> int`. Errors meant for the user (HarnessError) print one clear line, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import HarnessError
from harness.version import __version__

# (command, module, one-line help), in pipeline order.
COMMANDS: list[tuple[str, str, str]] = [
    ("synth", "harness.cli.synth", "write a synthetic MPD (real slice format) from a seed"),
    ("stats", "harness.cli.stats", "summary statistics of an MPD, like the official stats.py"),
    ("split", "harness.cli.split", "draw the ten-category challenge split from a corpus"),
    (
        "models",
        "harness.cli.models",
        "list the models you can run (built-in and plugins), their hyperparameters and defaults",
    ),
    (
        "check-model",
        "harness.cli.check_model",
        "check that a model (name or module:Class) keeps the contract, on tiny generated data",
    ),
    (
        "evaluate",
        "harness.cli.evaluate",
        "fit and score models on a split; write runs and submissions",
    ),
    ("leaderboard", "harness.cli.leaderboard", "re-render the leaderboard of a run folder"),
    (
        "verify",
        "harness.cli.verify",
        "check a submission file like the official verifier",
    ),
    ("score", "harness.cli.score", "score a challenge-format submission against a split"),
    ("report", "harness.cli.report", "HTML report of a run: CIs, significance vs the best, plots"),
    ("generate", "harness.cli.generate", "continue a playlist with a model of a run (refitted)"),
    (
        "serve",
        "harness.cli.serve",
        "local web explorer of runs: leaderboards, playlists, comparison, generation",
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpd-harness",
        description="Benchmarking harness for playlist continuation on the Million Playlist Dataset.",
    )
    parser.add_argument("--version", action="version", version=f"mpd-harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module, help_ in COMMANDS:
        mod = importlib.import_module(module)
        p = sub.add_parser(
            name, help=help_, description=(mod.__doc__ or help_).strip().splitlines()[0]
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except HarnessError as e:
        print(f"mpd-harness {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(
            f"mpd-harness {args.command}: interrupted; no partial output was kept", file=sys.stderr
        )
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:  # disk full, permissions, a file where a folder should be: no traceback
        print(f"mpd-harness {args.command}: error: {_describe_os_error(e)}", file=sys.stderr)
        return 1


def _describe_os_error(e: OSError) -> str:
    """`path: reason`, with a hint where the errno alone puzzles."""
    where = f"{e.filename}: " if e.filename else ""
    text = f"{where}{e.strerror or e}"
    if isinstance(e, FileExistsError | NotADirectoryError):
        text += " (a file stands where a folder is needed)"
    return text


if __name__ == "__main__":
    sys.exit(main())
