"""Write a synthetic MPD: slices in the real format, drawn from a seed.

`mpd-harness synth [--preset NAME | --playlists N] [--seed S] [--out DIR] [--workers W]`; the
generator lives in `harness.data.synthetic` (docs/synthetic.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.data.synthetic import PRESETS, read_marker, synthesize
from harness.outputs import check_folder_target, mark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--playlists", type=int, metavar="N", help="number of playlists")
    size.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="named size: " + ", ".join(f"{k}={v:,}" for k, v in PRESETS.items()),
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="MPD_PATH",
        help="output folder (default data/synthetic/<preset or N>-s<seed>)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="processes (default min(2, CPUs))"
    )


MAX_PLAYLISTS = 10_000_000  # ten times the MPD


def run(args: argparse.Namespace) -> int:
    import os

    from harness.errors import UsageError

    if args.playlists is not None and not 1 <= args.playlists <= MAX_PLAYLISTS:
        raise UsageError(f"--playlists {args.playlists}: must be between 1 and {MAX_PLAYLISTS:,}")
    cores = os.cpu_count() or 1
    if args.workers is not None and not 1 <= args.workers <= cores:
        raise UsageError(f"--workers {args.workers}: must be between 1 and {cores} (the CPUs)")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be >= 0")
    if args.playlists is None:
        preset = args.preset or "default"
        n, label = PRESETS[preset], preset
    else:
        n, label = args.playlists, str(args.playlists)
    out = args.out or Path("data/synthetic") / f"{label}-s{args.seed}"
    # slices are written over same-named files: only into a folder synth made (or an empty one)
    check_folder_target(
        out,
        "synthetic",
        legacy=lambda p: read_marker(p) is not None,
        hint="choose a new or empty folder (synth writes mpd.slice.*.json over same-named files)",
    )
    if out.exists():
        mark(out, "synthetic")  # kept while synthesize rewrites synthetic.json
    paths = synthesize(out, n, args.seed, workers=args.workers)
    mark(out, "synthetic")
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {n:,} synthetic playlists in {len(paths)} slices to {out} ({size / 1e6:,.1f} MB)")
    return 0
