"""Shared fixtures: the hand-written real-format slice and its corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def seal_by_hand(model_dir: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """A hand-written model run made provably current, as evaluate stores one: a recs.npz (pids
    of its metrics.parquet, where absent), key_fields from the manifest's own fields, the key
    they hash to, and the files' SHA-256 (harness/run/provenance.py). Writes the manifest."""
    import numpy as np
    import pyarrow.parquet as pq

    from harness.atomic import write_json
    from harness.run.manifest import fingerprint
    from harness.run.rundir import run_key, seal, write_recs

    if not (model_dir / "recs.npz").exists():
        pids = pq.read_table(model_dir / "metrics.parquet").column("pid").to_numpy()
        recs = np.zeros((len(pids), 1), dtype=np.int32)
        write_recs(model_dir / "recs.npz", pids, recs, np.zeros(len(pids), dtype=np.int32))
    fields = run_key(
        manifest["model"],
        manifest.get("params", {}),
        mode=manifest.get("mode", "split"),
        k=manifest.get("k", 500),
        data=manifest.get("data", {}),
        split=manifest.get("split", {}),
    )
    manifest = seal(
        model_dir, {"params": {}, "k": 500, **manifest, "key": fingerprint(fields)}, fields
    )
    write_json(model_dir / "manifest.json", manifest)
    return manifest
