"""Continue a playlist with a model of a run (the library of `mpd-harness generate`).

Runs keep recommendations, not fitted models (nothing is pickled), so the model is REFITTED here
from its run manifest's hyperparameters on the run's own training data: the corpus recorded in
`run.json` (its fingerprint is checked) minus the run's test playlists (the split is loaded and
verified; a challenge-set run trains on the whole corpus). For a deterministic model of a split
run, the refit is checked against the stored `recs.npz` on a few test playlists and the result
is printed.

Continuation is iterative: at each step the model is asked for the next tracks of the playlist
so far (title + seeds + every track chosen before; a chosen track is thus a seed of the next step
and never repeated). Without `--sample` the top track is taken; with `--sample` one of the top M
(`--top`) is drawn with probability softmax(-ln(rank) / T), i.e. proportional to rank^(-1/T)
(T = `--temperature`: T -> 0 is the top item, large T is uniform over the top M), from
`np.random.default_rng(--seed)`. As in the runner, seedless steps of a model whose `cold_start`
is "title" go to the title baseline, as do steps the model leaves wholly empty, and empty slots
are backfilled with popular tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from rich.table import Table

from harness.atomic import read_json_object
from harness.errors import HarnessError, UsageError
from harness.progress import SILENT, Reporter
from harness.types import IntArray, Queries, TrainSet, Validation

if TYPE_CHECKING:
    from harness.data.corpus import Corpus
    from models.base import Recommender

DEFAULT_LENGTH = 20
DEFAULT_TOP = 50
DEFAULT_TEMPERATURE = 1.0
CHECK_QUERIES = 20  # stored test playlists the refit is compared on


# ---------------------------------------------------------------------------- loading


@dataclass
class Fitted:
    """A model refitted on a run's training data, with what generation needs around it."""

    name: str
    model: Recommender
    corpus: Corpus
    train: TrainSet
    ranking: IntArray  # training tracks, most popular first (backfill)
    run: dict[str, Any]
    split: Any  # harness.challenge.split.Split, or None for a challenge-set run
    _title: Recommender | None = None

    @property
    def repeatable(self) -> bool:
        """Whether a refit should reproduce the run's recommendations: the model's class says
        so, and so does this fit (`deterministic_`; False for gensim or sgns on several
        workers, or a GPU fit)."""
        return bool(self.model.deterministic and getattr(self.model, "deterministic_", True))

    def title_model(self) -> Recommender:
        """The shared cold-start baseline (fitted on first use), as in the runner."""
        if self._title is None:
            from models.title import TitleRecommender

            self._title = TitleRecommender().fit(self.train)
        return self._title


def _run_files(run_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run.json, the model's manifest.json) of `run_dir`; errors list the models it holds."""
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        raise UsageError(f"{run_file}: not found; is {run_dir} a folder written by evaluate?")
    manifest_file = run_dir / name / "manifest.json"
    if not manifest_file.is_file():
        have = sorted(
            p.name
            for p in run_dir.iterdir()
            if (p / "manifest.json").is_file() and p.name != "split"
        )
        there = ", ".join(have) or "none"
        raise UsageError(f"--model {name}: no complete run in {run_dir}; models there: {there}")
    return read_json_object(run_file, "run.json"), read_json_object(manifest_file, "manifest")


def refit(
    run_dir: str | Path,
    name: str,
    *,
    cache_dir: Path | None = None,
    reporter: Reporter = SILENT,
    corpus: Corpus | None = None,
    split: Any = None,
) -> Fitted:
    """Load the run's corpus and split, and fit model `name` with its stored hyperparameters.

    `corpus` and `split` (a `Split`): the run's, already loaded (the web explorer keeps them);
    the corpus fingerprint is checked all the same.
    """
    from harness.challenge.split import load_split, train_set
    from harness.data.ingest import load_corpus
    from harness.run.factory import build_model
    from harness.run.rundir import resolve_data_path, resolve_split_dir
    from harness.run.sources import whole_train_set
    from models.popular import popularity_ranking

    run_dir = Path(run_dir)
    run, manifest = _run_files(run_dir, name)
    for what in ("data", "split"):
        if manifest.get(what, {}).get("fingerprint") != run.get(what, {}).get("fingerprint"):
            raise HarnessError(
                f"{run_dir / name / 'manifest.json'}: made on other {what} than "
                f"{run_dir / 'run.json'}"
            )
    data_path = run["data"].get("path")
    if corpus is None:
        data_path = resolve_data_path(run_dir, run["data"])
        corpus = load_corpus(data_path, cache_dir=cache_dir, reporter=reporter)
    fp = corpus.source.get("fingerprint")
    if fp != run["data"].get("fingerprint"):
        raise HarnessError(
            f"{data_path}: corpus fingerprint {fp} differs from the run's "
            f"{run['data'].get('fingerprint')}: the data changed since the run"
        )
    if run.get("mode") == "split":
        if split is None or split.fingerprint != run["split"].get("fingerprint"):
            split = load_split(resolve_split_dir(run_dir, run["split"]), corpus)
        train = train_set(corpus, split)
    else:
        split, train = None, whole_train_set(corpus)
    model = build_model(name, dict(manifest.get("params", {})))
    if getattr(model, "needs_validation", False):
        train = replace(train, validation=_run_validation(run_dir, run, manifest, corpus, split))
    reporter.note(
        f"refitting {name} on {train.n_playlists:,} training playlists with the run's "
        "hyperparameters (runs store recommendations, not fitted models)"
    )
    model.fit(train)
    return Fitted(name, model, corpus, train, popularity_ranking(train), run, split)


def _run_validation(
    run_dir: Path, run: dict[str, Any], manifest: dict[str, Any], corpus: Corpus, split: Any
) -> Validation:
    """The validation split model run `manifest` was fitted with, unchanged since."""
    from harness.challenge.split import load_validation
    from harness.run.rundir import resolve_split_dir

    want = manifest.get("split", {}).get("validation", {}).get("fingerprint")
    found = (
        None
        if split is None
        else load_validation(resolve_split_dir(run_dir, run["split"]), corpus, split)
    )
    if found is None or found.fingerprint != want:
        have = "none" if found is None else found.fingerprint
        raise HarnessError(
            f"{run_dir / manifest['model'] / 'manifest.json'}: fitted with validation split "
            f"{want}, the run's split folder has {have}; evaluate again to refit"
        )
    return found


def check_refit(fitted: Fitted, run_dir: Path, n: int = CHECK_QUERIES) -> tuple[int, int]:
    """(identical rows, rows compared): the refit's top-k vs `recs.npz` on seeded test queries.

    Only queries with seeds are compared, so the model itself answers them; a row it leaves
    wholly empty (no seed known to it) goes to the title baseline, as in the runner.
    """
    from harness.run.checks import backfill, check_recs
    from harness.run.rundir import read_recs

    if fitted.split is None:
        return (0, 0)
    pids, stored, _ = read_recs(run_dir / fitted.name / "recs.npz")
    q = fitted.split.queries
    idx = np.flatnonzero(q.n_seeds > 0)[:n]
    row_of = {int(p): i for i, p in enumerate(pids.tolist())}
    if not len(idx) or any(int(q.pids[i]) not in row_of for i in idx):
        raise HarnessError(f"{run_dir / fitted.name / 'recs.npz'}: pids differ from the split")
    sub = q.subset(idx)
    k = stored.shape[1]
    recs = check_recs(fitted.model.recommend(sub, k), sub, fitted.train.n_tracks, k, fitted.name)
    empty = np.flatnonzero((recs < 0).all(axis=1))  # (n_empty,) rows the model left unanswered
    if len(empty) and fitted.model.cold_start == "title":
        part = sub.subset(empty)
        label = f"{fitted.name} (unanswered, via title baseline)"
        answer = fitted.title_model().recommend(part, k)
        recs[empty] = check_recs(answer, part, fitted.train.n_tracks, k, label)
    recs, _ = backfill(recs, sub, fitted.ranking, k)
    want = stored[[row_of[int(p)] for p in sub.pids]]  # (len(idx), k)
    same = int(np.all(recs == want, axis=1).sum())
    return (same, len(idx))


# ---------------------------------------------------------------------------- generation


def one_query(seeds: list[int], title: str | None) -> Queries:
    """A single query: the playlist so far (seeds at positions 0..) and its normalised title."""
    ids = np.array(seeds, dtype=np.int32)  # (n_seeds,)
    return Queries(
        pids=np.zeros(1, dtype=np.int64),
        seed_offsets=np.array([0, len(ids)], dtype=np.int64),
        seed_ids=ids,
        seed_pos=np.arange(len(ids), dtype=np.int32),
        titles=np.array([title], dtype=object),
        categories=np.zeros(1, dtype=np.int8),
    )


def rank_probabilities(m: int, temperature: float) -> NDArray[np.float64]:
    """(m,) softmax(-ln(rank) / T) over ranks 1..m, i.e. proportional to rank^(-1/T)."""
    logits = -np.log(np.arange(1, m + 1, dtype=np.float64)) / temperature  # (m,)
    p = np.exp(logits - logits.max())
    return p / p.sum()


@dataclass
class Step:
    """One generated position: the track id and how it was chosen."""

    track_id: int
    rank: int  # 1-based rank of the choice in the model's list at that step
    probability: float | None  # its sampling probability (None: top item taken)
    via_title: bool  # answered by the title baseline (seedless or unanswered, "title" models)


def continue_playlist(
    fitted: Fitted,
    seeds: list[int],
    title: str | None,
    length: int,
    *,
    sample: bool = False,
    top: int = DEFAULT_TOP,
    temperature: float = DEFAULT_TEMPERATURE,
    seed: int = 0,
) -> list[Step]:
    """`length` more tracks after `seeds`, chosen one at a time (see the module docstring)."""
    from harness.run.checks import backfill, check_recs

    if not seeds and title is None:
        raise UsageError("give --seed-track or --title: the model needs something to continue")
    if sample and (top < 1 or not temperature > 0):
        raise UsageError(f"--top {top} must be >= 1 and --temperature {temperature} > 0")
    rng = np.random.default_rng(seed)
    k = top if sample else 1
    playlist = list(seeds)
    steps: list[Step] = []
    for _ in range(length):
        q = one_query(playlist, title)
        via_title = not playlist and fitted.model.cold_start == "title"
        who = fitted.title_model() if via_title else fitted.model
        label = f"{fitted.name} (via title baseline)" if via_title else fitted.name
        raw = check_recs(who.recommend(q, k), q, fitted.train.n_tracks, k, label)
        if not via_title and fitted.model.cold_start == "title" and (raw < 0).all():
            via_title, who = True, fitted.title_model()  # the model knows no seed: as the runner
            label = f"{fitted.name} (unanswered, via title baseline)"
            raw = check_recs(who.recommend(q, k), q, fitted.train.n_tracks, k, label)
        row = backfill(raw, q, fitted.ranking, k)[0][0]  # (k,)
        if sample:
            p = rank_probabilities(k, temperature)
            j = int(rng.choice(k, p=p))
            steps.append(Step(int(row[j]), j + 1, float(p[j]), via_title))
        else:
            steps.append(Step(int(row[0]), 1, None, via_title))
        playlist.append(steps[-1].track_id)
    return steps


def seed_ids(corpus: Corpus, uris: list[str]) -> list[int]:
    """Track ids of seed URIs; an unknown URI is an error naming it."""
    index = corpus.track_index
    missing = [u for u in uris if u not in index]
    if missing:
        raise UsageError(f"--seed-track {missing[0]}: not a track of the run's corpus")
    return [index[u] for u in uris]


def playlist_table(
    corpus: Corpus, seeds: list[int], steps: list[Step], title: str | None, caption: str
) -> Table:
    """Seeds then generated tracks: position, track, artist, album, how chosen (pure)."""
    heading = f"“{title}”" if title else "untitled playlist"
    table = Table(title=f"{heading} continued", caption=caption)
    for col in ("#", "track", "artist", "album", "chosen"):
        table.add_column(col, justify="right" if col == "#" else "left")

    def add(pos: int, t: int, how: str) -> None:
        artist = corpus.artist_names[corpus.track_artist[t]]
        album = corpus.album_names[corpus.track_album[t]]
        table.add_row(str(pos), str(corpus.track_names[t]), str(artist), str(album), how)

    for i, t in enumerate(seeds):
        add(i + 1, t, "seed")
    for i, s in enumerate(steps):
        how = "top" if s.probability is None else f"rank {s.rank} (p={s.probability:.3f})"
        add(len(seeds) + i + 1, s.track_id, how + (" · title baseline" if s.via_title else ""))
    return table
