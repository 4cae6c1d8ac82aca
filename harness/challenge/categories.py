"""The ten challenge categories (mpd-facts §2) and the settings that, with a seed, define a split.

A leaf of the split: the table below is what `make_split` draws, `check_split` enforces, the
manifest records and the `split` command's `--coverage` choices offer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Category:
    """One challenge category (mpd-facts §2): seeds, title, seed layout, length range and target."""

    number: int
    n_seeds: int
    title: bool
    random_seeds: bool
    lo: int  # num_tracks range, inclusive
    hi: int
    mean: float | None  # published num_tracks mean/std of the real category (None: not published)
    std: float | None

    @property
    def name(self) -> str:
        """What the category gives, as tables and plots name it: "title + first 5"."""
        if self.n_seeds == 0:
            return "title only"
        seeds = f"{'random' if self.random_seeds else 'first'} {self.n_seeds}"
        return f"title + {seeds}" if self.title else f"{seeds}, no title"

    @property
    def label(self) -> str:
        """Number and name: "3: title + first 5"."""
        return f"{self.number}: {self.name}"


CATEGORIES: dict[int, Category] = {
    c.number: c
    for c in (
        Category(1, 0, True, False, 10, 50, 28.6, 11.2),
        Category(2, 1, True, False, 10, 78, 23.8, 8.7),
        Category(3, 5, True, False, 10, 100, None, None),
        Category(4, 5, False, False, 40, 100, 63.0, 16.5),
        Category(5, 10, True, False, 40, 100, 63.5, 17.2),
        Category(6, 10, False, False, 40, 100, 63.6, 16.7),
        Category(7, 25, True, False, 101, 250, 150.0, 38.6),
        Category(8, 25, True, True, 101, 250, 151.7, 38.6),
        Category(9, 100, True, False, 150, 250, 189.0, 28.0),
        Category(10, 100, True, True, 150, 250, 187.5, 27.0),
    )
}
FILE_ORDER = (1, 3, 4, 5, 6, 7, 8, 9, 10, 2)  # block order of the real challenge_set.json
SELECTION_ORDER = (9, 10, 7, 8, 4, 5, 6, 1, 2, 3)  # scarcest lengths first
METHOD = "length-quota-tilt"
# "official": every seed and held-out track still occurs in training (the challenge's rule);
# "none": no such requirement, for corpora too small to meet it (the manifest counts the misses)
COVERAGE = ("official", "best-effort", "none")


def default_per_category(n_playlists: int) -> int:
    """1,000 per category on the full MPD; 1 in 200 playlists on smaller corpora (5% in test)."""
    return min(1000, n_playlists // 200)


def split_settings(per_category: int, coverage: str = "best-effort") -> dict[str, Any]:
    """Everything besides the seed that determines a split."""
    return {
        "per_category": per_category,
        "coverage": coverage,
        "method": METHOD,
        "selection_order": list(SELECTION_ORDER),
        "categories": {
            str(c.number): {
                "seeds": c.n_seeds,
                "title": c.title,
                "seed_positions": "random" if c.random_seeds else "first",
                "num_tracks": [c.lo, c.hi],
                "target": None if c.mean is None else {"mean": c.mean, "std": c.std},
            }
            for c in CATEGORIES.values()
        },
    }
