"""The fidelity table of docs/synthetic.md, from `bench/fidelity.json` (bench_fidelity.py runs).

Columns: published (or real-sample) figure, then each (label, size) run asked for, e.g.

    python bench/fidelity_table.py before:50000 after:50000 before:1000000 after:1000000
    python bench/fidelity_table.py --split before:200000 after:200000
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.atomic import read_json

SOURCE = Path(__file__).parent / "fidelity.json"
Row = tuple[str, str, Callable[[dict[str, Any]], str]]


def _int(x: float) -> str:
    return f"{round(x):,}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _range(r: dict[str, float]) -> str:
    return f"{r['min']:.2f}–{r['max']:.2f}"


def _vocab(key: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        v = r["vocabulary"][key]
        if r["playlists"] >= 1_000_000:
            return _int(v["at_n"])
        return f"{_int(v['at_n'])} (1M: {_int(v['loglog_quadratic'])})"

    return cell


def _title(word: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        counts = dict(r["titles"]["top20_per_1m"])
        return _int(counts[word]) if word in counts else "–"

    return cell


def _overlap(kind: str) -> Callable[[dict[str, Any]], str]:
    def cell(r: dict[str, Any]) -> str:
        o = r["title_overlap"][kind]
        return f"{o['jaccard_ratio']}× ({o['shared_tracks_same_title']} vs {o['shared_tracks_random']})"

    return cell


ROWS: list[Row] = [
    ("top 1% of tracks: share of occurrences, first 7,000 playlists", "≈ 26% (real sample)",
     lambda r: _pct(r["popularity"]["at_real_sample_size"]["top1pct_share"])),
    ("tracks in ≥ 50 of the first 7,000 playlists", "≈ 4× generator v3",
     lambda r: _int(r["popularity"]["at_real_sample_size"]["tracks_in_50_playlists"])),
    ("most popular track, occurrences per 1M playlists", "46,574",
     lambda r: _int(r["popularity"]["top20_track_occurrences_per_1m"][0])),
    ("top-20 track occurrences / published (min–max)", "1 (±20%)",
     lambda r: _range(r["popularity"]["top20_track_ratio_to_published"])),
    ("most popular artist, occurrences per 1M playlists", "847,160",
     lambda r: _int(r["popularity"]["top20_artist_occurrences_per_1m"][0])),
    ("top-20 artist occurrences / published (min–max)", "1 (±20%)",
     lambda r: _range(r["popularity"]["top20_artist_ratio_to_published"])),
    ("unique tracks (below 1M: at N, and extrapolated to 1M)", "2,262,292", _vocab("unique_tracks")),
    ("unique artists", "295,860", _vocab("unique_artists")),
    ("unique albums", "734,684", _vocab("unique_albums")),
    ("unique titles (at N)", "92,944", lambda r: _int(r["titles"]["unique_titles"])),
    ("unique normalised titles (at N)", "17,381",
     lambda r: _int(r["titles"]["unique_normalized_titles"])),
    ("'country' / 'chill' / 'rap' per 1M playlists", "10,000 / 10,000 / 8,493",
     lambda r: " / ".join(_title(w)(r) for w in ("country", "chill", "rap"))),
    ("'sleep' / 'vibes' per 1M playlists (published #19, #20)", "3,513 / 3,500",
     lambda r: " / ".join(_title(w)(r) for w in ("sleep", "vibes"))),
    ("same-title vs random pairs of the first 50,000 playlists, top-20 titles: track Jaccard ratio (shared tracks per pair)", "far more",
     _overlap("generic")),
    ("… titles beyond the top 100 shared by ≥ 3 playlists", "far more", _overlap("specific")),
    ("mean length / most frequent lengths", "66.35 / 20, 15, 21",
     lambda r: f"{r['lengths']['mean']} / {', '.join(map(str, r['lengths']['top20'][:3]))}"),
    ("num_followers = 1 / 2 / 3", "75.4% / 15.0% / 4.7%",
     lambda r: " / ".join(_pct(x) for x in r["followers"]["share_1_to_10"][:3])),
]  # fmt: skip

SPLIT_ROWS: list[Row] = [
    ("categories' mean num_tracks off the published mean (largest)", "±10%",
     lambda r: f"{max(abs(c.get('mean_off_pct', 0)) for c in r['split']['categories'].values()):.1f}%"),
    ("category 7 num_tracks mean ± std", "150.0 ± 38.6",
     lambda r: f"{r['split']['categories']['7']['mean']:.1f} ± {r['split']['categories']['7']['std']:.1f}"),
    ("test-track occurrences absent from training", "0",
     lambda r: _int(r["split"]["not_in_train"])),
    ("`--coverage official`", "succeeds",
     lambda r: r["split"]["coverage_official"].split(":")[0]),
    ("R-precision popular / title / knn", "–", lambda r: " / ".join(
        f"{r['models'][m]['r_precision']:.4f}" for m in ("popular", "title", "knn"))),
    ("title over popular (Wilcoxon p)", "> 1", lambda r: (
        f"{r['models']['title']['over_popular']}× (p={r['models']['title']['p_vs_popular']:.0e})")),
    ("… category 1, title only (p)", "> 1", lambda r: (
        f"{r['models']['title']['by_category']['1'] / r['models']['popular']['by_category']['1']:.2f}×"
        f" (p={r['models']['title']['p_vs_popular_cat1']:.0e})")),
    ("knn over popular", "clearly > 2.3×", lambda r: f"{r['models']['knn']['over_popular']}×"),
]  # fmt: skip


def table(doc: dict[str, Any], runs: list[str], rows: list[Row]) -> str:
    """Markdown table: one row per figure, one column per `label:size` run."""
    picked = [doc[label][size] for label, _, size in (x.partition(":") for x in runs)]
    head = ["figure", "published"] + [
        f"{label} ({int(size):,})" for label, _, size in (x.partition(":") for x in runs)
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, published, cell in rows:
        lines.append("| " + " | ".join([name, published, *(cell(r) for r in picked)]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL:PLAYLISTS")
    ap.add_argument("--split", action="store_true", help="the split and model rows")
    ap.add_argument("--source", type=Path, default=SOURCE)
    args = ap.parse_args(argv)
    print(table(read_json(args.source), args.runs, SPLIT_ROWS if args.split else ROWS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
