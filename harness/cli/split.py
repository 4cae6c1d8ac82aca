"""Draw the ten-category challenge split from a corpus.

(Shim while the command moves here: argparse and printing still live in `harness.challenge.split`.)
"""

from harness.challenge.split import add_arguments, run

__all__ = ["add_arguments", "run"]
