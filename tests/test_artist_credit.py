"""Artist credit covers every track the corpus knows, in `score` as in `evaluate`, and the metric
labels say which R-precision is which (docs/metrics.md, "Labels and metric_definitions")."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import orjson
import pytest

from harness.challenge.metrics import BY_NAME, compute_metrics, metric_definitions
from harness.challenge.scoring import score_submission
from harness.challenge.split import make_split, write_split
from harness.challenge.split_core import train_catalogue
from harness.challenge.submission import write_submission
from harness.cli import main
from harness.data.ingest import load_corpus


def test_score_credits_artists_of_tracks_outside_training_as_evaluate_does(
    tmp_path: Path, tiny_mpd: Path
) -> None:
    """A submission that recommends tracks only test playlists hold (seeds or held-out tracks
    of other playlists) first: `score` gives the artist credit the corpus's artists give."""
    corpus = load_corpus(tiny_mpd, cache_dir=tmp_path / "cache")
    split = make_split(corpus, seed=0, per_category=1)
    write_split(split, corpus, tmp_path / "split")
    outside = np.flatnonzero(~train_catalogue(split.test_idx, corpus))  # (m,) track ids
    inside = np.flatnonzero(train_catalogue(split.test_idx, corpus))
    q = split.queries
    rows = []
    for j in range(len(q)):
        seeds = set(q.seed_ids[q.seed_offsets[j] : q.seed_offsets[j + 1]].tolist())
        ids = [t for t in [*outside.tolist(), *inside.tolist()] if t not in seeds][:500]
        rows.append(ids)
    recs = np.array(rows, dtype=np.int64)  # (n, 500)
    sub = tmp_path / "sub.csv.gz"
    write_submission(sub, q.pids.tolist(), corpus.track_uris[recs].tolist(), "t", "e@x")
    scored = score_submission(sub, tmp_path / "split")
    artists = corpus.track_artist
    want = compute_metrics(
        recs, split.holdout_offsets, split.holdout_ids, artists[split.holdout_ids], artists[recs]
    )
    for m in ("r_precision", "r_precision_track"):
        np.testing.assert_allclose(scored.per_playlist[m], want[m], rtol=0, atol=1e-15)
    credited = scored.per_playlist["r_precision"] - scored.per_playlist["r_precision_track"]
    assert credited.sum() > 0  # the case is not vacuous: some credit from outside training


def test_labels_name_the_variant() -> None:
    assert BY_NAME["r_precision"].label == "R-precision (with artist credit)"
    assert BY_NAME["r_precision_track"].label == "R-precision (official script)"
    definitions = metric_definitions()
    assert list(definitions) == ["r_precision", "r_precision_track", "ndcg", "ndcg_rules", "clicks"]
    assert all(d["definition"] for d in definitions.values())
    assert definitions["clicks"]["higher_is_better"] is False
    assert definitions["clicks"]["missing_score"] == 51.0


@pytest.mark.parametrize("command", ["score", "leaderboard", "evaluate", "report"])
def test_help_labels_both_r_precisions(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "r_precision = R-precision (with artist credit)" in text
    assert "r_precision_track = R-precision (official script)" in text


def test_score_json_and_table_say_which_r_precision(
    tmp_path: Path, tiny_mpd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = load_corpus(tiny_mpd, cache_dir=tmp_path / "cache")
    split = make_split(corpus, seed=0, per_category=1)
    write_split(split, corpus, tmp_path / "split")
    inside = np.flatnonzero(train_catalogue(split.test_idx, corpus))
    q = split.queries
    rows = []
    for j in range(len(q)):
        seeds = set(q.seed_ids[q.seed_offsets[j] : q.seed_offsets[j + 1]].tolist())
        rows.append(corpus.track_uris[[t for t in inside if t not in seeds][:500]].tolist())
    sub = tmp_path / "sub.csv"
    write_submission(sub, q.pids.tolist(), rows, "t", "e@x")
    assert main(["score", str(sub), "--split", str(tmp_path / "split"), "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["metric_definitions"] == metric_definitions()
    assert main(["score", str(sub), "--split", str(tmp_path / "split")]) == 0
    table = capsys.readouterr().out
    assert re.search(r"with artist\s", table) and "official script" in " ".join(table.split())
