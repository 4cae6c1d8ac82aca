"""Write a synthetic MPD: slices in the real format, drawn from a seed.

(Shim while the command moves here: argparse and printing still live in `harness.data.synthetic`.)
"""

from harness.data.synthetic import add_arguments, run

__all__ = ["add_arguments", "run"]
