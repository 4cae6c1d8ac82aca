"""Continue a playlist with a model of a run (refitted on the run's training data).

(Shim while the command moves here: argparse and printing still live in `harness.run.generate`.)
"""

from harness.run.generate import add_arguments, run

__all__ = ["add_arguments", "run"]
