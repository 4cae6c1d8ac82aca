"""Re-render the leaderboard of a run folder from its files.

(Shim while the command moves here: argparse and printing still live in `harness.report.leaderboard`.)
"""

from harness.report.leaderboard import add_arguments, run

__all__ = ["add_arguments", "run"]
