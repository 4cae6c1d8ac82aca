"""Stage 1, data: read and validate MPD slices (folder, file, zip), the cached corpus, the
synthetic MPD generator, and the official statistics.

`slices` (schema; finding slices) -> `parse` (one slice, validated by `checks`) -> `merge`
(global ids) -> `ingest.load_corpus` (workers, cache) -> `corpus.Corpus`; `synthetic/` writes
slices in the same format; `stats` summarises a corpus like the official script.
"""
