"""Summary statistics of an MPD, like the official stats.py.

(Shim while the command moves here: argparse and printing still live in `harness.data.stats`.)
"""

from harness.data.stats import add_arguments, run

__all__ = ["add_arguments", "run"]
