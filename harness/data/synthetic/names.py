"""Names of the synthetic MPD: URIs, artist, album and track names derived from ids by hashing
(so a name never needs storing), and raw playlist titles and descriptions."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from harness.data.synthetic.catalogue import GENRES, FloatArray, IntArray, Theme

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
DESCRIPTIONS = (
    "my favorite {} songs",
    "{} for every mood",
    "the best {} ever",
    "songs for {}",
    "{} all day",
    "just {}",
    "{} and chill",
    "a little bit of {}",
)
_DECORATIONS = (
    "{}!", "{}!!", "{}!!!", "{}...", "{} :)", "~{}~", "#{}", "{}.", "({})", "*{}*", "{}~",
    "_{}_", "{} ;)", "@{}", "{}!!!!", "{} (:",
)  # fmt: skip
GENERIC_EMOJI = ("🔥", "🎶", "✨", "💯", "😎", "❤️", "🙌")

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


def salt(seed: int, kind: int) -> np.uint64:
    s = np.asarray([seed * 8 + kind], dtype=np.uint64)
    return _mix64(_mix64(s))[0]


def hashes(ids: IntArray, seed: int, kind: int) -> NDArray[np.uint64]:
    """One 64-bit hash per id, distinct for distinct ids (same seed and kind)."""
    return _mix64(ids.astype(np.uint64) ^ salt(seed, kind))


def _base62(x: NDArray[np.uint64], width: int) -> NDArray[np.uint8]:
    out = np.empty((len(x), width), dtype=np.uint8)  # (n, width)
    for j in range(width - 1, -1, -1):
        out[:, j] = _B62[(x % np.uint64(62)).astype(np.intp)]
        x = x // np.uint64(62)
    return out


def make_uris(kind: str, ids: IntArray, seed: int) -> list[str]:
    """`spotify:<kind>:<22 base-62>` per id; the first 11 characters are unique per id."""
    k = {"track": 1, "artist": 2, "album": 3}[kind]
    h1 = hashes(ids, seed, k)
    h2 = _mix64(h1 ^ salt(seed, k + 4))
    chars = np.concatenate([_base62(h1, 11), _base62(h2, 11)], axis=1)  # (n, 22)
    prefix = f"spotify:{kind}:"
    return [prefix + s.decode() for s in chars.view("S22").ravel()]


# ------------------------------------------------------------------------------ names


def _pick(words: list[str], h: NDArray[np.uint64], shift: int) -> list[str]:
    """A word per hash, from bits `shift`.. of the hash."""
    idx = ((h >> np.uint64(shift)) % np.uint64(len(words))).astype(np.intp)
    return [words[i] for i in idx]


def _cap(s: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in s.split(" "))


_XMAS = "christmas snow winter santa sleigh bells holly mistletoe jingle reindeer".split()


# Syllables of coined artist words: an artist name never reuses a real band's or singer's
# name (English words such as "Queen", "Phoenix" or "The Eagles" and first + last name pairs
# such as "Sam Smith" all name real artists), so a synthetic leaderboard never looks real.
_ONSET = "b d f g k l m n p r s t v z br dr st tr gr l m r".split()
_VOWEL = "a e i o u a e o ai ea".split()
_CODA = "n r l s th m nd x n r l ne".split()


def _coined(h: NDArray[np.uint64], shift: int) -> list[str]:
    """A pronounceable made-up word per hash (onset-vowel-onset-vowel-coda), from bits `shift`."""
    parts = (_ONSET, _VOWEL, _ONSET[:14], _VOWEL, _CODA)
    picked = [_pick(words, h, shift + 5 * j) for j, words in enumerate(parts)]
    return ["".join(p[i] for p in picked) for i in range(len(h))]


def artist_names(ids: IntArray, genres: IntArray, seed: int) -> list[str]:
    """Deterministic artist names built on coined words; rap and edm artists get their genre's
    naming habits."""
    h = hashes(ids, seed, 5)
    pat = (h % np.uint64(8)).astype(np.intp)
    first, c, d = _pick(_FIRST, h, 3), _coined(h, 8), _coined(h, 33)
    pl = _pick(_PLURAL, h, 58)
    rap, edm = GENRES.index("rap"), GENRES.index("edm")
    out = []
    for i in range(len(ids)):
        k, g, w = pat[i], genres[i], c[i].capitalize()
        if g == rap and k < 3:
            s = ("Lil " + w, "Young " + w, c[i].upper())[k]
        elif g == edm and k < 3:
            s = ("DJ " + w, w + d[i], _cap(f"{c[i]} & {d[i]}"))[k]
        elif k < 4:
            s = _cap(f"{first[i]} {c[i]}")
        elif k < 6:
            s = _cap(f"the {c[i]}s")
        elif k == 6:
            s = _cap(f"{c[i]} {pl[i]}")
        else:
            s = _cap(f"{c[i]} {d[i]}") if (h[i] >> np.uint64(63)) else w
        out.append(s)
    return out


def track_names(ids: IntArray, genres: IntArray, seed: int) -> list[str]:
    """Deterministic track names, some with a remix/live/feat. suffix."""
    h = hashes(ids, seed, 6)
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
    h = hashes(ids, seed, 7)
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


def title_variant(stem: str, emoji: tuple[str, ...], u: FloatArray) -> str:
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
    pool = emoji or GENERIC_EMOJI
    if d < 0.02:
        s += " " + pool[int(u[2] * len(pool))]
    elif d < 0.14:  # decorations that the official normalisation removes
        s = _DECORATIONS[int(u[2] * len(_DECORATIONS))].format(s)
    return s


def tail_title(theme: Theme, u: FloatArray) -> str:
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
    return f"{w(_WORD, u[1])} {w(_NOUN, u[2])}"
