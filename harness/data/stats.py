"""Summary statistics of an MPD like the official stats.py: one JSON-ready dict, and Rich tables
built from it (printed by `harness/cli/stats.py`).

Same counts and the same top-20 histograms as the organisers' script: titles are normalised,
tracks are keyed by "<track name> by <artist name>" and artists by name (as there), ties are
listed in order of first appearance (as `Counter.most_common` does) with the slices read in the
script's order, `sorted(os.listdir(path))` (by name: 0-999, 1000-1999, 10000-10999, ...), not in
pid order. Days of `modified_at` are UTC dates (the dataset rounds them to midnight GMT).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from harness.data.corpus import Corpus

TOP = 20
SUMMARY_KEYS = (
    "playlists",
    "tracks",
    "unique_tracks",
    "unique_albums",
    "unique_artists",
    "unique_titles",
    "unique_normalized_titles",
    "playlists_with_descriptions",
    "avg_playlist_length",
)
# histogram key -> (table title, value column header), in the official script's order
HISTOGRAMS = {
    "top_titles": ("top playlist titles (normalised)", "title"),
    "top_tracks": ("top tracks", "track"),
    "top_artists": ("top artists", "artist"),
    "num_edits": ("num_edits histogram", "num_edits"),
    "modified_at_days": ("last modified histogram", "day (UTC)"),
    "playlist_lengths": ("playlist length histogram", "num_tracks"),
    "num_followers": ("num_followers histogram", "num_followers"),
}


def _top(pairs: Iterable[tuple[Hashable, int]], k: int = TOP) -> list[dict[str, Any]]:
    """The k largest (value, count) pairs; equal counts keep their order of first appearance."""
    counts: Counter[Hashable] = Counter()
    for value, c in pairs:
        counts[value] += c
    return [{"value": v, "count": int(c)} for v, c in counts.most_common(k)]


def _top_ints(values: NDArray[np.integer[Any]], k: int = TOP) -> list[dict[str, Any]]:
    """`_top` of an integer column, vectorised (first appearance breaks ties)."""
    uniq, first, counts = np.unique(values, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:k]
    return [{"value": int(uniq[i]), "count": int(counts[i])} for i in order]


def official_order(corpus: Corpus) -> NDArray[np.int64]:
    """Playlist indices in the order the official stats.py reads them: slices by file name
    (`sorted(os.listdir)`), playlists in file order. A corpus without slice records (built in
    memory) has no file order: its own order is used."""
    slices = corpus.source.get("slices")
    if not slices or sum(k for _, k in slices) != corpus.n_playlists:
        return np.arange(corpus.n_playlists, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum([k for _, k in slices])])
    by_name = sorted(range(len(slices)), key=lambda i: slices[i][0])
    return np.concatenate(
        [np.arange(starts[i], starts[i + 1], dtype=np.int64) for i in by_name]
        or [np.zeros(0, dtype=np.int64)]
    )


def _first_seen(c: Corpus, order: NDArray[np.int64]) -> NDArray[np.int64]:
    """Ids of the tracks that occur, by first occurrence when playlists are read in `order`."""
    # `order` is runs of consecutive playlists (whole slices): copy each run's tracks at once
    breaks = np.flatnonzero(np.diff(order) != 1) + 1
    runs = np.split(order, breaks) if len(order) else []
    occ = np.concatenate(
        [c.track_ids[c.offsets[r[0]] : c.offsets[r[-1] + 1]] for r in runs] or [c.track_ids[:0]]
    )  # (n_occurrences,) in the official order
    tracks, first = np.unique(occ, return_index=True)
    return tracks[np.argsort(first, kind="stable")].astype(np.int64)


def compute_stats(corpus: Corpus) -> dict[str, Any]:
    """The official summary numbers and top-20 histograms of `corpus`."""
    c = corpus
    n, n_occ = c.n_playlists, len(c.track_ids)
    order = official_order(c)  # (n,) playlists in the official script's reading order
    norm = c.normalized_names
    seen = _first_seen(c, order)  # (n_seen,)
    track_counts = np.bincount(c.track_ids, minlength=c.n_tracks)  # (n_tracks,)
    artist_counts = np.bincount(c.track_artist, weights=track_counts, minlength=c.n_artists)
    # artists in order of first occurrence: the first track of each in `seen`
    seen_art = c.track_artist[seen]
    _, first_art = np.unique(seen_art, return_index=True)
    artists = seen_art[np.sort(first_art)]  # (n_artists_seen,)
    days = (c.modified_at // 86400)[order]
    top_days = _top_ints(days)
    for row in top_days:
        row["value"] = dt.datetime.fromtimestamp(row["value"] * 86400, dt.timezone.utc).strftime(
            "%Y-%m-%d"
        )
    out: dict[str, Any] = {
        "playlists": n,
        "tracks": n_occ,
        # Tracks, albums and artists counted over what the playlists use (the corpus tables
        # hold exactly those).
        "unique_tracks": int((track_counts > 0).sum()),
        "unique_albums": len(np.unique(c.track_album[track_counts > 0])),
        "unique_artists": len(np.unique(c.track_artist[track_counts > 0])),
        "unique_titles": len(set(c.names.tolist())),
        "unique_normalized_titles": len(set(norm.tolist())),
        "playlists_with_descriptions": int(sum(d is not None for d in c.descriptions)),
        "avg_playlist_length": n_occ / n if n else 0.0,
        "synthetic": bool(c.source.get("synthetic", False)),
        "source": {k: c.source.get(k) for k in ("path", "fingerprint", "n_files", "skipped")},
        "top_titles": _top((t, 1) for t in norm[order].tolist()),
        "top_tracks": _top(
            zip(
                (
                    f"{t} by {a}"
                    for t, a in zip(
                        c.track_names[seen], c.artist_names[c.track_artist[seen]], strict=True
                    )
                ),
                track_counts[seen].tolist(),
                strict=True,
            )
        ),
        "top_artists": _top(
            zip(
                c.artist_names[artists].tolist(),
                artist_counts[artists].astype(np.int64).tolist(),
                strict=True,
            )
        ),
        "num_edits": _top_ints(c.num_edits[order]),
        "modified_at_days": top_days,
        "playlist_lengths": _top_ints(c.lengths[order]),
        "num_followers": _top_ints(c.num_followers[order]),
    }
    return out


def summary_table(stats: dict[str, Any]) -> Table:
    """The summary numbers, as the official script prints them."""
    label = " (SYNTHETIC data)" if stats["synthetic"] else ""
    t = Table(title=f"MPD statistics{label}", title_justify="left")
    t.add_column("statistic")
    t.add_column("value", justify="right")
    for key in SUMMARY_KEYS:
        v = stats[key]
        t.add_row(key.replace("_", " "), f"{v:,.6f}" if isinstance(v, float) else f"{v:,}")
    return t


def histogram_table(stats: dict[str, Any], key: str) -> Table:
    """One top-20 histogram of `compute_stats` (a key of HISTOGRAMS)."""
    title, header = HISTOGRAMS[key]
    label = " (SYNTHETIC)" if stats["synthetic"] else ""
    t = Table(title=f"{title}{label}", title_justify="left")
    t.add_column("count", justify="right")
    t.add_column(header)
    for row in stats[key]:
        t.add_row(f"{row['count']:,}", str(row["value"]))
    return t


def renderables(stats: dict[str, Any]) -> list[Table | str]:
    """What the command prints, in order: the summary, every histogram, and a line saying the
    data is synthetic where it is."""
    out: list[Table | str] = [summary_table(stats)]
    out += [histogram_table(stats, key) for key in HISTOGRAMS]
    if stats["synthetic"]:
        out.append("These statistics describe SYNTHETIC data, not the real MPD.")
    return out
