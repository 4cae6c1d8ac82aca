"""Continue a playlist with a model of a run, printed as a table.

Runs keep recommendations, not fitted models, so the model is refitted from its run manifest's
hyperparameters on the run's own training data (and, for a deterministic model, checked against
the stored recommendations). Without --sample the top track is taken at each step; with
--sample one of the top M is drawn with p ∝ rank^(-1/T).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from harness.cli.console import ConsoleReporter
from harness.errors import UsageError
from harness.run.generate import (
    DEFAULT_LENGTH,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP,
    check_refit,
    continue_playlist,
    playlist_table,
    refit,
    seed_ids,
)

MAX_LENGTH = 1_000  # tracks to add (and seeds): 4x the longest MPD playlist
MAX_TOP = 500  # sampling candidates: a challenge list's length


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME", help="a model of the run")
    parser.add_argument(
        "--run", required=True, type=Path, metavar="RUN_DIR", help="folder written by evaluate"
    )
    parser.add_argument(
        "--seed-track",
        dest="seed_tracks",
        nargs="+",
        action="extend",
        default=[],
        metavar="URI",
        help="seed track URIs in playlist order, several after one flag "
        "(--seed-track URI URI ...); the flag may also be repeated",
    )
    parser.add_argument("--title", metavar="TEXT", help="playlist title (normalised like the MPD)")
    parser.add_argument(
        "--length",
        type=int,
        default=DEFAULT_LENGTH,
        metavar="N",
        help=f"tracks to add (default {DEFAULT_LENGTH})",
    )
    parser.add_argument(
        "--sample", action="store_true", help="draw from the top M instead of taking the top item"
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=DEFAULT_TEMPERATURE,
        metavar="T",
        help=f"sampling: p ∝ rank^(-1/T) (default {DEFAULT_TEMPERATURE})",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="M",
        help=f"sampling: candidates per step (default {DEFAULT_TOP})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="sampling seed (default 0)"
    )
    parser.add_argument("--cache-dir", type=Path, metavar="CACHE_DIR", help="corpus cache folder")
    parser.add_argument(
        "--no-check", action="store_true", help="skip comparing the refit with the stored run"
    )


def run(args: argparse.Namespace) -> int:
    from harness.data.corpus import normalize_name

    if not 1 <= args.length <= MAX_LENGTH:
        raise UsageError(
            f"--length {args.length}: must be between 1 and {MAX_LENGTH:,} (an MPD playlist "
            "holds at most 250 tracks)"
        )
    if not 1 <= args.top <= MAX_TOP:
        raise UsageError(f"--top {args.top}: must be between 1 and {MAX_TOP}")
    if not 0 < args.temperature < float("inf"):
        raise UsageError(f"--temperature {args.temperature}: must be a finite number > 0")
    if len(args.seed_tracks) > MAX_LENGTH:
        raise UsageError(f"--seed-track: {len(args.seed_tracks):,} given, at most {MAX_LENGTH:,}")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be >= 0")
    if not args.seed_tracks and args.title is None:
        raise UsageError("give --seed-track URI ... or --title TEXT (or both)")
    title = normalize_name(args.title) if args.title is not None else None
    if title == "":
        raise UsageError(f"--title {args.title!r}: empty after normalisation")
    reporter = ConsoleReporter(Console(stderr=True))
    err = reporter.err
    run_dir = Path(args.run)
    fitted = refit(run_dir, args.model, cache_dir=args.cache_dir, reporter=reporter)
    seeds = seed_ids(fitted.corpus, list(args.seed_tracks))
    if not args.no_check and fitted.split is not None and fitted.repeatable:
        same, n = check_refit(fitted, run_dir)
        verdict = "matches" if same == n else "DIFFERS from"
        err.print(
            f"refit check: {verdict} the stored recommendations on {same}/{n} test playlists",
            highlight=False,
        )
    steps = continue_playlist(
        fitted,
        seeds,
        title,
        args.length,
        sample=args.sample,
        top=args.top,
        temperature=args.temperature,
        seed=args.seed,
    )
    how = (
        f"sampled from the top {args.top}, p ∝ rank^(-1/{args.temperature:g}), seed {args.seed}"
        if args.sample
        else "top track at each step"
    )
    data = fitted.run.get("data", {})
    what = "synthetic data" if data.get("synthetic") else "MPD"
    caption = f"{args.model} refitted on {what} {data.get('name')}; {how}; one track per step"
    Console().print(playlist_table(fitted.corpus, seeds, steps, title, caption))
    return 0
