"""The fixed part of the synthetic MPD: genres, eras and themes, the model's parameters, and the
catalogue drawn once per seed (sized for the full 1M playlists): artists, albums and tracks, the
chart of hits and the focus artists of each title stem."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

MAX_TRACKS = 250  # the dataset's sampling rules: 5..250 tracks per playlist
MIN_TRACKS = 5

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# ------------------------------------------------------------------------------ vocabulary

GENRES = (
    "pop rap rnb country rock alt edm latin christian jazz classical metal reggae folk "
    "soundtrack holiday soul punk kpop ambient"
).split()
ERAS = ("60s", "70s", "80s", "90s", "00s", "10s")
DEFAULT_ERAS = {"60s": 0.03, "70s": 0.05, "80s": 0.07, "90s": 0.12, "00s": 0.23, "10s": 0.50}
OLD_ERAS = {"60s": 0.35, "70s": 0.35, "80s": 0.2, "90s": 0.1}
BACK_ERAS = {"90s": 0.3, "00s": 0.6, "10s": 0.1}
NEW_ERAS = {"00s": 0.1, "10s": 0.9}


@dataclass(frozen=True)
class Theme:
    """What a playlist is about: its title words and its genre x era mixture."""

    key: str
    weight: float  # share of playlists whose primary theme this is (normalised later)
    genres: dict[str, float]
    stems: dict[str, float]  # normalised title -> weight
    emoji: tuple[str, ...]
    eras: dict[str, float]


def _d(spec: str) -> dict[str, float]:
    """'a:1 b:2' -> {'a': 1.0, 'b': 2.0}."""
    return {k: float(v) for k, _, v in (item.rpartition(":") for item in spec.split())}


# One theme per line; the weight is the share of playlists whose primary theme it is. Weights
# of the themes with a top-20 title are set so that the title's share matches stats.txt.
THEME_SPEC = """
# key | weight | genres | eras | emoji | title stems (normalised: weight)
country | 0.0435 | country:0.85 folk:0.05 pop:0.1 | default | 🤠 🐴 🍻 | country:2.28, country music:0.8, classic country:0.6, new country:0.8, country jams:0.5, country hits:0.4, country summer:0.3, bro country:0.2, country love:0.3
chill | 0.0435 | alt:0.3 rnb:0.25 pop:0.2 edm:0.1 ambient:0.05 folk:0.1 | default | 😌 🌊 ✌️ | chill:2.36, chill vibes:0.8, chillin:0.6, chill out:0.4, chill songs:0.6, relax:0.8, mellow:0.4, chill mix:0.4, lazy sunday:0.2
rap | 0.0369 | rap:0.8 rnb:0.12 pop:0.08 | 90s:0.1 00s:0.2 10s:0.7 | 🔥 💯 🎤 | rap:2.3, hip hop:0.8, trap:0.8, rap music:0.6, rap caviar:0.3, hip-hop:0.6, old school rap:0.5, rap 🔥:0.4
workout | 0.0369 | rap:0.35 edm:0.3 pop:0.25 rock:0.1 | new | 💪 🏋️ 🏃 | workout:3.32, gym:1.5, running:1, work out:0.8, lifting:0.6, cardio:0.5, workout mix:0.5, pump up:0.6, run:0.4
oldies | 0.0354 | soul:0.4 rock:0.3 pop:0.3 | old | 🎶 📻 | oldies:2.76, oldies but goodies:1, classics:0.3, motown:0.8, 60s:1, 70s:1.2, golden oldies:0.4
christmas | 0.0348 | holiday:1 | 60s:0.2 70s:0.1 80s:0.1 90s:0.15 00s:0.2 10s:0.25 | 🎄 🎅 ❄️ | christmas:2.76, christmas music:1, christmas songs:1.2, holiday:1, xmas:0.8, christmas playlist:0.5, holiday music:0.4
rock | 0.0298 | rock:0.65 alt:0.2 metal:0.08 punk:0.07 | 80s:0.15 90s:0.25 00s:0.3 10s:0.3 | 🤘 🎸 | rock:1.57, rock music:0.6, alt rock:0.8, hard rock:0.6, rock n roll:0.5, rock and roll:0.3
classic rock | 0.0156 | rock:0.95 soul:0.05 | 60s:0.3 70s:0.45 80s:0.25 | 🎸 | classic rock:0.643, classics:0.3, dad rock:0.5, 70s rock:0.5
party | 0.0268 | pop:0.35 rap:0.3 edm:0.25 latin:0.1 | new | 🎉 🍾 🥳 | party:2.14, pregame:1.2, turn up:0.8, party playlist:0.6, party mix:0.6, party time:0.3, birthday party:0.3
throwback | 0.0256 | pop:0.45 rap:0.3 rnb:0.25 | back | 🙌 ⏪ | throwback:5.62, throwbacks:3.7, 2000s:1.5, 90s:1.5, throwback jams:0.6, old school:1, childhood:0.5, early 2000s:0.4
worship | 0.0220 | christian:1 | default | 🙏 ✝️ | worship:4.16, church:2, praise:1.2, gospel:1.2, christian:1.5, jesus:1, praise and worship:0.5
summer | 0.0213 | pop:0.4 rap:0.2 country:0.15 edm:0.15 reggae:0.1 | new | ☀️ 🌴 🌞 | summer:3.0, summer 2017:2, summer vibes:1.5, beach:1.2, summer 17:0.5, summer 2016:0.8
feels | 0.0203 | alt:0.35 pop:0.3 rnb:0.25 folk:0.1 | default | 💔 😢 ❤️ | feels:3.55, sad:3, sad songs:1.5, love songs:1.2, heartbreak:0.6, in my feels:0.5, love:1
disney | 0.0182 | soundtrack:1 | 80s:0.1 90s:0.3 00s:0.3 10s:0.3 | 🏰 ✨ | disney:3.15, musicals:2, broadway:1.5, disney songs:0.8, soundtracks:0.8, movie soundtracks:0.5
lit | 0.0179 | rap:0.7 edm:0.15 pop:0.15 | new | 🔥 💯 | lit:2.48, lit af:1, turnt:1.2, turn up:0.6, bangers:0.8, hype:0.8
sleep | 0.0153 | ambient:0.5 classical:0.3 folk:0.1 alt:0.1 | default | 😴 🌙 💤 | sleep:7.0, study:5, focus:1.5, calm:1, sleepy:0.6, study music:0.8, relaxing:0.8
edm | 0.0156 | edm:1 | new | 🎧 ⚡ | edm:2.66, house:2, dubstep:1.5, electronic:1.5, festival:0.8, trance:0.4
latin | 0.0156 | latin:1 | default | 💃 🔥 | latin:4.59, reggaeton:4, spanish:3, musica:1.5, bachata:0.8, salsa:0.6, latino:0.8
indie | 0.0156 | alt:0.9 folk:0.1 | default | 🌿 🌻 | indie:3.77, alternative:3, alt:1.5, indie rock:1, indie pop:0.8, indie folk:0.5
rnb | 0.0156 | rnb:0.8 rap:0.1 pop:0.1 | default | 💕 🌹 | r&b:3.13, rnb:3, slow jams:2, bae:1, love:0.8, smooth:0.5
pop | 0.0156 | pop:0.85 edm:0.1 rnb:0.05 | new | 💖 🎀 | pop:1.76, pop hits:1.2, top hits:1.2, today's hits:0.5, top 40:0.6, pop music:0.6
metal | 0.0156 | metal:0.9 rock:0.1 | default | 🤘 💀 | metal:1.84, heavy metal:2, metalcore:1.5, screamo:0.8
jazz | 0.0156 | jazz:0.8 soul:0.2 | 60s:0.3 70s:0.2 80s:0.1 90s:0.1 00s:0.1 10s:0.2 | 🎷 | jazz:1.71, smooth jazz:1.5, blues:2, jazz vibes:0.5
classical | 0.0156 | classical:1 | default | 🎻 🎹 | classical:1.29, piano:1.2, orchestra:0.8, classical music:1
reggae | 0.0156 | reggae:0.9 latin:0.1 | default | 🌴 🇯🇲 | reggae:0.557, island vibes:0.45, roots:0.5, dancehall:0.35
folk | 0.0156 | folk:0.8 country:0.2 | default | ☕ 🌲 | folk:1.41, acoustic:1.5, coffee shop:1, campfire:0.8
emo | 0.0156 | punk:0.7 alt:0.3 | 90s:0.2 00s:0.6 10s:0.2 | 🖤 | emo:2.79, pop punk:2.5, punk:2, screamo:0.5, emo songs:1, warped tour:0.5
kpop | 0.0156 | kpop:1 | new | 💜 | kpop:0.686, k-pop:0.6, bts:0.6, korean:0.4
road trip | 0.0156 | pop:0.3 rock:0.25 country:0.2 rap:0.15 alt:0.1 | default | 🚗 🛣️ | road trip:2.61, car:2, drive:1.5, driving:1.2, car jams:0.8, car songs:0.6
80s | 0.0156 | pop:0.45 rock:0.4 soul:0.15 | 80s:1 | 🕺 📼 | 80s:1.07, 80s music:1, eighties:0.5, 80's:1
mix | 0.3372 | pop:0.28 rap:0.22 rock:0.1 alt:0.1 country:0.08 rnb:0.1 edm:0.07 latin:0.03 soul:0.02 | default | 🎶 🔥 😎 💯 ✨ | jams:4.1, new:3.9, music:3.3, vibes:2.8, feels:0.5, good vibes:2, my playlist:1.5, favorites:2, songs:1.8, mix:1.8, random:1.5, good music:1.5, liked:1, 2017:1.5, 2016:1, stuff:.8, playlist:1, happy:1.5, fun:1, current:.8, tunes:1, bops:1.2, favs:1, my music:.8, my songs:.8, good songs:1, tbt:.8, mood:1, yes:.4, me:.5, untitled:.5, everything:.6, hits:.8, faves:.8, main:.5, life:.6, now:.7, love:1, fire:.8, goodies:.6, favorite songs:1, best songs:.6, mine:.5, dope:.6, litty:.5, slaps:.5, ayy:.3, lol:.4, idk:.4, ok:.3, pump:.3, car:1, drive:.6, shower:.5, cleaning:.5, work:.8, school:.5, clean:.5, old:.6, oldies but goodies:.3, today:.4, summer jams:.8, good stuff:.6, sing along:.6, sing:.4, bangers:.8, jamz:.5, tunes 2017:.3, my jams:.8, spotify:.4, discover:.3, chill jams:.4, feel good:.8, happy songs:.5, throwback jams:.4, 2015:.6, 2018:.3, fall:.8, winter:.6, spring:.6, october:.4, july:.4
"""

_ERAS = {"default": DEFAULT_ERAS, "old": OLD_ERAS, "back": BACK_ERAS, "new": NEW_ERAS}


def _parse_themes(spec: str) -> tuple[Theme, ...]:
    themes = []
    for line in spec.strip().splitlines():
        if line.startswith("#"):
            continue
        key, weight, genres, eras, emoji, stems = (f.strip() for f in line.split("|"))
        themes.append(
            Theme(
                key=key,
                weight=float(weight),
                genres=_d(genres),
                stems={
                    k.strip(): float(v) for k, _, v in (s.rpartition(":") for s in stems.split(","))
                },
                emoji=tuple(emoji.split()),
                eras=_ERAS.get(eras) or _d(eras),
            )
        )
    return tuple(themes)


THEMES = _parse_themes(THEME_SPEC)

# ------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class SynthParams:
    """Generative-model parameters (docs/synthetic.md explains and justifies each)."""

    # catalogue, sized for 1M playlists
    n_artists: int = 620_000
    cell_gamma: float = 1.0  # artists per genre x era cell ∝ usage**gamma
    artist_zipf: float = 1.8  # within-cell artist popularity (rank + artist_r0) ** -artist_zipf
    artist_r0: float = 20.0
    star_boost: float = 2.0  # weight of the top artist of the most played cell
    tracks_scale: float = 5.0  # tracks ≈ scale * (expected draws at 1M) ** beta
    tracks_beta: float = 0.5
    max_artist_tracks: int = 1000
    mean_album_tracks: float = 7.0  # geometric album sizes within an artist
    track_zipf: float = 2.1  # within-artist popularity (rank + head) ** -track_zipf, random rank
    hit_album_order: float = 0.9  # 0: hits anywhere; 1: ranked in album order
    track_head: float = 0.001  # head = 1 + track_head * (tracks of the artist) ** 1.5
    # playlists
    length_tau: float = 36.6  # length pmf: logistic ramp * exp(-((L-20)+)**kappa / tau)
    length_kappa: float = 0.9
    edits_length_corr: float = 0.6  # Gaussian copula between length and num_edits
    p_description: float = 0.01876
    p_collaborative: float = 0.023
    p_recent: float = 0.35  # modified_at: share in the last-weeks burst
    recent_days: float = 20.0
    growth_days: float = 700.0
    # tracks of a playlist
    anchor_per_tracks: float = 14.0  # anchors = 1 + Poisson(L / anchor_per_tracks)
    max_anchors: int = 14
    p_anchor: float = 0.3  # a segment plays an anchor artist ...
    p_related: float = 0.33  # ... or an artist of an anchor's scene (else a fresh theme artist)
    n_related: int = 8  # scene size per artist
    related_distance: float = 10.0  # mean popularity-rank distance of scene neighbours
    p_scene: float = 0.7  # later anchors come from the first anchor's scene
    p_second_theme: float = 0.6  # a playlist mixes a second theme ...
    second_theme_share: float = 0.25  # ... in about this share of its fresh segments
    p_new_segment: float = 0.8  # mean segment length 1 / p
    p_album_run: float = 0.35  # a segment plays consecutive tracks of one album
    p_keep_duplicate: float = 0.01
    # mainstream vs niche: a playlist draws artists and tracks from the head of each popularity
    # distribution that carries `depth` of its mass (1: the whole distribution, deep cuts too)
    p_mainstream: float = 0.5  # share of playlists with depth < 1 ...
    depth_lo: float = 0.3  # ... drawn uniformly in [depth_lo, depth_hi]
    depth_hi: float = 0.8
    # the chart: the catalogue's most popular tracks with a flat head of weights
    # (rank + chart_r0) ** -chart_zipf; a chart segment plays a hit of its artist's cell
    chart_size: int = 3000
    chart_zipf: float = 0.5
    chart_r0: float = 10.0
    p_chart: float = 0.55  # share of a mainstream playlist's segments drawn from the chart ...
    p_chart_niche: float = 0.05  # ... and of a niche playlist's
    # titles carry content: each title stem has a few "focus" artists its playlists favour
    p_stem_focus: float = 0.5  # an anchor of a stem-titled playlist is one of the stem's focus
    focus_scale: float = 0.3  # focus artists = scale * sqrt(playlists per 1M with that stem)
    focus_min: int = 3
    focus_max: int = 200
    # titles
    p_title_generic: float = 0.04  # a generic ("mix") title on a themed playlist
    p_title_tail: float = 0.3  # a long-tail personal title on a themed playlist ...
    p_title_tail_mix: float = 0.8  # ... and on a "mix" playlist


# ------------------------------------------------------------------------------ catalogue


@dataclass
class Catalogue:
    """Artists (grouped by genre x era cell), albums (grouped by artist), tracks (by album).

    Grouped cumulative weights (`group + cumulative share within the group`) let one
    `searchsorted` sample within many groups at once.
    """

    n_cells: int
    theme_cell_cum: FloatArray  # (n_themes * n_cells,) theme + cum P(cell | theme)
    cell_start: IntArray  # (n_cells + 1,) artists of a cell
    artist_cum: FloatArray  # (n_artists,) cell + cum share within the cell
    artist_cell: IntArray  # (n_artists,)
    related: NDArray[np.int32]  # (n_artists, n_related) artists of the same scene
    artist_track_start: IntArray  # (n_artists + 1,)
    track_cum: FloatArray  # (n_tracks,) artist + cum share within the artist, by rank
    rank_track: IntArray  # (n_tracks,) track at each (artist, popularity rank) slot
    track_album: NDArray[np.int32]  # (n_tracks,)
    album_start: IntArray  # (n_albums + 1,) tracks of an album
    album_artist: NDArray[np.int32]  # (n_albums,)
    track_duration: NDArray[np.int32]  # (n_tracks,) ms
    chart: IntArray  # (chart_size,) hits, by cell, most popular first within a cell
    chart_start: IntArray  # (n_cells + 1,) hits of each cell
    chart_cum: FloatArray  # (chart_size,) cell + cum share within the cell
    stem_start: IntArray  # (n_themes + 1,) title stems of each theme in the flat stem order
    focus_start: IntArray  # (n_stems + 1,) focus artists of each stem
    focus: NDArray[np.int32]  # (n_focus,) artists

    @property
    def n_artists(self) -> int:
        return len(self.artist_cell)

    @property
    def n_tracks(self) -> int:
        return len(self.track_album)

    @property
    def n_albums(self) -> int:
        return len(self.album_artist)

    @cached_property
    def track_artist(self) -> NDArray[np.int32]:
        return self.album_artist[self.track_album]


def theme_cells() -> tuple[FloatArray, FloatArray]:
    """P(cell | theme) (n_themes, n_cells) and theme weights (n_themes,)."""
    g_index = {g: i for i, g in enumerate(GENRES)}
    e_index = {e: i for i, e in enumerate(ERAS)}
    m = np.zeros((len(THEMES), len(GENRES) * len(ERAS)))
    for t, th in enumerate(THEMES):
        eras = th.eras
        e_tot = sum(eras.values())
        g_tot = sum(th.genres.values())
        for g, gw in th.genres.items():
            for e, ew in eras.items():
                m[t, g_index[g] * len(ERAS) + e_index[e]] += gw / g_tot * ew / e_tot
    w = np.asarray([th.weight for th in THEMES])
    return m, w / w.sum()


def grouped_cum(weights: FloatArray, starts: IntArray) -> FloatArray:
    """group index + cumulative normalised weight within each group (groups contiguous; an
    empty group has no entry and must never be drawn from)."""
    sizes = np.diff(starts)
    group = np.repeat(np.arange(len(sizes)), sizes)
    totals = np.bincount(group, weights=weights, minlength=len(sizes))
    cs = np.cumsum(weights)
    before = np.concatenate([[0.0], cs])[starts[:-1]]
    return group + (cs - before[group]) / totals[group]


def grouped_choice(cum: FloatArray, starts: IntArray, group: IntArray, u: FloatArray) -> IntArray:
    """Index within the flat array of an item of `group`, drawn with the grouped weights
    (`group` must not be empty)."""
    keys = group + u
    order = np.argsort(keys)  # sorted keys: numpy's binary search reuses the last bound
    i = np.empty(len(keys), dtype=np.int64)
    i[order] = np.searchsorted(cum, keys[order], side="right")
    return np.clip(i, starts[group], starts[group + 1] - 1)


def build_catalogue(seed: int, p: SynthParams) -> Catalogue:
    """The fixed catalogue of a seed (same for every N: N playlists subsample the full 1M)."""
    rng = np.random.default_rng([seed, 0xCA7])
    theme_cell, theme_w = theme_cells()
    p_fresh = theme_w @ theme_cell  # (n_cells,) usage of each cell
    # Cells hold artists ∝ usage ** gamma (gamma < 1 would make niche cells relatively deep).
    # Every cell gets at least 30 artists so that no group is empty.
    n_cell = np.maximum(
        np.round(p.n_artists * p_fresh**p.cell_gamma / np.sum(p_fresh**p.cell_gamma)), 30
    )
    cell_start = np.concatenate([[0], np.cumsum(n_cell)]).astype(np.int64)
    n_artists = int(cell_start[-1])
    artist_cell = np.repeat(np.arange(len(n_cell)), n_cell.astype(np.int64))
    rank = np.arange(n_artists) - cell_start[artist_cell]
    artist_w = ((rank + p.artist_r0) ** -p.artist_zipf).astype(np.float64)  # (A,)
    # one superstar: the top artist of the most played cell stands out (the real top artist
    # has twice the occurrences of the second)
    artist_w[cell_start[np.argmax(p_fresh)]] *= p.star_boost
    artist_cum = grouped_cum(artist_w, cell_start)
    cell_total = np.add.reduceat(artist_w, cell_start[:-1])  # (n_cells,)
    artist_share = artist_w / cell_total[artist_cell] * p_fresh[artist_cell]  # (A,) of all draws
    # Tracks per artist grow with its popularity: its expected draws over 1M playlists (a nominal
    # 1.8 tracks per draw; the constant is absorbed by tracks_scale).
    draws = artist_share * 1e6 * 66.3 / 1.8
    size = p.tracks_scale * draws**p.tracks_beta * rng.lognormal(0.0, 0.5, n_artists)
    n_tracks = np.clip(np.round(size), 1, p.max_artist_tracks).astype(np.int64)
    artist_track_start = np.concatenate([[0], np.cumsum(n_tracks)])
    n_total = int(artist_track_start[-1])
    track_artist = np.repeat(np.arange(n_artists), n_tracks)
    # Albums: geometric runs of consecutive tracks within an artist.
    first = np.zeros(n_total, dtype=bool)
    first[artist_track_start[:-1]] = True
    new_album = first | (rng.random(n_total) < 1.0 / p.mean_album_tracks)
    album_start = np.concatenate([np.flatnonzero(new_album), [n_total]]).astype(np.int64)
    track_album = (np.cumsum(new_album) - 1).astype(np.int32)
    album_artist = track_artist[album_start[:-1]].astype(np.int32)
    # Hits cluster on an artist's first albums (`hit_album_order` of the rank follows album order).
    position = (np.arange(n_total) - artist_track_start[track_artist]) / n_tracks[track_artist]
    key = p.hit_album_order * position + (1 - p.hit_album_order) * rng.random(n_total)
    order = np.argsort(track_artist + key, kind="stable")
    track_rank = np.empty(n_total, dtype=np.int64)
    track_rank[order] = np.arange(n_total)
    track_rank -= artist_track_start[track_artist]
    # A few hits (a wide flat head only for prolific stars), then a steep tail of deep cuts.
    # Cumulated in rank order, so that the head of an artist is a prefix of its range.
    head = 1.0 + p.track_head * n_tracks[track_artist] ** 1.5
    track_w = (track_rank + head) ** -p.track_zipf
    track_cum = grouped_cum(track_w[order], artist_track_start)
    duration = np.clip(rng.lognormal(np.log(215_000), 0.28, n_total), 30_000, 1_200_000)
    theme_cell_cum = grouped_cum(
        theme_cell.ravel(), np.arange(len(THEMES) + 1) * theme_cell.shape[1]
    )
    stem_start, focus_start, focus = _stem_focus(
        rng, p, theme_cell_cum, len(n_cell), theme_w, artist_cum, cell_start
    )
    # expected share of all draws of each track, for the chart
    artist_total = np.add.reduceat(track_w, artist_track_start[:-1])  # (A,)
    track_share = artist_share[track_artist] * track_w / artist_total[track_artist]
    chart, chart_start, chart_cum = _chart(p, track_share, artist_cell[track_artist], len(n_cell))
    return Catalogue(
        n_cells=len(n_cell),
        theme_cell_cum=theme_cell_cum,
        cell_start=cell_start,
        artist_cum=artist_cum,
        artist_cell=artist_cell,
        related=_related_artists(rng, p, artist_cum, cell_start, artist_cell),
        artist_track_start=artist_track_start,
        track_cum=track_cum,
        rank_track=order.astype(np.int64),
        track_album=track_album,
        album_start=album_start,
        album_artist=album_artist,
        track_duration=duration.astype(np.int32),
        chart=chart,
        chart_start=chart_start,
        chart_cum=chart_cum,
        stem_start=stem_start,
        focus_start=focus_start,
        focus=focus,
    )


def _chart(
    p: SynthParams, track_share: FloatArray, track_cell: IntArray, n_cells: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """The chart: the `chart_size` tracks of highest expected share, weighted by chart rank
    (a flat head: real playlists share thousands of hits at about 1% of playlists each),
    grouped by cell: a playlist draws the hits of the cells its artists come from.

    Returns the tracks (grouped by cell, most popular first), the cell bounds (n_cells + 1,)
    and the grouped cumulative weights.
    """
    size = min(p.chart_size, len(track_share))
    top = np.argpartition(-track_share, size - 1)[:size]
    top = top[np.argsort(-track_share[top], kind="stable")]  # (H,) most popular first
    w = (np.arange(size, dtype=np.float64) + p.chart_r0) ** -p.chart_zipf  # (H,) by rank
    by_cell = np.argsort(track_cell[top], kind="stable")  # rank order kept within a cell
    chart, w = top[by_cell], w[by_cell]
    start = np.searchsorted(track_cell[chart], np.arange(n_cells + 1)).astype(np.int64)
    return chart.astype(np.int64), start, grouped_cum(w, start)


def stem_shares(theme_w: FloatArray) -> FloatArray:
    """(n_stems,) share of all playlists whose primary theme and stem it is (flat stem order,
    before long-tail titles are taken out)."""
    return np.concatenate(
        [
            theme_w[t] * np.asarray(list(th.stems.values())) / sum(th.stems.values())
            for t, th in enumerate(THEMES)
        ]
    )


def _stem_focus(
    rng: np.random.Generator,
    p: SynthParams,
    theme_cell_cum: FloatArray,
    n_cells: int,
    theme_w: FloatArray,
    artist_cum: FloatArray,
    cell_start: IntArray,
) -> tuple[IntArray, IntArray, NDArray[np.int32]]:
    """Each title stem's focus artists, drawn by popularity from its theme's cells.

    A frequent stem ("country") gets many, so its playlists share little beyond the genre; a
    rare one ("bro country") a handful, so its playlists share artists and tracks.
    """
    n_stems = np.asarray([len(th.stems) for th in THEMES])
    stem_start = np.concatenate([[0], np.cumsum(n_stems)]).astype(np.int64)
    size = np.clip(
        np.round(p.focus_scale * np.sqrt(stem_shares(theme_w) * 1e6)), p.focus_min, p.focus_max
    ).astype(np.int64)  # (n_stems,)
    focus_start = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
    theme = np.repeat(np.repeat(np.arange(len(THEMES)), n_stems), size)  # (n_focus,)
    starts = np.arange(len(THEMES) + 1) * n_cells
    cell = grouped_choice(theme_cell_cum, starts, theme, rng.random(len(theme))) - theme * n_cells
    focus = grouped_choice(artist_cum, cell_start, cell, rng.random(len(theme)))
    return stem_start, focus_start, focus.astype(np.int32)


def _related_artists(
    rng: np.random.Generator,
    p: SynthParams,
    artist_cum: FloatArray,
    cell_start: IntArray,
    artist_cell: IntArray,
) -> NDArray[np.int32]:
    """Fixed "scenes": per artist, same-cell artists fans also pick.

    Half are drawn by popularity (fans of a niche artist also like the cell's stars), half are
    neighbours in popularity rank (niche artists go with niche artists).
    """
    n, r = len(artist_cell), p.n_related
    half = r // 2
    cell = np.repeat(artist_cell, half)  # (n * half,)
    by_pop = grouped_choice(artist_cum, cell_start, cell, rng.random(n * half))
    step = rng.geometric(1.0 / p.related_distance, n * (r - half)) * rng.choice(
        [-1, 1], n * (r - half)
    )
    near = np.repeat(np.arange(n), r - half) + step
    cell = np.repeat(artist_cell, r - half)
    near = np.clip(near, cell_start[cell], cell_start[cell + 1] - 1)
    out = np.concatenate([by_pop.reshape(n, half), near.reshape(n, r - half)], axis=1)
    return out.astype(np.int32)  # (n, r)


@lru_cache(maxsize=1)
def cached_catalogue(seed: int, params: SynthParams) -> Catalogue:
    """The last catalogue built stays in memory (~0.2 GB): reruns with the same seed reuse it."""
    return build_catalogue(seed, params)
