"""The evaluate runner: parameter parsing, output checks, backfill, run files, reuse, end to end.

Unit tests build a tiny corpus and queries by hand; the end-to-end tests (CLI `main([...])` in a
temporary folder) use the real data, synthetic, split, metrics and submission modules.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from typing_extensions import Self

import models
from harness.atomic import read_json
from harness.data.corpus import Corpus
from harness.errors import HarnessError, UsageError
from harness.run.checks import ModelOutputError, backfill, check_recs
from harness.run.evaluate import Evaluation, evaluate_model
from harness.run.factory import build_model, parse_params, parse_value, select_models
from harness.run.rundir import read_recs
from harness.run.sources import whole_train_set
from models.base import IntArray, Queries, Recommender, TrainSet

N_TRACKS = 30


def uri(kind: str, i: int) -> str:
    return f"spotify:{kind}:{i:022d}"


def tiny_corpus() -> Corpus:
    """24 playlists over 30 tracks; track t by artist t // 3."""
    rng = np.random.default_rng(0)
    playlists = []
    for pid in range(24):
        ids = rng.choice(N_TRACKS, size=int(rng.integers(5, 12)), replace=False)
        playlists.append(
            {
                "pid": pid,
                "name": ["rock", "chill", "party"][pid % 3],
                "modified_at": 1500000000,
                "num_followers": 1,
                "num_edits": 1,
                "tracks": [
                    {
                        "pos": j,
                        "track_uri": uri("track", int(t)),
                        "track_name": f"t{t}",
                        "artist_uri": uri("artist", int(t) // 3),
                        "artist_name": f"a{int(t) // 3}",
                        "album_uri": uri("album", int(t) // 2),
                        "album_name": f"b{int(t) // 2}",
                        "duration_ms": 1000,
                    }
                    for j, t in enumerate(ids)
                ],
            }
        )
    return Corpus.from_playlists(playlists, {"fingerprint": "tiny", "synthetic": True})


def make_queries(seeds: list[list[int]], titles: list[str | None] | None = None) -> Queries:
    offsets = np.zeros(len(seeds) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in seeds], out=offsets[1:])
    return Queries(
        pids=np.arange(100, 100 + len(seeds), dtype=np.int64),
        seed_offsets=offsets,
        seed_ids=np.array([t for s in seeds for t in s], dtype=np.int32),
        seed_pos=np.array([j for s in seeds for j in range(len(s))], dtype=np.int32),
        titles=np.array(titles or ["rock"] * len(seeds), dtype=object),
        categories=np.array([1 if not s else 3 for s in seeds], dtype=np.int8),
    )


# ---------------------------------------------------------------------------- -p parsing


def test_parse_value_literals_and_plain_strings() -> None:
    assert parse_value("200") == 200
    assert parse_value("0.5") == 0.5
    assert parse_value("-0.5") == -0.5
    assert parse_value("None") is None
    assert parse_value("True") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("'cpu'") == "cpu"
    assert parse_value("cpu") == "cpu"  # not a literal: the plain string
    # never evaluated as code
    assert parse_value("__import__('os').getcwd()") == "__import__('os').getcwd()"


def test_parse_params_groups_by_model() -> None:
    got = parse_params(["knn.k=200", "w2v.dim=32", "knn.alpha = 0.5", "w2v.corpus=file"])
    assert got == {"knn": {"k": 200, "alpha": 0.5}, "w2v": {"dim": 32, "corpus": "file"}}


@pytest.mark.parametrize("item", ["knn", "knn=3", "k=3", ".k=3", "knn.=3"])
def test_parse_params_rejects_malformed(item: str) -> None:
    with pytest.raises(UsageError, match="MODEL.PARAM=VALUE"):
        parse_params([item])


def test_build_model_unknown_param_lists_valid_ones() -> None:
    with pytest.raises(UsageError, match="its parameters: min_playlists"):
        build_model("title", {"nope": 1})


def test_build_model_rejects_wrong_value_type() -> None:
    with pytest.raises(UsageError, match=r"title\.min_playlists='many': expected int"):
        build_model("title", {"min_playlists": "many"})
    assert build_model("title", {"min_playlists": 3}).min_playlists == 3


def test_select_models() -> None:
    assert select_models(None, {}) == list(models.MODELS)
    assert select_models("title,popular,title", {}) == ["title", "popular"]
    with pytest.raises(UsageError, match="available: popular"):
        select_models("popular,nosuch", {})
    with pytest.raises(UsageError, match="not being run"):
        select_models("popular", {"title": {"min_playlists": 2}})


# ---------------------------------------------------------------------------- checks


def test_check_recs_accepts_valid_output() -> None:
    q = make_queries([[0, 1], []])
    recs = np.array([[2, 3, -1], [0, 1, 2]], dtype=np.int32)
    assert check_recs(recs, q, N_TRACKS, 3, "m") is recs


@pytest.mark.parametrize(
    ("recs", "match"),
    [
        (np.zeros((2, 4), dtype=np.int32), r"shape \(2, 4\), expected \(2, 3\)"),
        (np.array([[2, 3, 4], [5, 6, 7]], dtype=np.int64), "dtype int64, not int32"),
        (np.array([[2, 3, 4], [5, 6, 30]], dtype=np.int32), r"pid 101: track id 30 at rank 3"),
        (np.array([[2, -2, 4], [5, 6, 7]], dtype=np.int32), r"pid 100: track id -2 at rank 2"),
        (np.array([[2, 3, 4], [5, 7, 7]], dtype=np.int32), r"pid 101: track 7 .* more than once"),
        (np.array([[2, 1, 4], [5, 6, 7]], dtype=np.int32), r"pid 100: seed track 1 .* rank 2"),
        ([[2, 3, 4], [5, 6, 7]], "returned list"),
    ],
)
def test_check_recs_names_model_and_pid(recs: Any, match: str) -> None:
    q = make_queries([[0, 1], [8]])
    with pytest.raises(ModelOutputError, match=rf"model 'bad': .*{match}"):
        check_recs(recs, q, N_TRACKS, 3, "bad")


def test_check_recs_allows_repeated_empty_slots() -> None:
    q = make_queries([[0]])
    check_recs(np.array([[-1, -1, -1]], dtype=np.int32), q, N_TRACKS, 3, "m")


def test_backfill_counts_and_skips_row_and_seeds() -> None:
    q = make_queries([[5], [], [9]])
    ranking = np.array([5, 4, 3, 2, 1, 0], dtype=np.int32)  # most popular first
    recs = np.array([[4, -1, -1], [7, 8, 9], [-1, -1, -1]], dtype=np.int32)
    out, counts = backfill(recs, q, ranking, 3)
    assert counts.tolist() == [2, 0, 3]
    assert out[0].tolist() == [4, 3, 2]  # 5 is a seed, 4 already there
    assert out[1].tolist() == [7, 8, 9]
    assert out[2].tolist() == [5, 4, 3]
    assert recs[0, 1] == -1  # input untouched


def test_backfill_keeps_order_when_gaps_are_inside() -> None:
    q = make_queries([[0]])
    out, counts = backfill(
        np.array([[-1, 7, -1]], dtype=np.int32), q, np.arange(10, dtype=np.int32), 3
    )
    assert out[0].tolist() == [7, 1, 2]
    assert counts.tolist() == [2]


def test_backfill_fails_when_catalogue_too_small() -> None:
    q = make_queries([[0]])
    with pytest.raises(HarnessError, match="pid 100: .*too few tracks"):
        backfill(np.full((1, 3), -1, dtype=np.int32), q, np.array([0, 1], dtype=np.int32), 3)


# ---------------------------------------------------------------------------- one model, stand-ins


class Halves(Recommender):
    """Recommends the first `n` non-seed tracks, leaving the rest empty (-1); counts its fits."""

    cold_start = "title"
    fits = 0

    def __init__(self, n: int = 2) -> None:
        self.n = n

    def fit(self, train: TrainSet) -> Self:
        type(self).fits += 1
        self.n_tracks_ = train.n_tracks
        self.fit_info_ = {"n_playlists": train.n_playlists}
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.full((len(queries), k), -1, dtype=np.int32)
        for i in range(len(queries)):
            assert len(queries.seeds(i)) > 0, "seedless queries must go to the title baseline"
            cand = np.setdiff1d(np.arange(self.n_tracks_), queries.seeds(i))[: self.n]
            out[i, : len(cand)] = cand
        return out


class Cheater(Recommender):
    """Recommends its seeds back: the runner must refuse it."""

    cold_start = "model"

    def fit(self, train: TrainSet) -> Self:
        return self

    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        out = np.full((len(queries), k), -1, dtype=np.int32)
        for i in range(len(queries)):
            s = np.unique(queries.seeds(i))[:k]
            out[i, : len(s)] = s
        return out


class Duplicator(Cheater):
    def recommend(self, queries: Queries, k: int = 500) -> IntArray:
        return np.full((len(queries), k), 29, dtype=np.int32)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(models.MODELS, "halves", Halves)
    monkeypatch.setitem(models.MODELS, "cheater", Cheater)
    monkeypatch.setitem(models.MODELS, "duplicator", Duplicator)
    Halves.fits = 0


def challenge_eval(tmp_path: Path, k: int = 5) -> Evaluation:
    """Submissions-only mode with k != 500: needs neither metrics nor the submission writer."""
    corpus = tiny_corpus()
    queries = make_queries([[0, 1], [], [2], []], ["rock", "chill", None, "nosuch"])
    return Evaluation(
        corpus=corpus,
        train=whole_train_set(corpus),
        queries=queries,
        run_dir=tmp_path / "run",
        submissions_dir=tmp_path / "subs",
        data={"name": "tiny", "fingerprint": "tiny", "synthetic": True},
        split={"path": "cs.json", "fingerprint": "cs", "n_queries": len(queries)},
        challenge_path=tmp_path / "cs.json",
        mode="challenge",
        k=k,
        team="t",
        email="e@x",
    )


def test_rows_a_model_leaves_empty_go_to_the_title_baseline(tmp_path: Path, registry: None) -> None:
    ev = challenge_eval(tmp_path)
    manifest = evaluate_model(
        ev, "halves", build_model("halves", {"n": 0}), force=False
    )  # answers nothing
    _, recs, _ = read_recs(ev.run_dir / "halves" / "recs.npz")
    assert manifest["title_routed"] == 2 and manifest["title_unanswered"] == 2
    expected, _ = backfill(ev.title_model().recommend(ev.queries, 5), ev.queries, ev.ranking, 5)
    assert recs.tolist() == expected.tolist()
    answered = evaluate_model(
        ev, "halves", build_model("halves", {"n": 1}), force=False
    )  # one own track: kept
    assert answered["title_unanswered"] == 0


def test_evaluate_model_writes_files_routes_title_and_backfills(
    tmp_path: Path, registry: None
) -> None:
    ev = challenge_eval(tmp_path)
    manifest = evaluate_model(ev, "halves", build_model("halves", {"n": 2}), force=False)
    pids, recs, backfilled = read_recs(ev.run_dir / "halves" / "recs.npz")
    assert pids.tolist() == [100, 101, 102, 103]
    assert recs.shape == (4, 5) and recs.dtype == np.int32
    assert (recs >= 0).all()
    # seeded queries: 2 own tracks + 3 popular; seedless ones: the title baseline fills them
    assert backfilled.tolist()[0] == 3 and backfilled.tolist()[2] == 3
    assert recs[0, :2].tolist() == [2, 3] and recs[2, :2].tolist() == [0, 1]
    for i, seeds in enumerate([[0, 1], [], [2], []]):
        assert len(set(recs[i].tolist())) == 5
        assert not set(seeds) & set(recs[i].tolist())
    assert manifest["cold_start"] == "title" and manifest["title_routed"] == 2
    assert manifest["title_unanswered"] == 0
    assert manifest["backfill"] == {"slots": int(backfilled.sum()), "queries": 2, "max": 3}
    assert manifest["params"] == {"n": 2}
    assert manifest["fit_info"] == {"n_playlists": 24}
    assert manifest["peak_rss_mb"] > 0 and manifest["fit_s"] >= 0
    assert set(manifest["versions"]) >= {"python", "numpy", "scipy", "torch", "gensim", "sklearn"}
    assert manifest["submission"] is None  # k != 500: no challenge-format file
    on_disk = read_json(ev.run_dir / "halves" / "manifest.json")
    assert on_disk["key"] == manifest["key"]


def test_evaluate_model_reuses_complete_run_unless_forced(tmp_path: Path, registry: None) -> None:
    ev = challenge_eval(tmp_path)
    evaluate_model(ev, "halves", build_model("halves", {}), force=False)
    recs_file = ev.run_dir / "halves" / "recs.npz"
    mtime = recs_file.stat().st_mtime_ns
    evaluate_model(ev, "halves", build_model("halves", {}), force=False)
    assert Halves.fits == 1 and recs_file.stat().st_mtime_ns == mtime
    evaluate_model(
        ev, "halves", build_model("halves", {"n": 3}), force=False
    )  # other params: refit
    assert Halves.fits == 2
    evaluate_model(ev, "halves", build_model("halves", {"n": 3}), force=True)
    assert Halves.fits == 3


def test_incomplete_run_is_redone(tmp_path: Path, registry: None) -> None:
    ev = challenge_eval(tmp_path)
    evaluate_model(ev, "halves", build_model("halves", {}), force=False)
    (ev.run_dir / "halves" / "manifest.json").unlink()  # as if killed before the manifest
    evaluate_model(ev, "halves", build_model("halves", {}), force=False)
    assert Halves.fits == 2


def test_failed_recomputation_leaves_no_manifest(
    tmp_path: Path, registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = challenge_eval(tmp_path)
    evaluate_model(ev, "halves", build_model("halves", {}), force=False)
    monkeypatch.setattr(Halves, "fit", _raise)
    with pytest.raises(RuntimeError, match="killed"):
        evaluate_model(ev, "halves", build_model("halves", {}), force=True)
    assert not (ev.run_dir / "halves" / "manifest.json").exists()


def _raise(self: Recommender, train: TrainSet) -> None:
    raise RuntimeError("killed")


@pytest.mark.parametrize(
    ("name", "match"),
    [("cheater", r"model 'cheater': pid 100: seed track 0 "), ("duplicator", "more than once")],
)
def test_bad_model_is_refused_and_leaves_no_run(
    tmp_path: Path, registry: None, name: str, match: str
) -> None:
    ev = challenge_eval(tmp_path)
    with pytest.raises(ModelOutputError, match=match):
        evaluate_model(ev, name, build_model(name, {}), force=False)
    assert not (ev.run_dir / name / "manifest.json").exists()


class Explained(Halves):
    """Keeps what `kept` says beside its recommendations (`artifacts()`)."""

    def __init__(self, n: int = 2, kept: dict[str, Any] | None = None) -> None:
        self.n = n
        self.kept = kept

    def artifacts(self) -> dict[str, Any]:
        if self.kept is not None:
            return self.kept
        return {
            "weights.parquet": {"feature": ["a", "b"], "gain": np.array([2.5, 1.0])},
            "notes.json": {"rounds": np.int64(3)},
        }


def test_artifacts_are_written_beside_the_run_and_listed(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    ev = challenge_eval(tmp_path)
    manifest = evaluate_model(ev, "explained", Explained(), force=False)
    folder = ev.run_dir / "explained"
    assert manifest["files"]["artifacts"] == ["notes.json", "weights.parquet"]
    table = pq.read_table(folder / "weights.parquet").to_pydict()
    assert table == {"feature": ["a", "b"], "gain": [2.5, 1.0]}
    assert read_json(folder / "notes.json") == {"rounds": 3}
    plain = evaluate_model(ev, "halves", Halves(), force=False)
    assert plain["files"]["artifacts"] == []


@pytest.mark.parametrize(
    "kept",
    [
        {"recs.npz": {}},  # the runner's own files
        {"manifest.json": {}},
        {"../x.json": 1},  # not a plain file name
        {"w.csv": {"a": [1]}},  # neither .parquet nor .json
        {"x.parquet": {"a": [1, 2], "b": [1]}},  # columns of unequal length
        {"x.parquet": {"a": [[1, 2]]}},  # a 2-D column
    ],
)
def test_bad_artifacts_are_refused_before_the_manifest(
    tmp_path: Path, kept: dict[str, Any]
) -> None:
    ev = challenge_eval(tmp_path)
    with pytest.raises(ModelOutputError, match="artifact"):
        evaluate_model(ev, "explained", Explained(kept={"notes.json": 1, **kept}), force=False)
    assert not (ev.run_dir / "explained" / "manifest.json").exists()
    assert not (ev.run_dir / "explained" / "notes.json").exists()


# ---------------------------------------------------------------------------- end to end

LEADERBOARD_ENTRY = {
    "name",
    "params",
    "overall",
    "categories",
    "fit_s",
    "recommend_s",
    "peak_rss_mb",
    "submission",
    "ci",  # 95% bootstrap CIs and the paired test vs the best (issue 12)
}
OVERALL = {"r_precision", "r_precision_track", "ndcg", "ndcg_rules", "clicks", "n", "missing"}


def write_mini_mpd(out: Path, n_playlists: int = 1200, n_tracks: int = 1500) -> Path:
    """An MPD folder in the real slice format: Zipf-popular tracks, so every track repeats.

    Lengths cover every challenge category's range (10-50, 40-100, 101-250).
    """
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, n_tracks + 1) ** 0.7
    weights /= weights.sum()
    titles = ["rock", "chill", "party", "country", "workout", "rap"]
    out.mkdir(parents=True)
    for start in range(0, n_playlists, 1000):
        stop = min(n_playlists, start + 1000)
        playlists = []
        for pid in range(start, stop):
            lo, hi = [(10, 50), (40, 100), (101, 250)][int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
            ids = rng.choice(n_tracks, size=int(rng.integers(lo, hi + 1)), replace=False, p=weights)
            tracks = [
                {
                    "pos": j,
                    "artist_name": f"a{int(t) // 4}",
                    "track_uri": uri("track", int(t)),
                    "artist_uri": uri("artist", int(t) // 4),
                    "track_name": f"t{int(t)}",
                    "album_uri": uri("album", int(t) // 2),
                    "duration_ms": 1000,
                    "album_name": f"b{int(t) // 2}",
                }
                for j, t in enumerate(ids)
            ]
            playlists.append(
                {
                    "name": titles[pid % len(titles)],
                    "collaborative": "false",
                    "pid": pid,
                    "modified_at": 1500000000,
                    "num_tracks": len(tracks),
                    "num_albums": len({t["album_uri"] for t in tracks}),
                    "num_followers": 1,
                    "num_edits": 2,
                    "duration_ms": 1000 * len(tracks),
                    "num_artists": len({t["artist_uri"] for t in tracks}),
                    "tracks": tracks,
                }
            )
        info = {"generated_on": "2017-12-03", "slice": f"{start}-{stop - 1}", "version": "v1"}
        doc = {"info": info, "playlists": playlists}
        (out / f"mpd.slice.{start}-{stop - 1}.json").write_bytes(orjson.dumps(doc))
    return out


@pytest.fixture(scope="module")
def mini_mpd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mini_mpd(tmp_path_factory.mktemp("mpd") / "mini")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPD_HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def _mtimes(d: Path) -> dict[str, int]:
    return {
        str(p.relative_to(d)): p.stat().st_mtime_ns for p in sorted(d.rglob("*")) if p.is_file()
    }


def test_end_to_end_files_reuse_and_force(in_tmp: Path, mini_mpd: Path) -> None:
    from harness.challenge.submission import verify_submission
    from harness.cli import main

    args = ["evaluate", "--mpd", str(mini_mpd), "--models", "popular,title"]
    assert main(args) == 0
    run = in_tmp / "runs" / "mini-s0"
    for model in ("popular", "title"):
        for f in ("recs.npz", "metrics.parquet", "manifest.json"):
            assert (run / model / f).is_file()
        pids, recs, backfilled = read_recs(run / model / "recs.npz")
        assert recs.shape == (60, 500) and recs.dtype == np.int32 and (recs >= 0).all()
        sub = in_tmp / "submissions" / "mini-s0" / f"{model}.csv.gz"
        report = verify_submission(sub, run / "split" / "challenge_set.json")
        assert report.ok, str(report)
    board = read_json(run / "leaderboard.json")
    assert set(board) == {"data", "split", "models", "metric_definitions"}
    assert board["data"]["synthetic"] is False and board["data"]["n_playlists"] == 1200
    # absolute, and relative to the run folder: the run folder describes itself from anywhere
    assert board["split"]["path"] == str((run / "split").resolve())
    assert board["split"]["relative_path"] == "split"
    assert board["split"]["seed"] == 0
    assert board["split"]["coverage"] == "best-effort"
    assert board["split"]["not_in_train"] == 0  # every track of this corpus repeats
    assert {m["name"] for m in board["models"]} == {"popular", "title"}
    for m in board["models"]:
        assert set(m) == LEADERBOARD_ENTRY
        assert set(m["overall"]) == OVERALL
        assert set(m["categories"]) == {str(c) for c in range(1, 11)}
        assert m["overall"]["n"] == 60 and m["overall"]["missing"] == 0
        assert 0 < m["overall"]["r_precision"] <= 1
        assert (run / m["submission"]).resolve() == (
            in_tmp / "submissions" / "mini-s0" / f"{m['name']}.csv.gz"
        )
    assert (run / "leaderboard.md").is_file() and (run / "leaderboard.csv").is_file()

    recs_bytes = (run / "popular" / "recs.npz").read_bytes()
    metrics_bytes = (run / "popular" / "metrics.parquet").read_bytes()
    sub_bytes = (in_tmp / "submissions" / "mini-s0" / "popular.csv.gz").read_bytes()
    # a second run reuses everything: no model file is rewritten
    before = _mtimes(run)
    assert main(args) == 0
    after = _mtimes(run)
    for f in ("popular/recs.npz", "popular/manifest.json", "split/challenge_set.json"):
        assert after[f] == before[f]
    # other hyperparameters: that model only is refitted
    assert main([*args, "-p", "title.min_playlists=2"]) == 0
    changed = _mtimes(run)
    assert changed["popular/recs.npz"] == before["popular/recs.npz"]
    assert changed["title/recs.npz"] != before["title/recs.npz"]
    assert read_json(run / "title" / "manifest.json")["params"] == {"min_playlists": 2}
    # --force recomputes the models, not the split
    assert main([*args, "--force"]) == 0
    forced = _mtimes(run)
    assert forced["popular/recs.npz"] != before["popular/recs.npz"]
    assert forced["split/challenge_set.json"] == before["split/challenge_set.json"]
    # deterministic models: the recomputed files are byte-identical
    assert (run / "popular" / "recs.npz").read_bytes() == recs_bytes
    assert (run / "popular" / "metrics.parquet").read_bytes() == metrics_bytes
    assert (in_tmp / "submissions" / "mini-s0" / "popular.csv.gz").read_bytes() == sub_bytes
    # the leaderboard command re-renders identical files from the run folder alone
    board_bytes = (run / "leaderboard.json").read_bytes()
    assert main(["leaderboard", str(run)]) == 0
    assert (run / "leaderboard.json").read_bytes() == board_bytes


def test_challenge_mode_writes_submissions_only(in_tmp: Path, mini_mpd: Path) -> None:
    from harness.challenge.submission import verify_submission
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--seed", "3"]) == 0
    challenge = in_tmp / "sp" / "challenge_set.json"
    args = ["evaluate", "--mpd", str(mini_mpd), "--models", "knn", "--challenge-set"]
    assert main([*args, str(challenge)]) == 0
    run = in_tmp / "runs" / "mini-challenge"
    assert (run / "knn" / "recs.npz").is_file() and (run / "knn" / "manifest.json").is_file()
    assert not (run / "knn" / "metrics.parquet").exists()
    assert not (run / "leaderboard.json").exists()
    manifest = read_json(run / "knn" / "manifest.json")
    assert manifest["mode"] == "challenge" and manifest["cold_start"] == "title"
    assert manifest["title_routed"] == 6  # category 1 of the 60 challenge playlists
    assert manifest["data"]["n_playlists"] == 1200  # trained on the whole corpus
    report = verify_submission(in_tmp / "submissions" / "mini-challenge" / "knn.csv.gz", challenge)
    assert report.ok, str(report)


def test_challenge_mode_says_how_many_seeds_it_dropped(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--seed", "3"]) == 0
    doc = read_json(in_tmp / "sp" / "challenge_set.json")
    with_seeds = [p for p in doc["playlists"] if p["tracks"]]
    with_seeds[0]["tracks"][0]["track_uri"] = "spotify:track:" + "Q" * 22  # not in the MPD
    (in_tmp / "cs.json").write_bytes(orjson.dumps(doc))
    capsys.readouterr()
    args = ["evaluate", "--mpd", str(mini_mpd), "--models", "popular", "--challenge-set"]
    assert main([*args, str(in_tmp / "cs.json")]) == 0
    out = " ".join("".join(capsys.readouterr()).split())  # rich may wrap the line
    assert "challenge set: 1 seed track(s) of 1 playlist(s) are not in the MPD" in out
    assert read_json(in_tmp / "runs" / "mini-challenge" / "run.json")["split"]["unknown_seeds"] == 1


def test_explicit_split_is_reused_or_refused(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["split", str(mini_mpd), "--out", "sp", "--seed", "3"]) == 0
    base = ["evaluate", "--mpd", str(mini_mpd), "--models", "popular", "--split", "sp"]
    assert main([*base, "--seed", "3", "--out", "r"]) == 0
    split = read_json(in_tmp / "r" / "leaderboard.json")["split"]
    assert split["path"] == str((in_tmp / "sp").resolve()) and split["relative_path"] == "../sp"
    assert not (in_tmp / "r" / "split").exists()
    files = _mtimes(in_tmp / "sp")
    assert main([*base, "--out", "r"]) != 0  # seed 0 asked, the folder holds seed 3
    assert "made with seed 3, not 0" in capsys.readouterr().err
    assert main([*base, "--seed", "3", "--per-category", "5", "--out", "r"]) != 0
    assert "made with per_category 6, not per_category 5" in capsys.readouterr().err
    assert _mtimes(in_tmp / "sp") == files  # a folder named with --split is never overwritten


def test_cli_errors_name_the_problem(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["evaluate", "--models", "nosuch"]) != 0
    assert "available: popular" in capsys.readouterr().err
    assert main(["evaluate", "--models", "title", "-p", "title.bogus=1"]) != 0
    assert "its parameters: min_playlists" in capsys.readouterr().err
    assert main(["evaluate", "--models", "title", "-p", "title.min_playlists=x"]) != 0
    assert "expected int" in capsys.readouterr().err
    assert main(["evaluate", "--models", "title", "-p", "title.min_playlists"]) != 0
    assert "MODEL.PARAM=VALUE" in capsys.readouterr().err
    assert main(["evaluate", "--models", "popular", "--synthetic", "nosuch"]) != 0
    assert "unknown preset" in capsys.readouterr().err
    assert main(["evaluate", "--models", "popular", "--mpd", "nowhere"]) != 0
    assert "nowhere" in capsys.readouterr().err
    # nothing slow happened before these errors
    assert not (in_tmp / "data").exists() and not (in_tmp / "runs").exists()


@pytest.mark.slow
def test_synthetic_tiny_preset_end_to_end(in_tmp: Path) -> None:
    """The default path: generate the synthetic preset once, split, run, verify."""
    from harness.challenge.submission import verify_submission
    from harness.cli import main

    assert main(["evaluate", "--synthetic", "tiny", "--models", "popular,knn"]) == 0
    data = in_tmp / "data" / "synthetic" / "tiny-s0"
    assert data.is_dir() and not list(data.parent.glob(".*tmp*"))
    run = in_tmp / "runs" / "synthetic-tiny-s0"
    board = read_json(run / "leaderboard.json")
    assert board["data"]["synthetic"] is True
    # a 2,000-playlist corpus cannot keep every test track in training: the caption says so
    assert board["split"]["coverage"] == "best-effort" and board["split"]["not_in_train"] > 0
    assert "absent from training (coverage best-effort)" in (run / "leaderboard.md").read_text()
    for name in ("popular", "knn"):
        sub = in_tmp / "submissions" / "synthetic-tiny-s0" / f"{name}.csv.gz"
        assert verify_submission(sub, run / "split" / "challenge_set.json").ok
    mtime = data.stat().st_mtime_ns
    assert main(["evaluate", "--synthetic", "tiny", "--models", "popular"]) == 0
    assert data.stat().st_mtime_ns == mtime  # generated once
    # the same slices given with --mpd are still labelled synthetic (their info says so)
    assert main(["evaluate", "--mpd", str(data), "--models", "popular", "--out", "by-path"]) == 0
    assert read_json(in_tmp / "by-path" / "leaderboard.json")["data"]["synthetic"] is True
    assert "synthetic data" in (in_tmp / "by-path" / "leaderboard.md").read_text()


def test_two_runs_of_the_same_name_do_not_share_submissions(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """submissions/<run name> belongs to one run folder: another folder of the same name is
    refused before any work, and a submission changed behind the run's back is rewritten."""
    from harness.cli import main

    base = ["evaluate", "--mpd", str(mini_mpd), "--models", "popular"]
    assert main([*base, "--out", "exp1/r"]) == 0
    sub = in_tmp / "submissions" / "r" / "popular.csv.gz"
    original = sub.read_bytes()
    assert read_json(in_tmp / "submissions" / "owners.json") == {
        "r": str((in_tmp / "exp1" / "r").resolve())
    }
    assert [p.name for p in sub.parent.iterdir()] == ["popular.csv.gz"]  # nothing else there
    capsys.readouterr()
    assert main([*base, "--seed", "1", "--out", "exp2/r"]) == 2
    err = capsys.readouterr().err
    assert "submissions/r holds the submissions of run" in err and "exp1/r" in err
    assert not (in_tmp / "exp2").exists()  # refused before the split was written
    assert sub.read_bytes() == original
    sub.write_bytes(b"not ours")  # e.g. left by an older harness
    assert main([*base, "--out", "exp1/r"]) == 0
    assert "popular: reusing" in capsys.readouterr().err
    assert sub.read_bytes() == original


def test_an_int_for_a_float_parameter_is_the_same_run(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    base = ["evaluate", "--mpd", str(mini_mpd), "--models", "knn", "--out", "r"]
    assert main([*base, "-p", "knn.alpha=1"]) == 0
    assert read_json(in_tmp / "r" / "knn" / "manifest.json")["params"]["alpha"] == 1.0
    capsys.readouterr()
    assert main([*base, "-p", "knn.alpha=1.0"]) == 0
    assert "knn: reusing" in capsys.readouterr().err


def test_other_k_writes_no_submission_and_says_so(
    in_tmp: Path, mini_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    argv = ["evaluate", "--mpd", str(mini_mpd), "--models", "popular", "--k", "100"]
    assert main([*argv, "--out", "r"]) == 0
    assert "submissions: none (--k 100; a submission has 500)" in capsys.readouterr().out
    assert not (in_tmp / "submissions").exists()


def test_a_synthetic_mpd_given_with_mpd_is_labelled_and_its_seed_kept(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    assert main(["synth", "--playlists", "300", "--seed", "4", "--out", "s2"]) == 0
    assert main(["evaluate", "--mpd", "s2", "--models", "popular", "--per-category", "1"]) == 0
    sub = in_tmp / "submissions" / "s2-s0" / "popular.csv.gz"
    assert gzip.decompress(sub.read_bytes()).startswith(b"team_info,")  # the file starts so
    manifest = read_json(in_tmp / "runs" / "s2-s0" / "popular" / "manifest.json")
    assert manifest["data"]["synthetic"] is True and manifest["seeds"]["data"] == 4
