"""Shared fixtures: the hand-written real-format slice and its corpus."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from harness.data.corpus import Corpus

FIXTURES = Path(__file__).parent / "fixtures"
SLICE = FIXTURES / "mpd.slice.0-2.json"


@pytest.fixture
def slice_path() -> Path:
    """A 3-playlist slice in the exact MPD format (unicode, a description, a repeated track)."""
    return SLICE


@pytest.fixture
def fixture_corpus() -> Corpus:
    """The fixture slice encoded with the reference encoder."""
    return Corpus.from_playlists(orjson.loads(SLICE.read_bytes())["playlists"])


@pytest.fixture(scope="session")
def tiny_mpd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-playlist synthetic MPD (one slice), written once per session; do not modify it."""
    from harness.data.synthetic import write_synthetic

    mpd = tmp_path_factory.mktemp("tiny") / "mpd"
    write_synthetic(mpd, 300, seed=1, workers=1)
    return mpd
