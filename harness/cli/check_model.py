"""Check that a model keeps the contract every model must keep, on tiny generated data.

`check-model SPEC [-p PARAM=VALUE ...] [--json]`: SPEC is a model name (built-in or an installed
plugin's entry-point name) or a `module:Class` path (found on sys.path, else in the current
folder). The model is fitted on 60 generated playlists and asked for recommendations; each check
of `harness.run.contract.CHECKS` (the ones the test suite runs over the built-in models) prints
pass, FAIL with the reason, or skip with why. Exit status 0 only when no check fails.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.markup import escape

from harness.cli.console import table_console
from harness.errors import UsageError
from harness.run.contract import N_TRACKS, Outcome, run_checks, subject_for
from harness.run.factory import model_name, parse_value
from harness.run.manifest import jsonable

MARKS = {"pass": "[green]pass[/green]", "fail": "[bold red]FAIL[/bold red]", "skip": "skip"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "spec",
        metavar="SPEC",
        help="model name (see `mpd-harness models`) or module:Class path, e.g. mymodel:MyModel",
    )
    parser.add_argument(
        "-p",
        dest="params",
        action="append",
        default=[],
        metavar="PARAM=VALUE",
        help="hyperparameter, a Python literal (e.g. -p k_neighbors=20; MODEL.PARAM=VALUE works "
        "too); repeatable. Built-in models get small settings for the tiny data by default",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the outcome of every check as JSON"
    )


def check_params(spec: str, items: list[str]) -> dict[str, Any]:
    """`["k_neighbors=20", "knn.alpha=0.5"]` -> `{"k_neighbors": 20, "alpha": 0.5}`."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, value = item.partition("=")
        prefix, dot, param = key.strip().rpartition(".")
        if not eq or not param or (dot and prefix not in (spec, model_name(spec))):
            raise UsageError(f"-p {item!r}: expected PARAM=VALUE, e.g. -p k_neighbors=20")
        out[param] = parse_value(value.strip())
    return out


def run(args: argparse.Namespace) -> int:
    subject = subject_for(args.spec, check_params(args.spec, args.params))
    outcomes: list[Outcome] = []
    console = table_console()
    if not args.json:
        given = f" ({escape(args.spec)})" if args.spec != subject.name else ""
        console.print(
            f"[bold]{escape(subject.name)}[/bold]{given}, params {escape(repr(subject.params))}"
            f": 60 generated playlists, {N_TRACKS} tracks",
            highlight=False,
        )
    for outcome in run_checks(subject):
        outcomes.append(outcome)
        if not args.json:
            print_outcome(console, outcome)
    failed = [o.check.name for o in outcomes if o.status == "fail"]
    if args.json:
        doc = {
            "model": subject.name,
            "spec": args.spec,
            "params": jsonable(subject.params),
            "ok": not failed,
            "checks": [
                {
                    "name": o.check.name,
                    "description": o.check.description,
                    "status": o.status,
                    "reason": o.reason,
                }
                for o in outcomes
            ],
        }
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 1 if failed else 0
    passed = sum(o.status == "pass" for o in outcomes)
    skipped = len(outcomes) - passed - len(failed)
    verdict = f"failed: {', '.join(failed)}" if failed else "the model keeps the contract"
    console.print(
        f"{passed} passed, {len(failed)} failed, {skipped} skipped: {verdict}", highlight=False
    )
    return 1 if failed else 0


def print_outcome(console: Any, outcome: Outcome) -> None:
    """`  pass  shape  recommend(...) is ...`, and the reason under a failure or a skip."""
    check = outcome.check
    console.print(
        f"  {MARKS[outcome.status]}  {check.name:<18} {escape(check.description)}",
        highlight=False,
    )
    if outcome.reason:
        console.print(f"        {escape(outcome.reason)}", highlight=False, soft_wrap=True)
