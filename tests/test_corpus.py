"""The encoded corpus: id assignment, normalisation, and the on-disk round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.corpus import Corpus, normalize_name


def test_normalize_name_matches_official_rules() -> None:
    assert normalize_name("Country 🤠") == "country 🤠"
    assert normalize_name("  CHILL   vibes!!! ") == "chill vibes"
    assert normalize_name("Música del Norte!") == "música del norte"
    assert normalize_name("rap/hip-hop (2017)") == "rap hip-hop 2017"
    assert (
        normalize_name("a.b,c#d$e%f^g*h;i:j{k}l=m_n`o~p@q") == "a b c d e f g h i j k l m n o p q"
    )


def test_encoding_is_contiguous_in_first_appearance_order(fixture_corpus: Corpus) -> None:
    c = fixture_corpus
    assert c.n_playlists == 3
    assert list(c.pids) == [0, 1, 2]
    assert list(c.lengths) == [6, 5, 7]
    assert c.n_tracks == 7 and c.n_artists == 4 and c.n_albums == 4
    # playlist 0 starts with Jolene twice (positions 0 and 4): the same id
    p0 = c.tracks_of(0)
    assert p0[0] == p0[4] == 0
    assert c.track_ids.dtype == np.int32 and c.offsets.dtype == np.int64
    assert list(c.collaborative) == [False, True, False]
    assert c.descriptions[1] == "sunday morning ☕ — café" and c.descriptions[0] is None
    assert c.normalized_names[2] == "música del norte"


def test_round_trip_through_disk(fixture_corpus: Corpus, tmp_path: Path) -> None:
    fixture_corpus.source = {"fingerprint": "abc", "synthetic": False}
    fixture_corpus.save(tmp_path / "c")
    back = Corpus.load(tmp_path / "c")
    for name in ("pids", "offsets", "track_ids", "track_artist", "track_album", "num_edits"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fixture_corpus, name))
    assert list(back.track_uris) == list(fixture_corpus.track_uris)
    assert list(back.names) == list(fixture_corpus.names)
    assert back.descriptions[0] is None
    assert back.source == {"fingerprint": "abc", "synthetic": False}
    assert back.track_object(0, 3)["track_name"] == "Jolene"
    assert not list(tmp_path.glob(".*tmp*")), "no temporary directory left behind"


def test_train_set_without_validation_drops_those_playlists() -> None:
    import numpy as np

    from harness.types import Queries, TrainSet, Validation

    train = TrainSet(
        offsets=np.array([0, 2, 5, 6], dtype=np.int64),
        track_ids=np.array([0, 1, 2, 3, 4, 5], dtype=np.int32),
        titles=np.array(["a", "b", "c"], dtype=object),
        n_tracks=6,
        track_artist=np.zeros(6, dtype=np.int32),
        track_album=np.zeros(6, dtype=np.int32),
    )
    queries = Queries(
        pids=np.array([7], dtype=np.int64),
        seed_offsets=np.array([0, 1], dtype=np.int64),
        seed_ids=np.array([2], dtype=np.int32),
        seed_pos=np.array([0], dtype=np.int32),
        titles=np.array(["b"], dtype=object),
        categories=np.array([2], dtype=np.int8),
    )
    val = Validation(
        rows=np.array([1], dtype=np.int64),
        queries=queries,
        holdout_offsets=np.array([0, 2], dtype=np.int64),
        holdout_ids=np.array([3, 4], dtype=np.int32),
    )
    inner = TrainSet(**{**train.__dict__, "validation": val}).without_validation()
    assert inner.offsets.tolist() == [0, 2, 3]
    assert inner.track_ids.tolist() == [0, 1, 5]
    assert inner.titles.tolist() == ["a", "c"] and inner.validation is None
    assert val.holdouts(0).tolist() == [3, 4]
    assert train.without_validation().track_ids.tolist() == train.track_ids.tolist()
