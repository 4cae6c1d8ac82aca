"""Stage 4, runs: the run folder, resolving data and split sources, building models, the
evaluate pipeline and `generate`."""
