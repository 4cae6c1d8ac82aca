"""Draw the ten-category challenge split from a corpus.

`split MPD_PATH --out SPLIT_DIR [--seed N] [--per-category N] [--coverage RULE]
[--validation N [--validation-seed N]]`: reads the corpus (through its cache), draws the split
(`harness.challenge.split.make_split`), writes the split folder and prints one line for the
split and one per category (stdout). With --validation it then draws N playlists per category
from the training playlists (`make_validation`) into SPLIT_DIR/validation/ and prints its lines.
"""

from __future__ import annotations

import argparse

from harness.challenge.split import (
    COVERAGE,
    FILE_ORDER,
    VALIDATION_DIR,
    Split,
    check_split_target,
    make_split,
    make_validation,
    write_split,
    write_validation,
)
from harness.cli.console import ConsoleReporter
from harness.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mpd_path", metavar="MPD_PATH", help="MPD folder, slice file or zip")
    parser.add_argument("--out", required=True, metavar="SPLIT_DIR", help="output directory")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument(
        "--per-category",
        type=int,
        default=None,
        metavar="N",
        help="playlists per category (default: min(1000, playlists // 200))",
    )
    parser.add_argument(
        "--coverage",
        choices=COVERAGE,
        default="best-effort",
        help="best-effort (default): the official rule (every seed and held-out track still "
        "occurs in training) wherever the corpus allows it, then the playlists that take the "
        "fewest tracks out of training, counted in the manifest; official: fail instead; "
        "none: no such rule",
    )
    parser.add_argument(
        "--validation",
        type=int,
        default=None,
        metavar="N",
        help="also draw a validation split of N playlists per category from the training "
        "playlists only, into SPLIT_DIR/validation/ (for models that learn from held-out tracks)",
    )
    parser.add_argument(
        "--validation-seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of the validation split (default: --seed; its random streams differ from "
        "the test split's either way)",
    )
    parser.add_argument(
        "--cache-dir", default=None, metavar="CACHE_DIR", help="corpus cache folder"
    )
    parser.add_argument(
        "--lenient", action="store_true", help="skip malformed playlists instead of failing"
    )


def run(args: argparse.Namespace) -> int:
    from harness.data.ingest import load_corpus  # looked up at run time: tests replace it

    for flag, value in (("--seed", args.seed), ("--validation-seed", args.validation_seed)):
        if value is not None and value < 0:
            raise UsageError(f"{flag} {value}: must be >= 0")
    if args.validation is not None and args.validation < 1:
        raise UsageError(f"--validation {args.validation}: must be at least 1")
    if args.validation is None and args.validation_seed is not None:
        raise UsageError("--validation-seed needs --validation N")
    check_split_target(args.out)  # before the slow steps
    corpus = load_corpus(
        args.mpd_path, cache_dir=args.cache_dir, lenient=args.lenient, reporter=ConsoleReporter()
    )
    split = make_split(
        corpus, seed=args.seed, per_category=args.per_category, coverage=args.coverage
    )
    validation = None
    if args.validation is not None:  # drawn before anything is written: a bad N writes nothing
        validation = make_validation(
            corpus, split, per_category=args.validation, seed=args.validation_seed
        )
    write_split(split, corpus, args.out)
    for line in summary_lines(split, corpus.n_playlists, args.out):
        print(line)
    if validation is not None:
        write_validation(validation, split, corpus, args.out)
        out = f"{args.out}/{VALIDATION_DIR}"
        n_train = corpus.n_playlists - split.n_test  # what it was drawn from
        for line in summary_lines(validation, n_train, out, kind="validation split"):
            print(line)
    return 0


def summary_lines(split: Split, n_playlists: int, out: str, kind: str = "split") -> list[str]:
    """The split's line, then one per category in file order: size, lengths against the
    published target, rejected candidates, test tracks missing from training.

    For a validation split, `n_playlists` counts the training playlists it was drawn from."""
    what = "test" if kind == "split" else "validation"
    lines = [
        f"{kind} {split.fingerprint}: {split.n_test} {what} playlists "
        f"({split.settings['per_category']} per category), "
        f"{n_playlists - split.n_test} training playlists -> {out}"
    ]
    for number in FILE_ORDER:
        r = split.report[str(number)]
        s = r["num_tracks"]
        target = r.get("target")
        off = r.get("deviation", {}).get("mean_pct")
        pct = f", mean {off:+.1f}%" if off is not None else ""
        goal = f" (target {target['mean']}±{target['std']}{pct})" if target else ""
        lines.append(
            f"  category {number:>2}: {r['count']} playlists, num_tracks "
            f"{s['mean']:.1f}±{s['std']:.1f} in {s['min']}-{s['max']}{goal}, "
            f"{r['rejected']} rejected, {sum(r['not_in_train'].values())} tracks not in training"
        )
    return lines
