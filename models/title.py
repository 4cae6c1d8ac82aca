"""`title`: tracks most frequent in training playlists with the same normalised title.

The shared cold-start baseline: the runner routes seedless queries here for models whose
`cold_start` is "title". Unknown or withheld titles fall back to popularity.
"""

from __future__ import annotations

import numpy as np
from typing_extensions import Self

from models.base import IntArray, Queries, Recommender, TrainSet
from models.popular import exclude_and_cut, popularity_ranking


class TitleRecommender(Recommender):
    """Per-title popularity with a global-popularity fallback.

    Parameters
    ----------
    min_playlists : a title needs at least this many training playlists to be used.
    """

    determinism_note = "always: counting only, ties go to the lower track id"

    cold_start = "model"

    def __init__(self, min_playlists: int = 1) -> None:
        self.min_playlists = min_playlists

    def _fit(self, train: TrainSet) -> Self:
        self.ranking_ = popularity_ranking(train)
        titles = train.titles
        order = np.argsort(titles.astype(str), kind="stable")  # playlists grouped by title
        sorted_titles = titles[order]
        bounds = np.flatnonzero(sorted_titles[1:] != sorted_titles[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(order)]])
        self.playlists_by_title_ = (
            {str(sorted_titles[s]): order[s:e] for s, e in zip(starts, ends, strict=True)}
            if len(order)
            else {}
        )
        self._train = train
        self.cache_: dict[str, IntArray] = {}
        return self

    def title_ranking(self, title: str | None) -> IntArray | None:
        """Tracks of the playlists titled `title`, most frequent first; None if unknown."""
        if title is None:
            return None
        if title in self.cache_:
            return self.cache_[title]
        pls = self.playlists_by_title_.get(title)
        if pls is None or len(pls) < self.min_playlists:
            return None
        t = self._train
        tracks = np.concatenate([t.playlist(int(i)) for i in pls])
        ids, counts = np.unique(tracks, return_counts=True)
        ranking = ids[np.lexsort((ids, -counts))].astype(np.int32)
        self.cache_[title] = ranking
        return ranking

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.empty((len(queries), k), dtype=np.int32)
        for i in range(len(queries)):
            seeds = queries.seeds(i)
            r = self.title_ranking(queries.titles[i])
            row = exclude_and_cut(r, seeds, k) if r is not None else np.full(k, -1, np.int32)
            # fill the rest from global popularity, skipping what is already there
            missing = row == -1
            if missing.any():
                fill = exclude_and_cut(
                    self.ranking_, np.concatenate([seeds, row[~missing]]), int(missing.sum())
                )
                row[missing] = fill
            out[i] = row
        return out
