"""Check a submission file like the official verifier does.

`verify SUBMISSION --challenge-set challenge_set.json [--known-tracks PARQUET|MPD]
[--format aicrowd|2018]`: prints
`OK: ...` (and any warnings) or every error with its line number, on stdout; exit status 0 when
the file verifies, 1 when it does not. The checks are `harness.challenge.submission`'s;
`--format` picks the generation whose official rules apply (default: the current AIcrowd one).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.challenge.submission import (
    DEFAULT_FORMAT,
    FORMATS,
    MAX_SHOWN,
    load_known_tracks,
    verify_submission,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "submission", type=Path, metavar="SUBMISSION", help="submission CSV (plain or .gz)"
    )
    parser.add_argument(
        "--challenge-set",
        type=Path,
        required=True,
        metavar="PATH",
        help="the challenge_set.json it answers",
    )
    parser.add_argument(
        "--known-tracks",
        type=Path,
        default=None,
        metavar="PARQUET|MPD",
        help="warn about recommended track URIs not in these tracks: a split's "
        "track_artists.parquet (its training data), or the MPD (folder of slices, slice or zip)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        metavar="CACHE_DIR",
        help="corpus cache folder when --known-tracks is an MPD "
        "(default: $MPD_HARNESS_CACHE or .cache/mpd-harness)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=DEFAULT_FORMAT,
        help="which official verifier's rules apply: aicrowd (the current challenge, header "
        "team_info,<team>,<email>; default) or 2018 (RecSys Challenge 2018, header "
        "team_info,main|creative,<team>,<email>)",
    )
    parser.add_argument(
        "--max-shown",
        type=int,
        default=MAX_SHOWN,
        metavar="N",
        help="issues listed before '... and N more'",
    )


def run(args: argparse.Namespace) -> int:
    known, what = (
        load_known_tracks(args.known_tracks, args.cache_dir)
        if args.known_tracks is not None
        else (None, "")
    )
    report = verify_submission(args.submission, args.challenge_set, known, what, args.format)
    if report.ok:
        team = report.team_info.team if report.team_info else "?"
        rules = "" if args.format == DEFAULT_FORMAT else f" ({args.format} rules)"
        print(f"OK: {args.submission}: {report.n_playlists} playlists, team {team!r}{rules}")
        if report.warnings:
            print(report.format(args.max_shown))
        return 0
    print(report.format(args.max_shown))
    return 1
