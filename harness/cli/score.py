"""Score a challenge-format submission against a split.

(Shim while the command moves here: argparse and printing still live in `harness.challenge.scoring`.)
"""

from harness.challenge.scoring import add_arguments, run

__all__ = ["add_arguments", "run"]
