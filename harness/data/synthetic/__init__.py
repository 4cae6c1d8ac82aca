"""Synthetic MPD: slices in the real format from a seeded generative model of playlists.

The real MPD cannot be downloaded here, so tests, benchmarks and the default evaluation run on
this. The model (docs/synthetic.md) has a fixed catalogue sized for the full 1M-playlist dataset
(artists in genre x era cells with Zipf popularity, one superstar, and fixed "scenes" of related
artists; albums; tracks with a few hits and many deep cuts; a chart of the most popular tracks
with a flat head; a few focus artists per title stem). A playlist draws a theme (title
vocabulary + genre/era mixture), a title stem, a second theme, whether it is mainstream (drawing
from the heads of the popularity distributions and the chart) or niche (deep cuts too), and
anchor artists (the stem's focus artists, else mostly one scene), then fills its tracks with
segments (album runs, artist picks, chart hits) from its anchors, their scenes or its themes.
N playlists are a sample from the same distribution as the full 1M, so the vocabulary grows with
N like a subsample of the real data (sub-linearly).

Everything derives from the seed: same (N, seed) -> byte-identical files. Slices are sampled with
`np.random.default_rng([seed, 1, slice_index])` (the catalogue with `[seed, 0xCA7]`), so the
output does not depend on the worker count, and a full slice k is the same for every N.

    mpd-harness synth --preset default --seed 0 --out data/synthetic/default-s0

The package: `catalogue` (themes, parameters, the per-seed catalogue), `names` (URIs and names
from hashes, playlist titles), `sampler` (`SyntheticMPD`: the playlists of a slice), `writer`
(slice JSON, `write_synthetic`, the `synthetic.json` marker), `measure` (statistics of written
slices vs the published figures), `fidelity` (how playlists behave: concentration, title
signal, vocabulary growth).
"""

from harness.data.synthetic.catalogue import (
    MAX_TRACKS,
    MIN_TRACKS,
    THEMES,
    Catalogue,
    SynthParams,
    build_catalogue,
)
from harness.data.synthetic.measure import PUBLISHED, check_playlist, measure_slices
from harness.data.synthetic.names import album_names, artist_names, make_uris, track_names
from harness.data.synthetic.sampler import (
    SLICE_SIZE,
    SliceSample,
    SyntheticMPD,
    edits_pmf,
    followers_pmf,
    length_pmf,
    modified_pmf,
)
from harness.data.synthetic.writer import (
    GENERATOR_VERSION,
    MARKER,
    PRESETS,
    iter_samples,
    marker,
    read_marker,
    render_slice,
    slice_name,
    synthesize,
    write_synthetic,
)

__all__ = [
    "GENERATOR_VERSION",
    "MARKER",
    "MAX_TRACKS",
    "MIN_TRACKS",
    "PRESETS",
    "PUBLISHED",
    "SLICE_SIZE",
    "THEMES",
    "Catalogue",
    "SliceSample",
    "SynthParams",
    "SyntheticMPD",
    "album_names",
    "artist_names",
    "build_catalogue",
    "check_playlist",
    "edits_pmf",
    "followers_pmf",
    "iter_samples",
    "length_pmf",
    "make_uris",
    "marker",
    "measure_slices",
    "modified_pmf",
    "read_marker",
    "render_slice",
    "slice_name",
    "synthesize",
    "track_names",
    "write_synthetic",
]
