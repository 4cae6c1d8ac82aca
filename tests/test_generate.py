"""Tests for harness/generate.py: continuing a playlist with every registered model, and the command.

Every model of `models.MODELS` continues playlists on a tiny hand-made corpus (fast settings, as in
the contract test). The command runs end to end on a tiny synthetic run: refit from the run files,
check against the stored recommendations, print the table.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from rich.console import Console

from harness.data.corpus import Corpus
from harness.errors import HarnessError, UsageError
from harness.run.generate import (
    Fitted,
    continue_playlist,
    one_query,
    playlist_table,
    rank_probabilities,
    seed_ids,
)
from harness.run.sources import whole_train_set
from models import MODELS, get_model
from models.popular import popularity_ranking

# small settings for tiny data, applied only where a model has the parameter
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "w2v": {"epochs": 5, "dim": 16, "sample": 0.0, "workers": 1, "min_count": 1, "seed": 0},
    "sgns": {"epochs": 5, "dim": 16, "sample": 0.0, "min_count": 1, "seed": 0},
    "knn": {"k_neighbors": 20},
    "item_knn": {"n_neighbors": 10},
}
GENRES = ("rock", "chill", "party")


def uri(kind: str, i: int) -> str:
    return f"spotify:{kind}:{i:022d}"


def tiny_corpus() -> Corpus:
    """60 playlists over three 12-track clusters (titled by cluster), track names t<i>."""
    rng = np.random.default_rng(0)
    playlists = []
    for pid in range(60):
        c = pid % 3
        ids = rng.choice(12, size=int(rng.integers(5, 11)), replace=False) + 12 * c
        tracks = [
            {
                "pos": j,
                "track_uri": uri("track", int(t)),
                "track_name": f"t{int(t)}",
                "artist_uri": uri("artist", int(t) // 3),
                "artist_name": f"artist{int(t) // 3}",
                "album_uri": uri("album", int(t) // 2),
                "album_name": f"album{int(t) // 2}",
                "duration_ms": 1000,
            }
            for j, t in enumerate(ids)
        ]
        playlists.append(
            {
                "pid": pid,
                "name": GENRES[c],
                "collaborative": "false",
                "modified_at": 1500000000,
                "num_followers": 1,
                "num_edits": 1,
                "tracks": tracks,
            }
        )
    return Corpus.from_playlists(playlists, {"fingerprint": "tiny", "synthetic": True})


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return tiny_corpus()


def fitted(name: str, corpus: Corpus) -> Fitted:
    valid = MODELS[name]().get_params()
    params = {k: v for k, v in FAST_PARAMS.get(name, {}).items() if k in valid}
    train = whole_train_set(corpus)
    model = get_model(name, **params)
    if model.needs_validation:  # e.g. rerank: ten training playlists as its validation split
        from dataclasses import replace

        from harness.run.contract import mixed_validation

        train = replace(train, validation=mixed_validation(train))
    model = model.fit(train)
    return Fitted(name, model, corpus, train, popularity_ranking(train), {}, None)


def test_rank_probabilities() -> None:
    p = rank_probabilities(4, 1.0)
    np.testing.assert_allclose(p, np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12))
    assert rank_probabilities(5, 0.01)[0] > 0.999  # cold: the top item
    np.testing.assert_allclose(rank_probabilities(5, 1e6), np.full(5, 0.2), rtol=1e-5)


def test_one_query_holds_the_playlist_so_far() -> None:
    q = one_query([5, 2, 9], "rock")
    assert len(q) == 1 and q.seeds(0).tolist() == [5, 2, 9] and q.titles[0] == "rock"
    assert q.seed_pos.tolist() == [0, 1, 2] and q.seed_ids.dtype == np.int32


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_continues_a_playlist(name: str, corpus: Corpus) -> None:
    f = fitted(name, corpus)
    seeds = seed_ids(corpus, [uri("track", t) for t in (12, 13, 14)])
    steps = continue_playlist(f, seeds, None, 8)
    ids = [s.track_id for s in steps]
    assert len(ids) == 8 and len(set(ids) | set(seeds)) == 11  # no repeat, no seed
    assert all(0 <= t < corpus.n_tracks for t in ids)
    assert all(s.rank == 1 and s.probability is None for s in steps)
    # greedy and iterative: the first track is the model's own top choice for the seeds
    assert ids[0] == int(f.model.recommend(one_query(seeds, None), 1)[0, 0])

    sampled = continue_playlist(f, seeds, None, 8, sample=True, top=5, seed=1)
    again = continue_playlist(f, seeds, None, 8, sample=True, top=5, seed=1)
    assert [s.track_id for s in sampled] == [s.track_id for s in again]
    assert all(1 <= s.rank <= 5 and s.probability is not None for s in sampled)
    assert len({s.track_id for s in sampled} | set(seeds)) == 11

    # a title alone starts a playlist; a "title" model hands the seedless step to the baseline
    from_title = continue_playlist(f, [], "chill", 4)
    assert len({s.track_id for s in from_title}) == 4
    assert from_title[0].via_title == (f.model.cold_start == "title")
    assert not any(s.via_title for s in from_title[1:])


def test_a_step_the_model_leaves_empty_goes_to_the_title_baseline(corpus: Corpus) -> None:
    f = fitted("w2v", corpus)
    f.model.vectors_[:] = 0  # no track has a vector: the model can answer nothing
    steps = continue_playlist(f, seed_ids(corpus, [uri("track", 12)]), "chill", 3)
    assert all(s.via_title for s in steps)
    title_first = f.title_model().recommend(one_query([12], "chill"), 1)[0, 0]
    assert steps[0].track_id == int(title_first) != int(f.ranking[0])  # not popularity backfill


def test_playlist_table_names_tracks_artists_albums(corpus: Corpus) -> None:
    f = fitted("popular", corpus)
    seeds = seed_ids(corpus, [uri("track", 3)])
    steps = continue_playlist(f, seeds, "rock", 2, sample=True, top=3, seed=0)
    table = playlist_table(corpus, seeds, steps, "rock", "caption here")
    buf = io.StringIO()
    Console(file=buf, width=120, color_system=None).print(table)
    text = buf.getvalue()
    assert "t3" in text and "artist1" in text and "album1" in text and "seed" in text
    t = steps[0].track_id
    artist, album = corpus.track_artist[t], corpus.track_album[t]
    assert corpus.track_names[t] in text and corpus.artist_names[artist] in text
    assert corpus.album_names[album] in text and "rank " in text


def test_input_errors(corpus: Corpus) -> None:
    f = fitted("popular", corpus)
    with pytest.raises(UsageError, match="spotify:track:nope"):
        seed_ids(corpus, [uri("track", 1), "spotify:track:nope"])
    with pytest.raises(UsageError, match="--seed-track or --title"):
        continue_playlist(f, [], None, 3)
    with pytest.raises(UsageError, match="--temperature"):
        continue_playlist(f, [1], None, 3, sample=True, temperature=0.0)


# ---------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`evaluate --synthetic tiny` (popular, title, knn), run in a temporary folder."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("e2e")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MPD_HARNESS_CACHE", str(root / "cache"))
        args = ["evaluate", "--synthetic", "tiny", "--coverage", "none"]
        assert main([*args, "--models", "popular,title,knn", "--out", "run"]) == 0
        yield root


def _seeds_and_title(root: Path) -> tuple[list[str], str]:
    doc = orjson.loads((root / "run" / "split" / "challenge_set.json").read_bytes())
    p = next(p for p in doc["playlists"] if len(p["tracks"]) >= 5 and "name" in p)
    return [t["track_uri"] for t in p["tracks"][:3]], str(p["name"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["popular", "title", "knn"])
def test_generate_command_refits_checks_and_prints(
    name: str, tiny_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    seeds, title = _seeds_and_title(tiny_run)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tiny_run)
        mp.setenv("MPD_HARNESS_CACHE", str(tiny_run / "cache"))
        mp.setenv("COLUMNS", "200")
        base = ["generate", "--model", name, "--run", "run", "--length", "6"]
        assert main([*base, "--seed-track", *seeds]) == 0
        out, err = capsys.readouterr()
        assert "refitting" in err and "refit check: matches" in err and "20/20" in err
        assert out.count("│ seed ") == 3 and out.count("│ top ") == 6
        assert main([*base, "--title", title, "--sample", "--seed", "4", "--no-check"]) == 0
        sampled, err = capsys.readouterr()
        assert "refit check" not in err and "rank " in sampled
        assert main([*base, "--title", title, "--sample", "--seed", "4", "--no-check"]) == 0
        assert capsys.readouterr().out == sampled


@pytest.mark.slow
def test_generate_command_errors(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tiny_run)
        mp.setenv("MPD_HARNESS_CACHE", str(tiny_run / "cache"))
        assert main(["generate", "--model", "w2v", "--run", "run", "--title", "x"]) == 2
        assert "models there: knn, popular, title" in capsys.readouterr().err
        assert main(["generate", "--model", "knn", "--run", "run"]) == 2
        assert "--seed-track URI ... or --title" in capsys.readouterr().err
        bad = ["generate", "--model", "knn", "--run", "run", "--seed-track", "spotify:track:x"]
        assert main(bad) == 2
        assert "spotify:track:x" in capsys.readouterr().err
    from harness.run.generate import refit

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)  # from another folder: run.json's paths are absolute (issue 24)
        mp.setenv("MPD_HARNESS_CACHE", str(tiny_run / "cache"))
        assert refit(tiny_run / "run", "knn").split is not None
    with pytest.raises(HarnessError, match="not found"):
        refit(_moved_without_data(tiny_run, tmp_path), "knn")


def _moved_without_data(root: Path, tmp: Path) -> Path:
    """A copy of the run folder alone: neither its absolute data path (changed below) nor its
    relative one leads to the data."""
    import shutil

    run = tmp / "elsewhere" / "run"
    shutil.copytree(root / "run", run)
    doc = orjson.loads((run / "run.json").read_bytes())
    doc["data"]["path"] = str(tmp / "gone")
    (run / "run.json").write_bytes(orjson.dumps(doc))
    return run


def test_a_fit_that_says_it_is_not_repeatable_is_not_checked() -> None:
    """sgns on two workers (Hogwild) or gensim on two: the class is deterministic, the fit not."""
    from harness.run.generate import Fitted
    from models import get_model

    model = get_model("sgns", threads=2)
    fitted = Fitted("sgns", model, None, None, None, {}, None)  # type: ignore[arg-type]
    assert fitted.repeatable  # before fitting the class decides
    model.deterministic_ = False
    assert not fitted.repeatable
    model.deterministic_ = True
    assert fitted.repeatable
