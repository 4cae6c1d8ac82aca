"""The documents behind the playlist pages: the test playlists of a run (search by pid, title or
category) and one playlist inspected (seeds, held-out tracks, every model's top k side by side).

Marks in a model's list, as the metrics define them (mpd-facts §4): `hit`, a held-out track;
`artist`, not a hit but by an artist of a held-out track; `credited`, such an artist match that
earns R-precision's partial credit (within the first |G| positions, each artist of G once).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.challenge.categories import CATEGORIES
from harness.challenge.metrics import METRICS
from harness.data.corpus import Corpus, normalize_name
from harness.serve.errors import NotFound, RequestError
from harness.serve.store import Store, TestSet
from harness.serve.views import num

PER_PAGE = 50


def track_doc(corpus: Corpus, t: int) -> dict[str, Any]:
    """A track as pages show it: URI, name, artist, album."""
    a, b = int(corpus.track_artist[t]), int(corpus.track_album[t])
    return {
        "uri": str(corpus.track_uris[t]),
        "name": str(corpus.track_names[t]),
        "artist": str(corpus.artist_names[a]),
        "artist_uri": str(corpus.artist_uris[a]),
        "album": str(corpus.album_names[b]),
    }


def parse_pid(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RequestError(f"pid {text!r}: not an integer") from None


PLAYLIST_SORTS = ("split", "pid", "title", "seeds", "holdouts")
MODEL_SORT = "model:"  # sort=model:knn: by knn's R-precision


def playlists_doc(
    store: Store,
    run: str,
    q: str = "",
    category: int | None = None,
    page: int = 1,
    sort: str = "split",
    order: str = "",
) -> dict[str, Any]:
    """The test playlists matching `q` (a pid, or words of the title) and `category`, a page of
    `PER_PAGE` at a time, each with every model's R-precision; in the split's order, or sorted
    by `sort` (pid, title, seeds, holdouts, or `model:NAME`: that model's R-precision, best
    first)."""
    info = store.scored(run, "test playlists")
    tests = store.tests(run)
    split = tests.split
    if category is not None and category not in CATEGORIES:
        raise RequestError(f"query parameter category: {category} is not a category 1..10")
    models = store.model_names(run)
    rp = {m: _split_order_values(store, run, m) for m in models}  # model -> (n_test,)
    rows = _sorted(tests, rp, _matching(tests, q, category), sort, order)
    pages = max(1, -(-len(rows) // PER_PAGE))
    if page > pages:
        raise RequestError(f"query parameter page: {page} is past the last page, {pages}")
    out = []
    for i in rows[(page - 1) * PER_PAGE : page * PER_PAGE]:
        out.append(
            {
                "pid": int(split.queries.pids[i]),
                "category": int(split.categories[i]),
                "title": tests.names[i],
                "n_seeds": int(split.queries.n_seeds[i]),
                "n_holdouts": int(split.holdout_offsets[i + 1] - split.holdout_offsets[i]),
                "r_precision": {m: num(rp[m][i]) for m in models},
            }
        )
    return {
        "run": run,
        "synthetic": info.synthetic,
        "q": q,
        "category": category,
        "sort": sort,
        "order": order,
        "categories": [{"number": c.number, "label": c.label} for c in CATEGORIES.values()],
        "page": page,
        "pages": pages,
        "total": len(rows),
        "models": models,
        "playlists": out,
    }


def _matching(tests: TestSet, q: str, category: int | None) -> list[int]:
    """Rows (split order) of `category` whose pid is `q` or whose title holds every word of it."""
    split = tests.split
    words = normalize_name(q).split()
    exact = int(q) if q.strip().isdigit() else None
    return [
        i
        for i in range(split.n_test)
        if (category is None or split.categories[i] == category)
        and (
            (exact is not None and int(split.queries.pids[i]) == exact)
            or all(w in tests.normalized[i] for w in words)
        )
    ]


def _sorted(
    tests: TestSet, rp: dict[str, NDArray[np.float64]], rows: list[int], sort: str, order: str
) -> list[int]:
    """`rows` in the order `sort` asks for (see `playlists_doc`; a model as `model:NAME`)."""
    model = sort.removeprefix(MODEL_SORT) if sort.startswith(MODEL_SORT) else None
    if sort not in PLAYLIST_SORTS and model not in rp:
        choices = ", ".join([*PLAYLIST_SORTS, *(MODEL_SORT + m for m in rp)])
        raise RequestError(f"query parameter sort: {sort!r} is not one of {choices}")
    if order not in ("", "asc", "desc"):
        raise RequestError(f"query parameter order: {order!r} is not asc or desc")
    if sort == "split":
        return rows[::-1] if order == "desc" else rows
    split = tests.split
    keys: dict[str, Any] = {
        "pid": lambda i: int(split.queries.pids[i]),
        "title": lambda i: tests.normalized[i],
        "seeds": lambda i: int(split.queries.n_seeds[i]),
        "holdouts": lambda i: int(split.holdout_offsets[i + 1] - split.holdout_offsets[i]),
    }
    if model is not None:
        values = rp[model]
        keys[sort] = lambda i: float(values[i])
    desc = order == "desc" or (order == "" and model is not None)  # a model: best first
    return sorted(rows, key=keys[sort], reverse=desc)


def _split_order_values(store: Store, run: str, model: str) -> NDArray[np.float64]:
    """(n_test,) the model's R-precision per test playlist, in the split's order (kept)."""

    def align() -> NDArray[np.float64]:
        cols = store.leaderboard(run).per_playlist[model]
        at = _pid_rows(cols["pid"])
        pids = store.tests(run).split.queries.pids.tolist()
        values = np.asarray(cols["r_precision"], dtype=np.float64)
        return values[[at[int(p)] for p in pids]]

    return store.memo(("split-order", run, model), align)


def _pid_rows(pids: Any) -> dict[int, int]:
    return {int(p): i for i, p in enumerate(np.asarray(pids).tolist())}


def playlist_doc(store: Store, run: str, pid: int, k: int = 20) -> dict[str, Any]:
    """One test playlist: seeds, held-out tracks (with the rank each model gave them), and each
    model's top `k` with hits and artist matches marked, and its metrics on this playlist."""
    info = store.scored(run, "playlists")
    tests = store.tests(run)
    if pid not in tests.row:
        raise NotFound(f"pid {pid} is not a test playlist of run {run!r}")
    i = tests.row[pid]
    split, corpus = tests.split, store.corpus(run)
    seeds = split.queries.seeds(i)  # (n_seeds,) track ids
    holdouts = split.holdouts(i)  # (n_holdouts,) track ids, position order
    g_tracks = set(holdouts.tolist())
    g_artists = {int(corpus.track_artist[t]) for t in g_tracks}
    board = store.leaderboard(run)
    models = []
    found: dict[str, dict[int, int]] = {}
    for name in store.model_names(run):
        mr = store.recs(run, name)
        row = mr.recs[mr.row[pid]]  # (k_run,) this playlist's list
        found[name] = {int(t): r + 1 for r, t in enumerate(row.tolist()) if t in g_tracks}
        cols = board.per_playlist[name]
        j = int(np.flatnonzero(np.asarray(cols["pid"]) == pid)[0])
        models.append(
            {
                "name": name,
                "metrics": {m: num(cols[m][j]) for m in METRICS},
                "backfilled": int(mr.backfilled[mr.row[pid]]),
                "hits_in_list": len(found[name]),
                "recs": _marked(corpus, row[:k].tolist(), g_tracks, g_artists, len(g_tracks)),
            }
        )
    cat = int(split.categories[i])
    holdout_pos = split.holdout_pos[split.holdout_offsets[i] : split.holdout_offsets[i + 1]]
    seed_pos = split.queries.seed_pos[
        split.queries.seed_offsets[i] : split.queries.seed_offsets[i + 1]
    ]
    pids = split.queries.pids
    return {
        "run": run,
        "synthetic": info.synthetic,
        "pid": pid,
        "category": cat,
        "category_label": CATEGORIES[cat].label,
        "title": tests.names[i],
        "title_given": split.queries.titles[i] is not None,
        "num_tracks": len(seeds) + len(holdouts),
        "k": k,
        "seeds": [
            {"pos": int(p), **track_doc(corpus, int(t))}
            for p, t in zip(seed_pos, seeds, strict=True)
        ],
        "holdouts": [
            {
                "pos": int(p),
                **track_doc(corpus, int(t)),
                "ranks": {m: found[m].get(int(t)) for m in found},
            }
            for p, t in zip(holdout_pos, holdouts, strict=True)
        ],
        "models": models,
        "prev": int(pids[i - 1]) if i > 0 else None,
        "next": int(pids[i + 1]) if i + 1 < len(pids) else None,
    }


def _marked(
    corpus: Corpus, recs: list[int], g_tracks: set[int], g_artists: set[int], g_size: int
) -> list[dict[str, Any]]:
    """The top of one list with `hit`, `artist` and `credited` marks (module docstring)."""
    credited: set[int] = set()
    out = []
    for r, t in enumerate(recs):
        if t < 0:
            out.append({"rank": r + 1, "empty": True})
            continue
        artist = int(corpus.track_artist[t])
        hit = t in g_tracks
        match = not hit and artist in g_artists
        credit = match and r < g_size and artist not in credited
        if credit:
            credited.add(artist)
        out.append(
            {
                "rank": r + 1,
                **track_doc(corpus, t),
                "hit": hit,
                "artist_match": match,
                "credited": credit,
            }
        )
    return out
