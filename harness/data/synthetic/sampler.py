"""Sampling the synthetic MPD: the fixed distributions (length, followers, edits, modified_at)
and `SyntheticMPD`, which draws the playlists of one slice from its own seeded stream.

Per playlist, in order: themes, length and the other fields, the title stem, mainstream or
niche (`depth`, the chart share), anchors, then the tracks in segments (docs/synthetic.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from harness.data.synthetic.catalogue import (
    MAX_TRACKS,
    MIN_TRACKS,
    THEMES,
    Catalogue,
    FloatArray,
    IntArray,
    SynthParams,
    cached_catalogue,
    grouped_choice,
    grouped_cum,
    theme_cells,
)
from harness.data.synthetic.names import DESCRIPTIONS, GENERIC_EMOJI, tail_title, title_variant
from harness.errors import UsageError

SLICE_SIZE = 1_000  # playlists per slice; slice i holds pids 1000 i ..

# ------------------------------------------------------------------------------ fixed pmfs


def length_pmf(p: SynthParams) -> FloatArray:
    """pmf over lengths 0..250 (zero below 5): mode 20, mean ≈ 66.3, long tail to 250."""
    n = np.arange(MAX_TRACKS + 1, dtype=np.float64)
    f = np.exp(-(np.maximum(n - 20.0, 0.0) ** p.length_kappa) / p.length_tau)
    f /= 1.0 + np.exp(-(n - 9.0) / 2.2)  # ramp up from 5
    f[:MIN_TRACKS] = 0.0
    return f / f.sum()


# Published top-10 num_followers and top-20 num_edits histograms (per 1M playlists).
_FOLLOWERS = (754219, 149600, 46939, 19591, 9813, 5360, 3305, 2143, 1512, 1006)
_EDITS = (
    92252, 81820, 71973, 61978, 53085, 46860, 41210, 36629, 32810, 29907,
    26947, 24941, 22800, 20834, 19000, 17817, 16551, 15305, 14217, 13486,
)  # fmt: skip


def followers_pmf(max_followers: int = 100_000) -> FloatArray:
    """pmf over 0..max: the published 1..10 counts, then a power-law tail k**-2.44."""
    f = np.zeros(max_followers + 1)
    f[1:11] = np.asarray(_FOLLOWERS) / 1e6
    k = np.arange(11, max_followers + 1, dtype=np.float64)
    tail = k**-2.44
    f[11:] = tail / tail.sum() * (1.0 - f.sum())
    return f / f.sum()


def edits_pmf(max_edits: int = 300) -> FloatArray:
    """pmf over 0..max: 1 edit ~0.9%, the published 2..21 counts, then a geometric tail."""
    f = np.zeros(max_edits + 1)
    f[1] = 0.009
    f[2:22] = np.asarray(_EDITS) / 1e6
    ratio = _EDITS[-1] / _EDITS[-2]
    f[22:] = f[21] * ratio ** np.arange(1, max_edits - 20)
    return f / f.sum()


EPOCH_START = dt.date(2010, 1, 1)
LAST_DAY = dt.date(2017, 10, 31)  # tracks added on or after 2017-11-01 were removed


def modified_pmf(p: SynthParams) -> FloatArray:
    """pmf over days since 2010-01-01: a burst in the last weeks plus steady growth."""
    n_days = (LAST_DAY - EPOCH_START).days + 1
    back = np.arange(n_days, dtype=np.float64)[::-1]  # days before LAST_DAY
    recent = np.exp(-back / p.recent_days)
    growth = np.exp(-back / p.growth_days)
    f = p.p_recent * recent / recent.sum() + (1 - p.p_recent) * growth / growth.sum()
    return f / f.sum()


def _inverse_cdf(pmf: FloatArray, u: FloatArray) -> IntArray:
    """Values k with P(X <= k-1) < u <= P(X <= k), for u in [0, 1)."""
    cdf = np.cumsum(pmf)
    return np.minimum(np.searchsorted(cdf, u * cdf[-1], side="right"), len(pmf) - 1)


# ------------------------------------------------------------------------------ sampling


@dataclass
class SliceSample:
    """The sampled content of one slice, before names and JSON."""

    first_pid: int
    offsets: IntArray  # (n + 1,)
    tracks: IntArray  # (n_occurrences,) catalogue track ids in playlist order
    themes: IntArray  # (n,) primary theme
    names: list[str]
    descriptions: list[str | None]
    collaborative: NDArray[np.bool_]
    modified_at: IntArray
    num_followers: IntArray
    num_edits: IntArray


@dataclass
class PlaylistDraws:
    """What a slice's playlists drew before their tracks, each (n,)."""

    th1: IntArray  # primary theme
    th2: IntArray  # second theme ...
    eta: FloatArray  # ... and its share of the fresh segments
    depth: FloatArray  # share of each popularity distribution drawn from (1: all of it)
    chart: FloatArray  # share of segments drawn from the chart
    focus_stem: IntArray  # the title's stem when its focus artists apply, else -1

    def subset(self, idx: IntArray) -> PlaylistDraws:
        return PlaylistDraws(
            self.th1[idx],
            self.th2[idx],
            self.eta[idx],
            self.depth[idx],
            self.chart[idx],
            self.focus_stem[idx],
        )


class SyntheticMPD:
    """The generative model of one seed; `sample_slice(i, n)` draws slice i (pids from 1000 i)."""

    def __init__(self, seed: int = 0, params: SynthParams | None = None) -> None:
        if seed < 0:
            raise UsageError(f"--seed {seed}: must be >= 0")
        self.seed = seed
        self.params = params or SynthParams()
        p = self.params
        self._length_pmf = length_pmf(p)
        self._followers_pmf = followers_pmf()
        self._edits_pmf = edits_pmf()
        self._modified_pmf = modified_pmf(p)
        _, self._theme_w = theme_cells()
        self._stem_words = [w for t in THEMES for w in t.stems]  # flat stem order
        weights = np.asarray([v for t in THEMES for v in t.stems.values()])
        starts = np.concatenate([[0], np.cumsum([len(t.stems) for t in THEMES])])
        self._stem_cum = grouped_cum(weights, starts.astype(np.int64))
        self._mix = [t.key for t in THEMES].index("mix")

    @property
    def catalogue(self) -> Catalogue:
        return cached_catalogue(self.seed, self.params)

    # ---------------------------------------------------------------- artists and tracks

    def _artists(self, rng: np.random.Generator, themes: IntArray, depth: FloatArray) -> IntArray:
        """An artist per theme: a cell from P(cell | theme), then Zipf within the cell, from the
        head of the cell that carries `depth` of its popularity."""
        cat = self.catalogue
        starts = np.arange(len(THEMES) + 1) * cat.n_cells
        cell = grouped_choice(cat.theme_cell_cum, starts, themes, rng.random(len(themes)))
        cell = cell - themes * cat.n_cells
        u = rng.random(len(themes)) * depth
        return grouped_choice(cat.artist_cum, cat.cell_start, cell, u)

    def _tracks(self, rng: np.random.Generator, artists: IntArray, depth: FloatArray) -> IntArray:
        """A track per artist, by popularity within the artist, from its head carrying `depth`
        of the artist's popularity."""
        cat = self.catalogue
        u = rng.random(len(artists)) * depth
        return cat.rank_track[grouped_choice(cat.track_cum, cat.artist_track_start, artists, u)]

    def _chart_tracks(self, rng: np.random.Generator, artists: IntArray) -> IntArray:
        """A hit of each artist's cell (the artist's cell must hold some)."""
        cat = self.catalogue
        cell = cat.artist_cell[artists]
        return cat.chart[
            grouped_choice(cat.chart_cum, cat.chart_start, cell, rng.random(len(cell)))
        ]

    def _anchors(
        self,
        rng: np.random.Generator,
        th1: IntArray,
        depth: FloatArray,
        focus_stem: IntArray,
        lengths: IntArray,
    ) -> tuple[IntArray, IntArray]:
        """The artists each playlist keeps coming back to: (anchors, CSR start per playlist).

        An anchor is one of the title stem's focus artists (`p_stem_focus`, stem-titled
        playlists only); else the first comes from the theme and later ones mostly from the
        first one's scene (the popular half of it for mainstream playlists).
        """
        p, cat = self.params, self.catalogue
        n_anchor = np.minimum(1 + rng.poisson(lengths / p.anchor_per_tracks), p.max_anchors)
        start = np.concatenate([[0], np.cumsum(n_anchor)])
        m = int(start[-1])
        d = np.repeat(depth, n_anchor)  # (m,)
        anchors = self._artists(rng, np.repeat(th1, n_anchor), d)
        stem = np.repeat(focus_stem, n_anchor)
        has = stem >= 0
        fs = cat.focus_start[np.where(has, stem, 0)]
        size = cat.focus_start[np.where(has, stem, 0) + 1] - fs
        pick = cat.focus[fs + (rng.random(m) * size).astype(np.int64)]
        use_focus = has & (rng.random(m) < p.p_stem_focus)
        anchors = np.where(use_focus, pick, anchors)
        owner = np.repeat(start[:-1], n_anchor)  # (m,) index of the playlist's first anchor
        width = np.where(d < 1.0, p.n_related // 2, p.n_related)
        scene = cat.related[anchors[owner], (rng.random(m) * width).astype(np.int64)]
        from_scene = (np.arange(m) != owner) & ~use_focus & (rng.random(m) < p.p_scene)
        return np.where(from_scene, scene, anchors), start

    def _candidates(
        self,
        rng: np.random.Generator,
        pls: PlaylistDraws,
        lengths: IntArray,
        factor: float,
    ) -> tuple[IntArray, IntArray]:
        """A stream of candidate tracks per playlist, in segments (album runs, artist picks).

        Returns (playlist index, track id), both (n_candidates,), grouped by playlist in order.
        """
        p, cat = self.params, self.catalogue
        n = len(lengths)
        count = np.ceil(factor * lengths).astype(np.int64) + 10  # (n,)
        start = np.concatenate([[0], np.cumsum(count)])
        total = int(start[-1])
        pl = np.repeat(np.arange(n), count)  # (total,)
        new = rng.random(total) < p.p_new_segment
        new[start[:-1]] = True
        seg_first = np.flatnonzero(new)  # (n_seg,)
        seg_of = np.cumsum(new) - 1  # (total,)
        seg_pl = pl[seg_first]
        n_seg = len(seg_first)
        anchors, anchor_start = self._anchors(rng, pls.th1, pls.depth, pls.focus_stem, lengths)
        n_anchor = np.diff(anchor_start)
        pick = (n_anchor[seg_pl] * rng.random(n_seg) ** 2).astype(np.int64)  # favour the first
        seg_theme = np.where(rng.random(n_seg) < pls.eta[seg_pl], pls.th2[seg_pl], pls.th1[seg_pl])
        seg_depth = pls.depth[seg_pl]  # (n_seg,)
        fresh = self._artists(rng, seg_theme, seg_depth)
        anchor = anchors[anchor_start[seg_pl] + pick]
        width = np.where(seg_depth < 1.0, p.n_related // 2, p.n_related)
        related = cat.related[anchor, (rng.random(n_seg) * width).astype(np.int64)]
        r = rng.random(n_seg)
        seg_artist = np.where(
            r < p.p_anchor, anchor, np.where(r < p.p_anchor + p.p_related, related, fresh)
        )
        album_run = rng.random(n_seg) < p.p_album_run
        # per candidate: a popularity draw, or the next track of the segment's album
        pop = self._tracks(rng, seg_artist[seg_of], pls.depth[pl])
        t0 = pop[seg_first]  # (n_seg,)
        a0 = cat.album_start[cat.track_album[t0]]
        alen = cat.album_start[cat.track_album[t0] + 1] - a0
        j = np.arange(total) - seg_first[seg_of]
        run = a0[seg_of] + (t0[seg_of] - a0[seg_of] + j) % alen[seg_of]
        track = np.where(album_run[seg_of], run, pop)
        # chart segments: hits of the cell of the segment's artist, one per position
        has_hits = np.diff(cat.chart_start)[cat.artist_cell[seg_artist]] > 0
        hits = (rng.random(n_seg) < pls.chart[seg_pl]) & has_hits
        on = np.flatnonzero(hits[seg_of])
        track[on] = self._chart_tracks(rng, seg_artist[seg_of[on]])
        return pl, track

    def _select(
        self, rng: np.random.Generator, pl: IntArray, track: IntArray, lengths: IntArray
    ) -> tuple[IntArray, NDArray[np.bool_]]:
        """First `lengths` candidates per playlist, dropping most repeats.

        Returns the kept candidate indices (grouped by playlist) and which playlists pass the
        dataset's rules (full length, >= 3 artists, >= 2 albums).
        """
        cat = self.catalogue
        n = len(lengths)
        _, first = np.unique(pl * cat.n_tracks + track, return_index=True)
        keep = rng.random(len(pl)) < self.params.p_keep_duplicate
        keep[first] = True
        idx = np.flatnonzero(keep)
        kpl = pl[idx]
        kstart = np.concatenate([[0], np.cumsum(np.bincount(kpl, minlength=n))])
        idx = idx[np.arange(len(idx)) - kstart[kpl] < lengths[kpl]]
        kpl = pl[idx]
        got = np.bincount(kpl, minlength=n)
        artist = cat.track_artist[track[idx]].astype(np.int64)
        album = cat.track_album[track[idx]].astype(np.int64)
        n_art = np.bincount(np.unique(kpl * cat.n_artists + artist) // cat.n_artists, minlength=n)
        n_alb = np.bincount(np.unique(kpl * cat.n_albums + album) // cat.n_albums, minlength=n)
        return idx, (got == lengths) & (n_art >= 3) & (n_alb >= 2)

    def _fill(self, rng: np.random.Generator, pls: PlaylistDraws, lengths: IntArray) -> IntArray:
        """Tracks of every playlist (concatenated in order); resamples the few that fail."""
        pending = np.arange(len(lengths))
        parts_pl, parts_track = [], []
        factor = 1.5
        for _ in range(40):
            if not len(pending):
                break
            pl, track = self._candidates(rng, pls.subset(pending), lengths[pending], factor)
            idx, ok = self._select(rng, pl, track, lengths[pending])
            good = ok[pl[idx]]
            parts_pl.append(pending[pl[idx][good]])
            parts_track.append(track[idx][good])
            pending = pending[~ok]
            factor *= 1.5
        if len(pending):
            raise RuntimeError(f"synthetic: could not fill {len(pending)} playlists")
        owner = np.concatenate(parts_pl)
        order = np.argsort(owner, kind="stable")  # each playlist comes from one round, in order
        return np.concatenate(parts_track)[order]

    def sample_slice(self, index: int, n: int) -> SliceSample:
        """Playlists 1000 * index .. 1000 * index + n - 1, from their own seeded stream."""
        p = self.params
        rng = np.random.default_rng([self.seed, 1, index])
        th1 = _inverse_cdf(self._theme_w, rng.random(n))
        th2 = _inverse_cdf(self._theme_w, rng.random(n))
        has2 = rng.random(n) < p.p_second_theme
        eta = np.where(has2, rng.beta(2.0, 2.0 / p.second_theme_share - 2.0, n), 0.0)
        z = rng.standard_normal((2, n))  # Gaussian copula: long playlists were edited more
        lengths = _inverse_cdf(self._length_pmf, ndtr(z[0]))
        rho = p.edits_length_corr
        edits = _inverse_cdf(self._edits_pmf, ndtr(rho * z[0] + np.sqrt(1 - rho**2) * z[1]))
        followers = _inverse_cdf(self._followers_pmf, rng.random(n))
        day = _inverse_cdf(self._modified_pmf, rng.random(n))
        epoch0 = int(dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc).timestamp())
        modified = epoch0 + day * 86_400
        collaborative = rng.random(n) < p.p_collaborative
        u = rng.random((n, 8))  # (n, 8) uniforms of the title
        stems, own = self._stems(th1, u)
        main = rng.random(n) < p.p_mainstream
        depth = np.where(main, rng.uniform(p.depth_lo, p.depth_hi, n), 1.0)
        chart = np.where(main, p.p_chart, p.p_chart_niche)
        pls = PlaylistDraws(th1, th2, eta, depth, chart, np.where(own, stems, -1))
        tracks = self._fill(rng, pls, lengths)
        names, descriptions = self._titles(rng, th1, stems, u)
        return SliceSample(
            first_pid=index * SLICE_SIZE,
            offsets=np.concatenate([[0], np.cumsum(lengths)]),
            tracks=tracks,
            themes=th1,
            names=names,
            descriptions=descriptions,
            collaborative=collaborative,
            modified_at=modified,
            num_followers=followers,
            num_edits=edits,
        )

    def _stems(self, themes: IntArray, u: FloatArray) -> tuple[IntArray, NDArray[np.bool_]]:
        """Title stem per playlist (flat index, -1 for a long-tail personal title) and whether
        it is a stem of the playlist's own theme (else a generic one).

        u: (n, 8) the title's uniforms: [0] the kind of title, [4] the stem.
        """
        p, cat = self.params, self.catalogue
        is_mix = themes == self._mix
        p_tail = np.where(is_mix, p.p_title_tail_mix, p.p_title_tail)
        tail = u[:, 0] < p_tail
        generic = ~tail & (u[:, 0] < p_tail + p.p_title_generic)
        source = np.where(generic, self._mix, themes)
        stem = grouped_choice(self._stem_cum, cat.stem_start, source, u[:, 4])
        return np.where(tail, -1, stem), ~tail & (~generic | is_mix)

    def _titles(
        self, rng: np.random.Generator, themes: IntArray, stems: IntArray, u: FloatArray
    ) -> tuple[list[str], list[str | None]]:
        """Raw titles (the stem, or a long-tail title) and the rare descriptions."""
        p = self.params
        n = len(themes)
        has_desc = rng.random(n) < p.p_description
        names: list[str] = []
        descriptions: list[str | None] = []
        for i in range(n):
            theme = THEMES[themes[i]]
            stem = tail_title(theme, u[i, 1:4]) if stems[i] < 0 else self._stem_words[stems[i]]
            names.append(title_variant(stem, theme.emoji, u[i, 5:8]))
            desc = None
            if has_desc[i]:
                tpl = DESCRIPTIONS[int(u[i, 1] * len(DESCRIPTIONS))]
                desc = tpl.format(next(iter(theme.stems)))
                if u[i, 2] < 0.3:
                    desc += " " + (theme.emoji or GENERIC_EMOJI)[0]
            descriptions.append(desc)
        return names, descriptions
