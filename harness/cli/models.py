"""List every model you can run: the built-in ones and those installed plugins add.

`models [--json]`: each model's name (what `--models` takes), where it comes from (built-in, or
the entry point of an installed distribution), its class, its hyperparameters with their
defaults (what `-p MODEL.PARAM=VALUE` sets) and how it answers seedless queries (`cold_start`).
Reading the defaults imports each model, torch and gensim included. Exit status 1 when a plugin
cannot be loaded (it is listed with the reason), 2 when two sources claim one name.
"""

from __future__ import annotations

import argparse
import sys

import orjson
from rich.markup import escape
from rich.table import Table

from harness.cli.console import table_console
from harness.run.factory import ModelInfo, describe_models


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of objects with keys name, source, class, params, cold_start",
    )


def models_table(infos: list[ModelInfo]) -> Table:
    """The table `models` prints: one row per model."""
    table = Table(title="Models (run them with --models NAME[,NAME...]; set one with -p)")
    for column in ("name", "source", "class", "cold start", "hyperparameters (defaults)"):
        table.add_column(column, overflow="fold")
    for m in infos:
        params = (
            escape(", ".join(f"{k}={v!r}" for k, v in m.params.items()) or "(none)")
            if m.params is not None
            else f"[red]{escape(m.error)}[/red]"
        )
        cells = (m.name, m.source, m.cls, m.cold_start or "?")
        table.add_row(*map(escape, cells), params)
    table.caption = "or give a path: --models mypkg.recs:MyRec (docs/extending.md)"
    return table


def run(args: argparse.Namespace) -> int:
    infos = describe_models()
    if args.json:
        doc = [m.to_json() for m in infos]
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        table_console().print(models_table(infos))
    for m in infos:
        if m.error:
            print(f"mpd-harness models: error: {m.error}", file=sys.stderr)
    return 1 if any(m.error for m in infos) else 0
