"""Write the HTML report of a run: confidence intervals, paired tests, plots.

(Shim while the command moves here: argparse and printing still live in `harness.report.html`.)
"""

from harness.report.html import add_arguments, run

__all__ = ["add_arguments", "run"]
