"""Stage 1, data: read and validate MPD slices (folder, file, zip), the cached corpus, the
synthetic MPD generator, and the official statistics."""
