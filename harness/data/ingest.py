"""Reading the MPD: slices (a folder, one slice file, or the MPD zip) -> validated, cached Corpus.

Slices are decoded one at a time with msgspec typed Structs (`slices.py`), validated against the
schema and the invariants of the dataset (mpd-facts §1; `checks.py`), and encoded into
slice-local ids (`parse.py`); the main process then maps those to global ids in order of first
appearance (`merge.py`). With several workers, slices are parsed in worker processes and merged
in file order. The encoded corpus is cached, keyed by the inputs' names, sizes and mtimes.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import itertools
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from harness.data.corpus import FORMAT_VERSION, Corpus
from harness.data.merge import Merger
from harness.data.parse import SliceResult, parse_slice
from harness.data.slices import SliceRef, find_slices
from harness.errors import DataError
from harness.progress import SILENT, Reporter

# Bump when parsing or validation changes what a cached corpus holds.
# 2: source["slices"] (file name and playlists of each slice); a track's duration_ms may differ
# between its occurrences (counted and warned, the first kept; it was an error)
DATA_VERSION = 2


def default_cache_dir() -> Path:
    """`$MPD_HARNESS_CACHE`, else `.cache/mpd-harness` under the current directory."""
    env = os.environ.get("MPD_HARNESS_CACHE")
    return Path(env) if env else Path.cwd() / ".cache" / "mpd-harness"


def fingerprint(stamps: Sequence[tuple[str, int, int]], lenient: bool) -> str:
    """Hash of the format versions, the lenient flag and each input's name, size and mtime."""
    key = orjson.dumps([FORMAT_VERSION, DATA_VERSION, lenient, [list(s) for s in stamps]])
    return hashlib.sha256(key).hexdigest()[:24]


# ------------------------------------------------------------------------------------ parsing


def _auto_workers(n_files: int) -> int:
    """Two parser processes pay off from a handful of slices; one below that."""
    return max(1, min(2, os.cpu_count() or 1, n_files // 4))


def _pool(workers: int) -> Any:
    """Parser processes. `fork` starts fast and needs no importable __main__; it happens before
    any progress thread exists. Results come back through multiprocessing's in-memory pickling,
    never through a file."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ctx.Pool(workers, initializer=_ignore_sigint)


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent, which terminates them (no worker tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parse_job(job: tuple[SliceRef, bool]) -> SliceResult:
    return parse_slice(*job)


def _in_order(pool: Any, jobs: list[tuple[SliceRef, bool]], ahead: int) -> Iterator[SliceResult]:
    """Results in job order, with at most `ahead` slices in flight (bounded memory, unlike imap
    when the merging falls behind)."""
    pending: collections.deque[Any] = collections.deque()
    todo = iter(jobs)
    for job in itertools.islice(todo, ahead):
        pending.append(pool.apply_async(_parse_job, (job,)))
    while pending:
        result = pending.popleft().get()
        for job in itertools.islice(todo, 1):
            pending.append(pool.apply_async(_parse_job, (job,)))
        yield result


def _ingest(
    refs: list[SliceRef], lenient: bool, workers: int, reporter: Reporter, label: str
) -> Merger:
    """Parse every slice (ahead, in `workers` processes when > 1) and merge them in file order."""
    merger = Merger(lenient)
    with contextlib.ExitStack() as stack:
        results: Iterable[SliceResult]
        if workers > 1:
            pool = stack.enter_context(_pool(workers))
            results = _in_order(pool, [(ref, lenient) for ref in refs], ahead=2 * workers)
        else:
            results = (parse_slice(ref, lenient) for ref in refs)
        advance = stack.enter_context(reporter.step(f"reading {label}", total=len(refs)))
        for r in results:
            merger.add(r)
            advance(1)
    return merger


# ------------------------------------------------------------------------------------ loading


def load_corpus(
    path: str | Path,
    *,
    cache_dir: str | Path | None = None,
    lenient: bool = False,
    workers: int | None = None,
    use_cache: bool = True,
    reporter: Reporter = SILENT,
) -> Corpus:
    """Load the MPD at `path` (a folder of slices, one slice file, or the MPD zip) as a Corpus.

    The encoded corpus is cached under `cache_dir` (default: `default_cache_dir()`) in a folder
    named by the inputs' fingerprint and reused while no input changes. Invalid data raises
    DataError naming the file, pid and field; with `lenient=True` invalid playlists are skipped
    and counted instead (`corpus.source["skipped"]`; JSON syntax errors and unreadable files
    still stop). `workers`: parser processes (default: 2 from 4 slices on, else 1).
    `reporter`: a "reading <name>" step advanced per slice, and the warnings (skipped playlists,
    differing durations, an unreadable cache). `progress` is ignored: it drew a progress bar
    before `reporter` did; it goes once no caller passes it.
    """
    refs, stamps, kind = find_slices(path, lenient=lenient, warn=reporter.warn)
    fp = fingerprint(stamps, lenient)
    shown = str(Path(path))
    where = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = where / fp
    if use_cache and (target / "meta.json").exists():
        try:
            corpus = Corpus.load(target)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError) as e:
            # zipfile.BadZipFile and pyarrow's ArrowInvalid are ValueErrors, a meta.json that
            # is not an object an AttributeError: any damage means rebuild, not crash
            reporter.warn(f"cached corpus {target} is unreadable ({e}); rebuilding")
        else:
            corpus.source["path"] = shown
            _warn_skipped(corpus.source, reporter)
            return corpus
    n_workers = workers if workers is not None else _auto_workers(len(refs))
    merger = _ingest(refs, lenient, n_workers, reporter, Path(path).name)
    if not any(len(p.pids) for p in merger.parts) and not merger.n_skipped:
        raise DataError(f"{shown}: the slices hold no playlists")
    source = {
        "path": shown,
        "kind": kind,
        "fingerprint": fp,
        "n_files": len(refs),
        "n_bytes": merger.n_bytes,
        "synthetic": merger.synthetic,
        "lenient": lenient,
        "skipped": merger.n_skipped,
        "skipped_examples": merger.skipped,
        "data_version": DATA_VERSION,
        "duration_conflicts": merger.dur_conflicts,
        "duration_conflict_example": merger.dur_example,
        # [file name, playlists kept] of each slice in corpus order: `stats` replays the
        # official script's file order (sorted names) from it
        "slices": [[Path(p.name).name, len(p.pids)] for p in merger.parts],
    }
    corpus = merger.build(source)
    if use_cache:
        corpus.save(target)
    _warn_skipped(source, reporter)
    return corpus


def _warn_skipped(source: dict[str, Any], reporter: Reporter) -> None:
    if source.get("duration_conflicts"):
        reporter.warn(
            f"{source['path']}: {source['duration_conflicts']} track occurrence(s) give "
            "a track another duration_ms than its first occurrence (the first is kept; no "
            f"metric uses it); first: {source.get('duration_conflict_example')}"
        )
    if source.get("skipped"):
        first = (source.get("skipped_examples") or ["?"])[0]
        reporter.warn(
            f"{source['path']}: skipped {source['skipped']} invalid playlist(s) "
            f"(--lenient); first: {first}"
        )
