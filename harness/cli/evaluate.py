"""Fit and score models on a split; write runs, submissions and the leaderboard.

(Shim while the command moves here: argparse and printing still live in `harness.run.evaluate`.)
"""

from harness.run.evaluate import add_arguments, run

__all__ = ["add_arguments", "run"]
