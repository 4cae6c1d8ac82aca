"""The documents behind the generation page: a playlist continued by a model of a run
(`harness.run.generate`, with the `generate` command's sampling options), and track search for
picking seeds.

The model is refitted from its run manifest on the run's training data on first use (runs keep
recommendations, not fitted models) and kept by the store; for a deterministic model of a split
run, the refit is compared with the stored recommendations and the page says how it compares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.data.corpus import normalize_name
from harness.run.generate import DEFAULT_LENGTH, DEFAULT_TEMPERATURE, DEFAULT_TOP
from harness.serve.errors import RequestError
from harness.serve.playlists import track_doc
from harness.serve.store import Store

MAX_LENGTH = 250  # the longest MPD playlist: a request's work stays bounded
MAX_TOP = 500
MAX_SEEDS = 250
MAX_TEMPERATURE = 1000.0
MAX_SEED = 2**32 - 1
MAX_TITLE = 200
TRACK_LIMIT = 50  # most tracks one search returns


@dataclass(frozen=True)
class GenerateRequest:
    """What to continue and how: the `generate` command's options, by the same names."""

    model: str
    title: str | None = None
    seed_tracks: list[str] = field(default_factory=list)
    length: int = DEFAULT_LENGTH
    sample: bool = False
    top: int = DEFAULT_TOP
    temperature: float = DEFAULT_TEMPERATURE
    seed: int = 0


def check_request(req: GenerateRequest) -> str | None:
    """The normalised title, once every option is in range (a RequestError names the first
    that is not)."""
    if not 1 <= req.length <= MAX_LENGTH:
        raise RequestError(f"query parameter length: {req.length} is not in 1..{MAX_LENGTH}")
    if not 1 <= req.top <= MAX_TOP:
        raise RequestError(f"query parameter top: {req.top} is not in 1..{MAX_TOP}")
    if not 0 < req.temperature <= MAX_TEMPERATURE:
        raise RequestError(
            f"query parameter temperature: {req.temperature} is not in (0, {MAX_TEMPERATURE:g}]"
        )
    if not 0 <= req.seed <= MAX_SEED:
        raise RequestError(f"query parameter seed: {req.seed} is not in 0..{MAX_SEED}")
    if len(req.seed_tracks) > MAX_SEEDS:
        raise RequestError(f"query parameter seed_track: {len(req.seed_tracks)} > {MAX_SEEDS}")
    title = None
    if req.title is not None and req.title.strip():
        if len(req.title) > MAX_TITLE:
            raise RequestError(f"query parameter title: longer than {MAX_TITLE} characters")
        title = normalize_name(req.title)
        if not title:
            raise RequestError(f"query parameter title: {req.title!r} is empty once normalised")
    if title is None and not req.seed_tracks:
        raise RequestError(
            "give a title (title=TEXT) or seed tracks (seed_track=URI, repeated), or both"
        )
    return title


def seed_ids(store: Store, run: str, uris: list[str]) -> list[int]:
    index = store.corpus(run).track_index
    for u in uris:
        if u not in index:
            raise RequestError(f"query parameter seed_track: {u!r} is not a track of run {run!r}")
    return [index[u] for u in uris]


def generate_doc(store: Store, run: str, req: GenerateRequest) -> dict[str, Any]:
    """The seeds, then `length` tracks chosen one at a time by model `req.model` of the run."""
    from harness.run.generate import continue_playlist

    info = store.info(run)
    store.check_model(run, req.model, store.generator_models(run))
    title = check_request(req)
    seeds = seed_ids(store, run, req.seed_tracks)
    gen = store.generator(run, req.model)
    steps = continue_playlist(
        gen.fitted,
        seeds,
        title,
        req.length,
        sample=req.sample,
        top=req.top,
        temperature=req.temperature,
        seed=req.seed,
    )
    corpus = store.corpus(run)
    how = (
        f"sampled from the top {req.top}, p ∝ rank^(-1/{req.temperature:g}), seed {req.seed}"
        if req.sample
        else "top track at each step"
    )
    check = None
    if gen.check is not None:
        check = {"same": gen.check[0], "compared": gen.check[1]}
    return {
        "run": run,
        "synthetic": info.synthetic,
        "model": req.model,
        "title": title,
        "how": how,
        "refit_check": check,
        "seeds": [{"pos": i + 1, **track_doc(corpus, t)} for i, t in enumerate(seeds)],
        "tracks": [
            {
                "pos": len(seeds) + i + 1,
                **track_doc(corpus, s.track_id),
                "rank": s.rank,
                "probability": s.probability,
                "via_title": s.via_title,
            }
            for i, s in enumerate(steps)
        ],
    }


def tracks_doc(store: Store, run: str, q: str, limit: int = 20) -> dict[str, Any]:
    """Tracks whose name or artist contains `q` (case-insensitive), most played first."""
    if not 1 <= limit <= TRACK_LIMIT:
        raise RequestError(f"query parameter limit: {limit} is not in 1..{TRACK_LIMIT}")
    store.info(run)
    corpus = store.corpus(run)
    matches = store.search(run).find(q, limit)
    return {
        "run": run,
        "q": q,
        "tracks": [{**track_doc(corpus, m.track_id), "count": m.count} for m in matches],
    }


def generate_form(
    store: Store, run: str, req: GenerateRequest, add: str, go: bool
) -> dict[str, Any]:
    """The generation page: the form's state; `add` (the seed box) is appended to the seeds
    when it is a track URI (picked from the completion), else searched for; the continuation
    when `go`."""
    info = store.info(run)
    seeds = list(req.seed_tracks)
    found: list[dict[str, Any]] = []
    if add and add in store.corpus(run).track_index:
        seeds.append(add)
        add = ""
    elif add:
        found = tracks_doc(store, run, add, 20)["tracks"]
    req = replace(req, seed_tracks=seeds)
    corpus = store.corpus(run)
    return {
        "run": run,
        "synthetic": info.synthetic,
        "models": store.generator_models(run),
        "form": asdict(req),
        "seeds": [track_doc(corpus, t) for t in seed_ids(store, run, seeds)],
        "add": add,
        "found": found,
        "result": generate_doc(store, run, req) if go else None,
    }
