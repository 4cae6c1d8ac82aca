"""Synthetic MPD: slices in the real format from a seeded generative model of playlists.

The real MPD cannot be downloaded here, so tests, benchmarks and the default evaluation run on
this. The model (docs/synthetic.md) has a fixed catalogue sized for the full 1M-playlist dataset
(artists in genre x era cells with Zipf popularity and fixed "scenes" of related artists; albums;
tracks with a few hits and many deep cuts). A playlist draws a theme (title vocabulary +
genre/era mixture), a second theme, and anchor artists mostly from one scene, then fills its
tracks with segments (album runs or artist picks) from its anchors, their scenes or its themes.
N playlists are a sample from the same distribution as the full 1M, so the vocabulary grows with
N like a subsample of the real data (sub-linearly).

Everything derives from the seed: same (N, seed) -> byte-identical files. Slices are sampled with
`np.random.default_rng([seed, 1, slice_index])` (the catalogue with `[seed, 0xCA7]`), so the
output does not depend on the worker count, and a full slice k is the same for every N.

    mpd-harness synth --preset default --seed 0 --out data/synthetic/default-s0
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import re
import signal
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from scipy.special import ndtr

from harness.atomic import atomic_dir, atomic_open, write_json
from harness.errors import UsageError

PRESETS: dict[str, int] = {
    "tiny": 2_000,  # tests and `nox -s smoke`
    "default": 50_000,  # `nox -s evaluate`
    "large": 200_000,
    "full": 1_000_000,  # the size of the real MPD
}
SLICE_SIZE = 1_000
# Bump whenever the bytes written for a seed change (tests/test_synthetic.py pins a digest per
# version). `synthetic.json` records it, so `evaluate` regenerates data made by another version.
GENERATOR_VERSION = 2
MARKER = "synthetic.json"
MAX_TRACKS = 250
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
country | 0.0435 | country:0.85 folk:0.05 pop:0.1 | default | 🤠 🐴 🍻 | country:2.42, country music:0.8, classic country:1, new country:0.8, country jams:0.5, country hits:0.4, country summer:0.3, bro country:0.2, country love:0.3
chill | 0.0435 | alt:0.3 rnb:0.25 pop:0.2 edm:0.1 ambient:0.05 folk:0.1 | default | 😌 🌊 ✌️ | chill:2.36, chill vibes:0.8, chillin:1, chill songs:0.6, relax:0.8, mellow:0.4, chill mix:0.4, lazy sunday:0.2
rap | 0.0369 | rap:0.8 rnb:0.12 pop:0.08 | 90s:0.1 00s:0.2 10s:0.7 | 🔥 💯 🎤 | rap:2.48, hip hop:1.2, trap:0.8, rap music:0.6, rap caviar:0.3, hip-hop:0.6, old school rap:0.5, rap 🔥:0.4
workout | 0.0369 | rap:0.35 edm:0.3 pop:0.25 rock:0.1 | new | 💪 🏋️ 🏃 | workout:3.32, gym:1.5, running:1, work out:0.8, lifting:0.6, cardio:0.5, workout mix:0.5, pump up:0.6, run:0.4
oldies | 0.0354 | soul:0.4 rock:0.3 pop:0.3 | old | 🎶 📻 | oldies:2.76, oldies but goodies:1, classics:0.5, motown:0.8, 60s:1, 70s:1.2, golden oldies:0.4
christmas | 0.0348 | holiday:1 | 60s:0.2 70s:0.1 80s:0.1 90s:0.15 00s:0.2 10s:0.25 | 🎄 🎅 ❄️ | christmas:2.76, christmas music:1, christmas songs:1.2, holiday:1, xmas:0.8, christmas playlist:0.5, holiday music:0.4
rock | 0.0298 | rock:0.65 alt:0.2 metal:0.08 punk:0.07 | 80s:0.15 90s:0.25 00s:0.3 10s:0.3 | 🤘 🎸 | rock:1.57, rock music:0.6, alt rock:0.8, hard rock:0.6, rock n roll:0.5, rock and roll:0.3
classic rock | 0.0156 | rock:0.95 soul:0.05 | 60s:0.3 70s:0.45 80s:0.25 | 🎸 | classic rock:0.643, classics:0.5, dad rock:0.5, 70s rock:0.5
party | 0.0268 | pop:0.35 rap:0.3 edm:0.25 latin:0.1 | new | 🎉 🍾 🥳 | party:2.14, pregame:1.2, turn up:0.8, party playlist:0.6, party mix:0.6, party time:0.3, birthday party:0.3
throwback | 0.0256 | pop:0.45 rap:0.3 rnb:0.25 | back | 🙌 ⏪ | throwback:5.62, throwbacks:4.5, 2000s:1.5, 90s:1.5, throwback jams:0.6, old school:1, childhood:0.5, early 2000s:0.4
worship | 0.0220 | christian:1 | default | 🙏 ✝️ | worship:4.16, church:2, praise:1.2, gospel:1.2, christian:1.5, jesus:1, praise and worship:0.5
summer | 0.0213 | pop:0.4 rap:0.2 country:0.15 edm:0.15 reggae:0.1 | new | ☀️ 🌴 🌞 | summer:3.38, summer 2017:2, summer vibes:1.5, beach:1.2, summer 17:0.5, summer 2016:0.8
feels | 0.0203 | alt:0.35 pop:0.3 rnb:0.25 folk:0.1 | default | 💔 😢 ❤️ | feels:4.39, sad:3, sad songs:1.5, love songs:1.2, heartbreak:0.6, in my feels:0.5, love:1
disney | 0.0182 | soundtrack:1 | 80s:0.1 90s:0.3 00s:0.3 10s:0.3 | 🏰 ✨ | disney:3.15, musicals:2, broadway:1.5, disney songs:0.8, soundtracks:0.8, movie soundtracks:0.5
lit | 0.0179 | rap:0.7 edm:0.15 pop:0.15 | new | 🔥 💯 | lit:2.48, lit af:1, turnt:1.2, turn up:0.6, bangers:0.8, hype:0.8
sleep | 0.0153 | ambient:0.5 classical:0.3 folk:0.1 alt:0.1 | default | 😴 🌙 💤 | sleep:5.46, study:5, focus:1.5, calm:1, sleepy:0.6, study music:0.8, relaxing:0.8
edm | 0.0156 | edm:1 | new | 🎧 ⚡ | edm:2.66, house:2, dubstep:1.5, electronic:1.5, festival:0.8, trance:0.4
latin | 0.0156 | latin:1 | default | 💃 🔥 | latin:4.59, reggaeton:4, spanish:3, musica:1.5, bachata:0.8, salsa:0.6, latino:0.8
indie | 0.0156 | alt:0.9 folk:0.1 | default | 🌿 🌻 | indie:3.77, alternative:5, alt:1.5, indie rock:1, indie pop:0.8, indie folk:0.5
rnb | 0.0156 | rnb:0.8 rap:0.1 pop:0.1 | default | 💕 🌹 | r&b:3.13, rnb:3, slow jams:2, bae:1, love:0.8, smooth:0.5
pop | 0.0156 | pop:0.85 edm:0.1 rnb:0.05 | new | 💖 🎀 | pop:1.76, pop hits:1.2, top hits:1.2, today's hits:0.5, top 40:0.6, pop music:0.6
metal | 0.0156 | metal:0.9 rock:0.1 | default | 🤘 💀 | metal:1.84, heavy metal:2, metalcore:1.5, screamo:0.8
jazz | 0.0156 | jazz:0.8 soul:0.2 | 60s:0.3 70s:0.2 80s:0.1 90s:0.1 00s:0.1 10s:0.2 | 🎷 | jazz:1.71, smooth jazz:1.5, blues:2, jazz vibes:0.5
classical | 0.0156 | classical:1 | default | 🎻 🎹 | classical:1.29, piano:1.2, orchestra:0.8, classical music:1
reggae | 0.0156 | reggae:0.9 latin:0.1 | default | 🌴 🇯🇲 | reggae:0.557, island vibes:0.8, roots:0.5
folk | 0.0156 | folk:0.8 country:0.2 | default | ☕ 🌲 | folk:1.41, acoustic:1.5, coffee shop:1, campfire:0.8
emo | 0.0156 | punk:0.7 alt:0.3 | 90s:0.2 00s:0.6 10s:0.2 | 🖤 | emo:2.79, pop punk:4, punk:2, screamo:0.5
kpop | 0.0156 | kpop:1 | new | 💜 | kpop:0.686, k-pop:1, bts:0.6
road trip | 0.0156 | pop:0.3 rock:0.25 country:0.2 rap:0.15 alt:0.1 | default | 🚗 🛣️ | road trip:2.61, car:2, drive:1.5, driving:1.2, car jams:0.8, car songs:0.6
80s | 0.0156 | pop:0.45 rock:0.4 soul:0.15 | 80s:1 | 🕺 📼 | 80s:1.07, 80s music:1, eighties:0.5, 80's:1
mix | 0.3372 | pop:0.28 rap:0.22 rock:0.1 alt:0.1 country:0.08 rnb:0.1 edm:0.07 latin:0.03 soul:0.02 | default | 🎶 🔥 😎 💯 ✨ | jams:5, new:4.6, music:3.9, vibes:3.5, feels:0.5, good vibes:2, my playlist:1.5, favorites:2, songs:1.8, mix:1.8, random:1.5, good music:1.5, liked:1, 2017:1.5, 2016:1, stuff:.8, playlist:1, happy:1.5, fun:1, current:.8, tunes:1, bops:1.2, favs:1, my music:.8, my songs:.8, good songs:1, tbt:.8, mood:1, yes:.4, me:.5, untitled:.5, everything:.6, hits:.8, faves:.8, main:.5, life:.6, now:.7, love:1, fire:.8, goodies:.6, favorite songs:1, best songs:.6, mine:.5, dope:.6, litty:.5, slaps:.5, ayy:.3, lol:.4, idk:.4, ok:.3, pump:.3, car:1, drive:.6, shower:.5, cleaning:.5, work:.8, school:.5, clean:.5, old:.6, oldies but goodies:.3, today:.4, summer jams:.8, good stuff:.6, sing along:.6, sing:.4, bangers:.8, jamz:.5, tunes 2017:.3, my jams:.8, spotify:.4, discover:.3, chill jams:.4, feel good:.8, happy songs:.5, throwback jams:.4, 2015:.6, 2018:.3, fall:.8, winter:.6, spring:.6, october:.4, july:.4
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

# Building blocks of long-tail titles, descriptions and names (all lowercase; cased at render).
_ADJ = (
    "sweet wild golden blue dark bright lazy late early electric lost young old happy sad good "
    "bad crazy quiet loud easy slow fast sunny rainy midnight summer winter autumn spring cool "
    "hot cold little big new true pure lonely broken perfect silver velvet neon cosmic"
).split()
_NOUN = (
    "days nights dreams vibes feelings memories roads waves hearts stars lights skies songs "
    "beats tunes moments hours mornings evenings streets rivers mountains fires stories "
    "thoughts colors tears smiles kisses secrets ghosts angels flowers oceans shadows echoes"
).split()
_FIRST = (
    "sarah emma jake ryan mike alex chris kate anna josh matt emily lauren nick tyler hannah "
    "olivia sam jess ben zoe maddie kayla jordan taylor morgan casey drew max luke grace"
).split()
_LAST = (
    "smith jones miller brown davis wilson moore taylor anderson thomas jackson white harris "
    "martin garcia clark lewis walker hall allen young king wright scott green baker adams "
    "nelson hill campbell mitchell roberts carter phillips evans turner torres parker collins "
    "edwards stewart morris rogers reed cook morgan bell murphy bailey rivera cooper cox ward"
).split()
_WORD = (
    "love night heart fire road dream gold rain wild city moon dance baby girl home light time "
    "life sweet river sky star ocean storm shadow echo ghost angel flower wave summer winter "
    "stone glass silver money kingdom paradise highway hollow thunder lightning sugar honey "
    "diamond crown mirror window garden desert island valley canyon forest tiger wolf eagle "
    "raven fox lion dragon phoenix rebel saint sinner hero stranger lover dreamer runner "
    "hunter king queen prince princess soldier sailor pilot doctor poet rider ocean blossom"
).split()
_PLURAL = (
    "kings wolves lions tigers ghosts angels rebels saints strangers lovers dreamers runners "
    "hunters riders pilots poets sailors soldiers shadows echoes stars waves stones mirrors "
    "brothers sisters boys girls kids giants machines horses ravens foxes eagles dragons"
).split()
_VERB = (
    "take hold keep let lose find feel break call bring leave wait run fall burn shine dance "
    "stay come go love need want tell show drive"
).split()
_PREP = "me you it us her him home back away down up out over".split()
_SUFFIX = (" - remix", " - live", " - acoustic", " (feat. {})", " - radio edit", " - remastered")
_DESC = (
    "my favorite {} songs",
    "{} for every mood",
    "the best {} ever",
    "songs for {}",
    "{} all day",
    "just {}",
    "{} and chill",
    "a little bit of {}",
)
_GENERIC_EMOJI = ("🔥", "🎶", "✨", "💯", "😎", "❤️", "🙌")

# ------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class SynthParams:
    """Generative-model parameters (docs/synthetic.md explains and justifies each)."""

    # catalogue, sized for 1M playlists
    n_artists: int = 800_000
    cell_gamma: float = 1.0  # artists per genre x era cell ∝ usage**gamma
    artist_zipf: float = 1.9  # within-cell artist popularity (rank + artist_r0) ** -artist_zipf
    artist_r0: float = 10.0
    tracks_scale: float = 4.5  # tracks ≈ scale * (expected draws at 1M) ** beta
    tracks_beta: float = 0.5
    max_artist_tracks: int = 1000
    mean_album_tracks: float = 7.0  # geometric album sizes within an artist
    track_zipf: float = 2.1  # within-artist popularity (rank + head) ** -track_zipf, random rank
    hit_album_order: float = 0.9  # 0: hits anywhere; 1: ranked in album order
    track_head: float = 0.0005  # head = 1 + track_head * (tracks of the artist) ** 1.5
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
    p_anchor: float = 0.28  # a segment plays an anchor artist ...
    p_related: float = 0.3  # ... or an artist of an anchor's scene (else a fresh theme artist)
    n_related: int = 8  # scene size per artist
    related_distance: float = 10.0  # mean popularity-rank distance of scene neighbours
    p_scene: float = 0.7  # later anchors come from the first anchor's scene
    p_second_theme: float = 0.6  # a playlist mixes a second theme ...
    second_theme_share: float = 0.25  # ... in about this share of its fresh segments
    p_new_segment: float = 0.8  # mean segment length 1 / p
    p_album_run: float = 0.35  # a segment plays consecutive tracks of one album
    p_keep_duplicate: float = 0.01
    # titles
    p_title_generic: float = 0.04  # a generic ("mix") title on a themed playlist
    p_title_tail: float = 0.25  # a long-tail personal title on a themed playlist ...
    p_title_tail_mix: float = 0.8  # ... and on a "mix" playlist


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


# ------------------------------------------------------------------------------ hashing, URIs

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)


def _mix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """splitmix64 finaliser: a bijection on uint64, so distinct ids give distinct outputs."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _salt(seed: int, kind: int) -> np.uint64:
    s = np.asarray([seed * 8 + kind], dtype=np.uint64)
    return _mix64(_mix64(s))[0]


def _hashes(ids: IntArray, seed: int, kind: int) -> NDArray[np.uint64]:
    """One 64-bit hash per id, distinct for distinct ids (same seed and kind)."""
    return _mix64(ids.astype(np.uint64) ^ _salt(seed, kind))


def _base62(x: NDArray[np.uint64], width: int) -> NDArray[np.uint8]:
    out = np.empty((len(x), width), dtype=np.uint8)  # (n, width)
    for j in range(width - 1, -1, -1):
        out[:, j] = _B62[(x % np.uint64(62)).astype(np.intp)]
        x = x // np.uint64(62)
    return out


def make_uris(kind: str, ids: IntArray, seed: int) -> list[str]:
    """`spotify:<kind>:<22 base-62>` per id; the first 11 characters are unique per id."""
    k = {"track": 1, "artist": 2, "album": 3}[kind]
    h1 = _hashes(ids, seed, k)
    h2 = _mix64(h1 ^ _salt(seed, k + 4))
    chars = np.concatenate([_base62(h1, 11), _base62(h2, 11)], axis=1)  # (n, 22)
    prefix = f"spotify:{kind}:"
    return [prefix + s.decode() for s in chars.view("S22").ravel()]


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
    track_cum: FloatArray  # (n_tracks,) artist + cum share within the artist
    track_album: NDArray[np.int32]  # (n_tracks,)
    album_start: IntArray  # (n_albums + 1,) tracks of an album
    album_artist: NDArray[np.int32]  # (n_albums,)
    track_duration: NDArray[np.int32]  # (n_tracks,) ms

    @property
    def n_artists(self) -> int:
        return len(self.artist_cell)

    @property
    def n_tracks(self) -> int:
        return len(self.track_album)

    @property
    def n_albums(self) -> int:
        return len(self.album_artist)

    @property
    def track_artist(self) -> NDArray[np.int32]:
        return self.album_artist[self.track_album]


def _theme_cells() -> tuple[FloatArray, FloatArray]:
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


def _grouped_cum(weights: FloatArray, starts: IntArray) -> FloatArray:
    """group index + cumulative normalised weight within each group (groups contiguous)."""
    sizes = np.diff(starts)
    group = np.repeat(np.arange(len(sizes)), sizes)
    totals = np.add.reduceat(weights, starts[:-1])  # groups must not be empty
    cs = np.cumsum(weights)
    before = np.concatenate([[0.0], cs])[starts[:-1]]
    return group + (cs - np.repeat(before, sizes)) / np.repeat(totals, sizes)


def _grouped_choice(cum: FloatArray, starts: IntArray, group: IntArray, u: FloatArray) -> IntArray:
    """Index within the flat array of an item of `group`, drawn with the grouped weights."""
    i = np.searchsorted(cum, group + u, side="right")
    return np.clip(i, starts[group], starts[group + 1] - 1)


def build_catalogue(seed: int, p: SynthParams) -> Catalogue:
    """The fixed catalogue of a seed (same for every N: N playlists subsample the full 1M)."""
    rng = np.random.default_rng([seed, 0xCA7])
    theme_cell, theme_w = _theme_cells()
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
    artist_cum = _grouped_cum(artist_w, cell_start)
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
    head = 1.0 + p.track_head * n_tracks[track_artist] ** 1.5
    track_w = (track_rank + head) ** -p.track_zipf
    track_cum = _grouped_cum(track_w, artist_track_start)
    duration = np.clip(rng.lognormal(np.log(215_000), 0.28, n_total), 30_000, 1_200_000)
    return Catalogue(
        n_cells=len(n_cell),
        theme_cell_cum=_grouped_cum(
            theme_cell.ravel(), np.arange(len(THEMES) + 1) * theme_cell.shape[1]
        ),
        cell_start=cell_start,
        artist_cum=artist_cum,
        artist_cell=artist_cell,
        related=_related_artists(rng, p, artist_cum, cell_start, artist_cell),
        artist_track_start=artist_track_start,
        track_cum=track_cum,
        track_album=track_album,
        album_start=album_start,
        album_artist=album_artist,
        track_duration=duration.astype(np.int32),
    )


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
    by_pop = _grouped_choice(artist_cum, cell_start, cell, rng.random(n * half))
    step = rng.geometric(1.0 / p.related_distance, n * (r - half)) * rng.choice(
        [-1, 1], n * (r - half)
    )
    near = np.repeat(np.arange(n), r - half) + step
    cell = np.repeat(artist_cell, r - half)
    near = np.clip(near, cell_start[cell], cell_start[cell + 1] - 1)
    out = np.concatenate([by_pop.reshape(n, half), near.reshape(n, r - half)], axis=1)
    return out.astype(np.int32)  # (n, r)


@lru_cache(maxsize=1)
def _cached_catalogue(seed: int, params: SynthParams) -> Catalogue:
    """The last catalogue built stays in memory (~0.2 GB): reruns with the same seed reuse it."""
    return build_catalogue(seed, params)


# ------------------------------------------------------------------------------ names


def _pick(words: list[str], h: NDArray[np.uint64], shift: int) -> list[str]:
    """A word per hash, from bits `shift`.. of the hash."""
    idx = ((h >> np.uint64(shift)) % np.uint64(len(words))).astype(np.intp)
    return [words[i] for i in idx]


def _cap(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))


_XMAS = "christmas snow winter santa sleigh bells holly mistletoe jingle reindeer".split()


def artist_names(ids: IntArray, genres: IntArray, seed: int) -> list[str]:
    """Deterministic artist names; rap and edm artists get their genre's naming habits."""
    h = _hashes(ids, seed, 5)
    pat = (h % np.uint64(8)).astype(np.intp)
    a, b, c = _pick(_FIRST, h, 8), _pick(_LAST, h, 20), _pick(_WORD, h, 32)
    pl = _pick(_PLURAL, h, 44)
    rap, edm = GENRES.index("rap"), GENRES.index("edm")
    out = []
    for i in range(len(ids)):
        k, g = pat[i], genres[i]
        if g == rap and k < 3:
            s = ("Lil ", "Young ", "")[k] + (c[i].capitalize() if k < 2 else c[i].upper())
        elif g == edm and k < 3:
            s = ("DJ " + c[i].capitalize(), c[i].capitalize() + b[i], _cap(f"{c[i]} & {pl[i]}"))[k]
        elif k < 4:
            s = _cap(f"{a[i]} {b[i]}")
        elif k < 6:
            s = _cap(f"the {pl[i]}")
        elif k == 6:
            s = _cap(f"{c[i]} {pl[i]}")
        else:
            s = c[i].capitalize()
        out.append(s)
    return out


def track_names(ids: IntArray, genres: IntArray, seed: int) -> list[str]:
    """Deterministic track names, some with a remix/live/feat. suffix."""
    h = _hashes(ids, seed, 6)
    pat = (h % np.uint64(6)).astype(np.intp)
    adj, noun, word = _pick(_ADJ, h, 8), _pick(_NOUN, h, 16), _pick(_WORD, h, 24)
    verb, prep, xmas = _pick(_VERB, h, 32), _pick(_PREP, h, 40), _pick(_XMAS, h, 16)
    suf = ((h >> np.uint64(48)) % np.uint64(64)).astype(np.intp)
    feat_first, feat_last = _pick(_FIRST, h, 54), _pick(_LAST, h, 58)
    holiday = GENRES.index("holiday")
    out = []
    for i in range(len(ids)):
        k = pat[i]
        if genres[i] == holiday:
            s = _cap(f"{adj[i]} {xmas[i]}")
        elif k < 2:
            s = word[i].capitalize()
        elif k < 4:
            s = _cap(f"{adj[i]} {noun[i]}")
        elif k == 4:
            s = _cap(f"{verb[i]} {prep[i]}")
        else:
            s = _cap(f"{verb[i]} {prep[i]} {word[i]}")
        if suf[i] < len(_SUFFIX):
            s += _SUFFIX[suf[i]].format(_cap(f"{feat_first[i]} {feat_last[i]}"))
        out.append(s)
    return out


def album_names(ids: IntArray, single_track: list[str | None], seed: int) -> list[str]:
    """Deterministic album names; a one-track album (a single) is named after its track."""
    h = _hashes(ids, seed, 7)
    pat = (h % np.uint64(8)).astype(np.intp)
    adj, noun, word = _pick(_ADJ, h, 8), _pick(_NOUN, h, 16), _pick(_WORD, h, 24)
    vol = ((h >> np.uint64(40)) % np.uint64(5)).astype(np.intp) + 1
    out = []
    for i in range(len(ids)):
        single = single_track[i]
        k = pat[i]
        if single is not None:
            s = single
        elif k < 3:
            s = _cap(f"{adj[i]} {noun[i]}")
        elif k < 5:
            s = word[i].capitalize()
        elif k == 5:
            s = _cap(f"{word[i]} (deluxe edition)")
        elif k == 6:
            s = _cap(f"the {word[i]} sessions")
        else:
            s = _cap(f"{noun[i]}, vol. {vol[i]}")
        out.append(s)
    return out


# ------------------------------------------------------------------------------ titles


def _variant(stem: str, emoji: tuple[str, ...], u: FloatArray) -> str:
    """A raw title from a normalised stem: case and decorations that normalisation removes."""
    c = u[0]
    s = (
        stem
        if c < 0.5
        else _cap(stem)
        if c < 0.8
        else stem.upper()
        if c < 0.9
        else stem.capitalize()
    )
    d = u[1]
    pool = emoji or _GENERIC_EMOJI
    if d < 0.10:
        s += " " + pool[int(u[2] * len(pool))]
    elif d < 0.13:
        s += "!"
    elif d < 0.15:
        s += "!!"
    elif d < 0.17:
        s += "..."
    elif d < 0.18:
        s += " :)"
    elif d < 0.19:
        s = f"~{s}~"
    return s


def _tail_title(theme: Theme, u: FloatArray) -> str:
    """A long-tail personal title (combinatorial, so unique titles keep growing with N)."""

    def w(words: list[str] | tuple[str, ...], x: float) -> str:
        return words[int(x * len(words))]

    k = int(u[0] * 8)
    first_stem = next(iter(theme.stems))
    if k == 0:
        return f"{w(_ADJ, u[1])} {w(_NOUN, u[2])}"
    if k == 1:
        return f"{w(_FIRST, u[1])}'s playlist" if u[2] < 0.5 else w(_FIRST, u[1])
    if k == 2:
        return f"{first_stem} {w(_NOUN, u[1])}"
    if k == 3:
        return f"{w(_NOUN, u[1])} {2010 + int(u[2] * 8)}"
    if k == 4:
        return w(_WORD, u[1])
    if k == 5:
        return f"{w(_ADJ, u[1])} {first_stem}"
    if k == 6:
        return f"{w(_FIRST, u[1])} & {w(_FIRST, u[2])}"
    return f"{w(_WORD, u[1])} {w(_WORD, u[2])}"


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
        _, self._theme_w = _theme_cells()
        self._stems = [
            (list(t.stems), np.cumsum(list(t.stems.values())) / sum(t.stems.values()))
            for t in THEMES
        ]
        self._mix = [t.key for t in THEMES].index("mix")

    @property
    def catalogue(self) -> Catalogue:
        return _cached_catalogue(self.seed, self.params)

    # ---------------------------------------------------------------- artists and tracks

    def _artists(self, rng: np.random.Generator, themes: IntArray) -> IntArray:
        """An artist per theme: a cell from P(cell | theme), then Zipf within the cell."""
        cat = self.catalogue
        starts = np.arange(len(THEMES) + 1) * cat.n_cells
        cell = _grouped_choice(cat.theme_cell_cum, starts, themes, rng.random(len(themes)))
        cell = cell - themes * cat.n_cells
        return _grouped_choice(cat.artist_cum, cat.cell_start, cell, rng.random(len(themes)))

    def _tracks(self, rng: np.random.Generator, artists: IntArray) -> IntArray:
        """A track per artist, by popularity within the artist."""
        cat = self.catalogue
        return _grouped_choice(
            cat.track_cum, cat.artist_track_start, artists, rng.random(len(artists))
        )

    def _candidates(
        self,
        rng: np.random.Generator,
        th1: IntArray,
        th2: IntArray,
        eta: FloatArray,
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
        # anchors: a few artists the playlist keeps coming back to
        n_anchor = np.minimum(1 + rng.poisson(lengths / p.anchor_per_tracks), p.max_anchors)
        anchor_start = np.concatenate([[0], np.cumsum(n_anchor)])
        # the first anchor comes from the theme, most others from its scene
        anchors = self._artists(rng, np.repeat(th1, n_anchor))
        owner = np.repeat(anchor_start[:-1], n_anchor)  # (n_anchors,) index of the first
        scene = cat.related[anchors[owner], rng.integers(0, p.n_related, len(anchors))]
        from_scene = (np.arange(len(anchors)) != owner) & (rng.random(len(anchors)) < p.p_scene)
        anchors = np.where(from_scene, scene, anchors)
        pick = (n_anchor[seg_pl] * rng.random(n_seg) ** 2).astype(np.int64)  # favour the first
        seg_theme = np.where(rng.random(n_seg) < eta[seg_pl], th2[seg_pl], th1[seg_pl])
        fresh = self._artists(rng, seg_theme)
        anchor = anchors[anchor_start[seg_pl] + pick]
        related = cat.related[anchor, rng.integers(0, p.n_related, n_seg)]
        r = rng.random(n_seg)
        seg_artist = np.where(
            r < p.p_anchor, anchor, np.where(r < p.p_anchor + p.p_related, related, fresh)
        )
        album_run = rng.random(n_seg) < p.p_album_run
        # per candidate: a popularity draw, or the next track of the segment's album
        pop = self._tracks(rng, seg_artist[seg_of])
        t0 = pop[seg_first]  # (n_seg,)
        a0 = cat.album_start[cat.track_album[t0]]
        alen = cat.album_start[cat.track_album[t0] + 1] - a0
        j = np.arange(total) - seg_first[seg_of]
        run = a0[seg_of] + (t0[seg_of] - a0[seg_of] + j) % alen[seg_of]
        return pl, np.where(album_run[seg_of], run, pop)

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

    def _fill(
        self,
        rng: np.random.Generator,
        th1: IntArray,
        th2: IntArray,
        eta: FloatArray,
        lengths: IntArray,
    ) -> IntArray:
        """Tracks of every playlist (concatenated in order); resamples the few that fail."""
        pending = np.arange(len(lengths))
        parts_pl, parts_track = [], []
        factor = 1.5
        for _ in range(40):
            if not len(pending):
                break
            pl, track = self._candidates(
                rng, th1[pending], th2[pending], eta[pending], lengths[pending], factor
            )
            idx, ok = self._select(rng, pl, track, lengths[pending])
            good = ok[pl[idx]]
            parts_pl.append(pending[pl[idx][good]])
            parts_track.append(track[idx][good])
            pending = pending[~ok]
            factor *= 1.5
        if len(pending):
            raise RuntimeError(f"synthetic: could not fill {len(pending)} playlists")
        pls = np.concatenate(parts_pl)
        order = np.argsort(pls, kind="stable")  # each playlist comes from one round, in order
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
        tracks = self._fill(rng, th1, th2, eta, lengths)
        names, descriptions = self._titles(rng, th1)
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

    def _titles(
        self, rng: np.random.Generator, themes: IntArray
    ) -> tuple[list[str], list[str | None]]:
        """Raw titles (theme stem, generic stem or long-tail) and the rare descriptions."""
        p = self.params
        n = len(themes)
        u = rng.random((n, 8))  # (n, 8) uniforms per playlist
        has_desc = rng.random(n) < p.p_description
        names: list[str] = []
        descriptions: list[str | None] = []
        for i in range(n):
            theme = THEMES[themes[i]]
            r = u[i, 0]
            p_tail = p.p_title_tail_mix if themes[i] == self._mix else p.p_title_tail
            if r < p_tail:
                stem = _tail_title(theme, u[i, 1:4])
            else:
                words, cum = self._stems[self._mix if r < p_tail + p.p_title_generic else themes[i]]  # noqa: E501
                stem = words[min(int(np.searchsorted(cum, u[i, 4], side="right")), len(words) - 1)]
            names.append(_variant(stem, theme.emoji, u[i, 5:8]))
            desc = None
            if has_desc[i]:
                tpl = _DESC[int(u[i, 1] * len(_DESC))]
                desc = tpl.format(next(iter(theme.stems)))
                if u[i, 2] < 0.3:
                    desc += " " + (theme.emoji or _GENERIC_EMOJI)[0]
            descriptions.append(desc)
        return names, descriptions

    # ---------------------------------------------------------------- JSON

    def generated_on(self, index: int) -> str:
        """A timestamp derived from the seed, a little later for each slice."""
        h = int(_hashes(np.asarray([index]), self.seed, 0)[0])
        base = dt.datetime(2017, 12, 3, 8, 41, 42) + dt.timedelta(
            seconds=int(_salt(self.seed, 0) % np.uint64(30 * 86_400))
        )  # noqa: E501
        t = base + dt.timedelta(seconds=index * 2, microseconds=h % 1_000_000)
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")

    def render_slice(self, index: int, s: SliceSample) -> bytes:
        """The slice file's bytes: the real schema and key order (compact JSON)."""
        cat = self.catalogue
        n = len(s.names)
        uniq, inv = np.unique(s.tracks, return_inverse=True)
        t_art = cat.track_artist[uniq].astype(np.int64)
        t_alb = cat.track_album[uniq].astype(np.int64)
        genres = cat.artist_cell[t_art] // len(ERAS)
        t_names = track_names(uniq, genres, self.seed)
        t_uris = make_uris("track", uniq, self.seed)
        ua, a_inv = np.unique(t_art, return_inverse=True)
        a_names = artist_names(ua, cat.artist_cell[ua] // len(ERAS), self.seed)
        a_uris = make_uris("artist", ua, self.seed)
        ub, b_inv = np.unique(t_alb, return_inverse=True)
        single_of = {int(b): t_names[i] for i, b in enumerate(t_alb) if _album_len(cat, b) == 1}
        b_names = album_names(ub, [single_of.get(int(b)) for b in ub], self.seed)
        b_uris = make_uris("album", ub, self.seed)
        dur = cat.track_duration[uniq].tolist()
        # Each distinct track object is serialised once, without its "pos" (the first key).
        bodies = [
            orjson.dumps(
                {
                    "artist_name": a_names[a_inv[i]],
                    "track_uri": t_uris[i],
                    "artist_uri": a_uris[a_inv[i]],
                    "track_name": t_names[i],
                    "album_uri": b_uris[b_inv[i]],
                    "duration_ms": dur[i],
                    "album_name": b_names[b_inv[i]],
                }
            )[1:]
            for i in range(len(uniq))
        ]
        # per playlist counts over the occurrences
        pl = np.repeat(np.arange(n), np.diff(s.offsets))
        occ_art = a_inv[inv].astype(np.int64)
        occ_alb = b_inv[inv].astype(np.int64)
        n_art = np.bincount(np.unique(pl * len(ua) + occ_art) // len(ua), minlength=n)
        n_alb = np.bincount(np.unique(pl * len(ub) + occ_alb) // len(ub), minlength=n)
        durations = np.add.reduceat(cat.track_duration[s.tracks].astype(np.int64), s.offsets[:-1])
        inv_list = inv.tolist()
        playlists = []
        for i in range(n):
            lo, hi = int(s.offsets[i]), int(s.offsets[i + 1])
            head = {
                "name": s.names[i],
                "collaborative": "true" if s.collaborative[i] else "false",
                "pid": s.first_pid + i,
                "modified_at": int(s.modified_at[i]),
                "num_tracks": hi - lo,
                "num_albums": int(n_alb[i]),
                "num_followers": int(s.num_followers[i]),
            }
            tail: dict[str, Any] = {
                "num_edits": int(s.num_edits[i]),
                "duration_ms": int(durations[i]),
                "num_artists": int(n_art[i]),
            }
            if s.descriptions[i] is not None:
                tail["description"] = s.descriptions[i]
            tracks = b",".join(
                b'{"pos":%d,%s' % (pos, bodies[k]) for pos, k in enumerate(inv_list[lo:hi])
            )
            playlists.append(
                orjson.dumps(head)[:-1] + b',"tracks":[' + tracks + b"]," + orjson.dumps(tail)[1:]
            )
        first, last = s.first_pid, s.first_pid + n - 1
        info = {
            "generated_on": self.generated_on(index),
            "slice": f"{first}-{last}",
            "version": "v1",
            "synthetic": True,
            "synthetic_seed": self.seed,
        }
        # the same bytes as orjson.dumps of the whole object (tests check the round trip)
        return b'{"info":%s,"playlists":[%s]}\n' % (orjson.dumps(info), b",".join(playlists))


def _album_len(cat: Catalogue, album: int) -> int:
    return int(cat.album_start[album + 1] - cat.album_start[album])


# ------------------------------------------------------------------------------ writing


def slice_name(first_pid: int, n: int) -> str:
    return f"mpd.slice.{first_pid}-{first_pid + n - 1}.json"


def _slice_sizes(n_playlists: int) -> list[int]:
    full, rest = divmod(n_playlists, SLICE_SIZE)
    return [SLICE_SIZE] * full + ([rest] if rest else [])


_WORKER: SyntheticMPD | None = None


def _init_worker(seed: int, params: SynthParams) -> None:
    global _WORKER
    _WORKER = SyntheticMPD(seed, params)


def _init_pool_worker(seed: int, params: SynthParams) -> None:
    """A pool worker leaves Ctrl-C to the parent, which stops the pool (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(seed, params)


def _write_one(task: tuple[str, int, int]) -> str:
    """Sample, render and atomically write one slice (runs in a worker or in-process)."""
    out_dir, index, n = task
    gen = _WORKER
    assert gen is not None
    path = Path(out_dir) / slice_name(index * SLICE_SIZE, n)
    data = gen.render_slice(index, gen.sample_slice(index, n))
    with atomic_open(path, "wb") as f:
        f.write(data)
    return str(path)


def write_synthetic(
    out_dir: str | os.PathLike[str],
    n_playlists: int,
    seed: int = 0,
    *,
    workers: int | None = None,
    params: SynthParams | None = None,
) -> list[Path]:
    """Write `n_playlists` synthetic playlists as MPD slices into `out_dir`; return the paths.

    Slices are written one at a time (bounded memory), each atomically. `out_dir` may exist but
    must not hold other `mpd.slice.*.json` files (they would mix into the corpus).
    """
    if n_playlists < 1:
        raise UsageError(f"--playlists {n_playlists}: must be >= 1")
    params = params or SynthParams()
    out = Path(out_dir)
    sizes = _slice_sizes(n_playlists)
    names = [slice_name(i * SLICE_SIZE, n) for i, n in enumerate(sizes)]
    if out.is_dir():
        stale = sorted({p.name for p in out.glob("mpd.slice.*.json")} - set(names))
        if stale:
            raise UsageError(
                f"{out}: holds other MPD slices ({stale[0]}, ... {len(stale)} files); "
                "choose an empty folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    # the marker says "complete": drop an old one before the first slice changes, so a run
    # killed half-way leaves a folder that reads as incomplete, not as the earlier data
    (out / MARKER).unlink(missing_ok=True)
    tasks = [(str(out), i, n) for i, n in enumerate(sizes)]
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    if workers <= 1 or len(tasks) < 4:
        _init_worker(seed, params)
        paths = [_write_one(t) for t in tasks]
    else:
        ctx = multiprocessing.get_context("spawn")
        # Pool, not ProcessPoolExecutor: leaving the block on Ctrl-C terminates the workers
        # instead of waiting for every queued slice.
        with ctx.Pool(workers, initializer=_init_pool_worker, initargs=(seed, params)) as pool:
            paths = pool.map(_write_one, tasks, chunksize=1)
    write_json(out / MARKER, marker(n_playlists, seed, params))  # last: only complete output
    return [Path(p) for p in paths]


def marker(n_playlists: int, seed: int, params: SynthParams | None = None) -> dict[str, Any]:
    """What `synthetic.json` says about a folder that `write_synthetic` completed."""
    return {
        "generator_version": GENERATOR_VERSION,
        "playlists": n_playlists,
        "seed": seed,
        "params": asdict(params or SynthParams()),
    }


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The folder's `synthetic.json`, or None when absent or unreadable (treated as stale)."""
    try:
        doc = orjson.loads((folder / MARKER).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def iter_samples(
    n_playlists: int, seed: int = 0, params: SynthParams | None = None
) -> Iterator[SliceSample]:
    """The sampled slices without names or JSON (for statistics at sizes not worth writing)."""
    gen = SyntheticMPD(seed, params)
    for i, n in enumerate(_slice_sizes(n_playlists)):
        yield gen.sample_slice(i, n)


# ------------------------------------------------------------------------------ command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--playlists", type=int, help="number of playlists")
    size.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="named size: " + ", ".join(f"{k}={v:,}" for k, v in PRESETS.items()),
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default data/synthetic/<preset or N>-s<seed>)"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes (default min(2, CPUs))"
    )


def run(args: argparse.Namespace) -> int:
    if args.playlists is None:
        preset = args.preset or "default"
        n, label = PRESETS[preset], preset
    else:
        n, label = args.playlists, str(args.playlists)
    out = args.out or Path("data/synthetic") / f"{label}-s{args.seed}"
    if out.exists():  # each slice atomically, synthetic.json last
        paths = write_synthetic(out, n, args.seed, workers=args.workers)
    else:  # the whole folder appears at once: a killed run leaves nothing that looks like an MPD
        with atomic_dir(out) as tmp:
            names = [p.name for p in write_synthetic(tmp, n, args.seed, workers=args.workers)]
        paths = [out / name for name in names]
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {n:,} synthetic playlists in {len(paths)} slices to {out} ({size / 1e6:,.1f} MB)")
    return 0


# ------------------------------------------------------------------------------ measuring

# Figures of the official stats.txt for the real 1M playlists (mpd-facts §1).
PUBLISHED: dict[str, Any] = {
    "playlists": 1_000_000,
    "track_occurrences": 66_346_428,
    "unique_tracks": 2_262_292,
    "unique_albums": 734_684,
    "unique_artists": 295_860,
    "unique_titles": 92_944,
    "unique_normalized_titles": 17_381,
    "description_share": 18_760 / 1e6,
    "mean_length": 66.346428,
    "length_mode": 20,
    "followers_1_share": 754_219 / 1e6,
    "edits_2_share": 92_252 / 1e6,
    "top_track_playlist_share": 46_574 / 1e6,
    "top_artist_occurrences_per_1m": 847_160,
    "top20_artist_occurrences_per_1m": [
        847160, 413297, 353624, 339570, 316603, 294667, 272116, 250734, 243119, 241560,
        230857, 223509, 212772, 203047, 198905, 197855, 195907, 192478, 187029, 185520,
    ],
    "top_titles": [
        "country", "chill", "rap", "workout", "oldies", "christmas", "rock", "party", "throwback",
        "jams", "worship", "summer", "feels", "new", "disney", "lit", "throwbacks", "music",
        "sleep", "vibes",
    ],
}  # fmt: skip

_URI_RE = {k: re.compile(rf"spotify:{k}:[0-9A-Za-z]{{22}}") for k in ("track", "artist", "album")}
_MIN_TS = int(dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc).timestamp())
_MAX_TS = int(dt.datetime(2017, 11, 1, tzinfo=dt.timezone.utc).timestamp())
PLAYLIST_KEYS = (
    "name", "collaborative", "pid", "modified_at", "num_tracks", "num_albums", "num_followers",
    "tracks", "num_edits", "duration_ms", "num_artists",
)  # fmt: skip
TRACK_KEYS = (
    "pos", "artist_name", "track_uri", "artist_uri", "track_name", "album_uri", "duration_ms",
    "album_name",
)  # fmt: skip


def _uri_ok(uri: Any, kind: str) -> bool:
    return isinstance(uri, str) and _URI_RE[kind].fullmatch(uri) is not None


def check_playlist(p: dict[str, Any]) -> list[str]:
    """Violations of the dataset's rules (check.py and the sampling rules) by one playlist."""
    errs = []
    keys = tuple(k for k in p if k != "description")
    if keys != PLAYLIST_KEYS:
        errs.append(f"keys {keys}")
    tracks = p.get("tracks", [])
    n = len(tracks)
    if not MIN_TRACKS <= n <= MAX_TRACKS:
        errs.append(f"{n} tracks")
    if p.get("num_tracks") != n:
        errs.append("num_tracks")
    artists = {t["artist_uri"] for t in tracks}
    albums = {t["album_uri"] for t in tracks}
    if p.get("num_artists") != len(artists) or len(artists) < 3:
        errs.append("num_artists")
    if p.get("num_albums") != len(albums) or len(albums) < 2:
        errs.append("num_albums")
    if p.get("duration_ms") != sum(t["duration_ms"] for t in tracks):
        errs.append("duration_ms")
    if not (isinstance(p.get("num_followers"), int) and p["num_followers"] >= 1):
        errs.append("num_followers")
    if not (isinstance(p.get("num_edits"), int) and p["num_edits"] >= 1):
        errs.append("num_edits")
    if p.get("collaborative") not in ("true", "false"):
        errs.append("collaborative")
    if not (isinstance(p.get("name"), str) and p["name"].strip()):
        errs.append("name")
    m = p.get("modified_at")
    if not (isinstance(m, int) and _MIN_TS <= m <= _MAX_TS and m % 86_400 == 0):
        errs.append("modified_at")
    for i, t in enumerate(tracks):
        if tuple(t) != TRACK_KEYS:
            errs.append(f"track {i} keys")
        if t.get("pos") != i:
            errs.append(f"track {i} pos")
        for kind in ("track", "artist", "album"):
            if not _uri_ok(t.get(f"{kind}_uri"), kind):
                errs.append(f"track {i} {kind}_uri")
        if not (isinstance(t.get("duration_ms"), int) and t["duration_ms"] > 0):
            errs.append(f"track {i} duration_ms")
    return errs


def measure_slices(paths: list[Path]) -> dict[str, Any]:
    """Statistics of written slices, named like PUBLISHED, plus rule violations.

    Reads every file (streaming, one at a time); URIs are checked to carry one name each.
    """
    from collections import Counter

    from harness.data.corpus import normalize_name

    lengths: list[int] = []
    followers: Counter[int] = Counter()
    edits: Counter[int] = Counter()
    days: Counter[int] = Counter()
    titles: Counter[str] = Counter()
    norm_titles: Counter[str] = Counter()
    track_occ: Counter[str] = Counter()
    track_pl: Counter[str] = Counter()
    artist_occ: Counter[str] = Counter()
    names: dict[str, str] = {}
    albums: set[str] = set()
    n_desc = n_collab = n_artists_sum = n_albums_sum = 0
    violations: list[str] = []
    name_conflicts = 0
    for path in paths:
        for p in orjson.loads(Path(path).read_bytes())["playlists"]:
            for e in check_playlist(p):
                violations.append(f"{Path(path).name}: pid {p.get('pid')}: {e}")
            tracks = p["tracks"]
            lengths.append(len(tracks))
            followers[p["num_followers"]] += 1
            edits[p["num_edits"]] += 1
            days[p["modified_at"] // 86_400] += 1
            titles[p["name"]] += 1
            norm_titles[normalize_name(p["name"])] += 1
            n_desc += "description" in p
            n_collab += p["collaborative"] == "true"
            n_artists_sum += p["num_artists"]
            n_albums_sum += p["num_albums"]
            seen = set()
            for t in tracks:
                uri = t["track_uri"]
                track_occ[uri] += 1
                seen.add(uri)
                artist_occ[t["artist_uri"]] += 1
                albums.add(t["album_uri"])
                for key, name in ((uri, t["track_name"]), (t["artist_uri"], t["artist_name"])):
                    if names.setdefault(key, name) != name:
                        name_conflicts += 1
                if names.setdefault(t["album_uri"], t["album_name"]) != t["album_name"]:
                    name_conflicts += 1
            track_pl.update(seen)
    n = len(lengths)
    occ = int(sum(lengths))
    scale = 1e6 * PUBLISHED["mean_length"] / occ  # occurrences per 1M playlists
    length_counts = Counter(lengths)
    occ_counts = Counter(track_occ.values())
    top_days = [
        (dt.date(1970, 1, 1) + dt.timedelta(days=d)).isoformat() for d, _ in days.most_common(20)
    ]
    return {
        "playlists": n,
        "track_occurrences": occ,
        "unique_tracks": len(track_occ),
        "unique_albums": len(albums),
        "unique_artists": len(artist_occ),
        "unique_titles": len(titles),
        "unique_normalized_titles": len(norm_titles),
        "description_share": n_desc / n,
        "collaborative_share": n_collab / n,
        "mean_length": occ / n,
        "length_mode": length_counts.most_common(1)[0][0],
        "length_min": min(lengths),
        "length_max": max(lengths),
        "top20_lengths": [k for k, _ in length_counts.most_common(20)],
        "mean_artists_per_playlist": n_artists_sum / n,
        "mean_albums_per_playlist": n_albums_sum / n,
        "followers_1_share": followers[1] / n,
        "followers_top10": [(k, v / n) for k, v in sorted(followers.items())[:10]],
        "edits_2_share": edits[2] / n,
        "edits_top20": [k for k, _ in edits.most_common(20)],
        "top_modified_days": top_days,
        "top_track_playlist_share": max(track_pl.values()) / n,
        "tracks_once_share": occ_counts[1] / len(track_occ),
        "tracks_twice_share": occ_counts[2] / len(track_occ),
        "top_artist_occurrences_per_1m": round(max(artist_occ.values()) * scale),
        "top20_artist_occurrences_per_1m": [
            round(v * scale) for _, v in artist_occ.most_common(20)
        ],
        "top_titles": [t for t, _ in norm_titles.most_common(20)],
        "top_titles_per_1m": [(t, round(c * 1e6 / n)) for t, c in norm_titles.most_common(20)],
        "raw_variants_example": [t for t in titles if normalize_name(t) == "country"][:8],
        "name_conflicts": name_conflicts,
        "violations": len(violations),
        "violation_examples": violations[:5],
    }
