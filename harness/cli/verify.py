"""Check a submission file like the official verifier does.

(Shim while the command moves here: argparse and printing still live in `harness.challenge.submission`.)
"""

from harness.challenge.submission import add_arguments, run

__all__ = ["add_arguments", "run"]
