"""Stage 5, reports, from the run folder's files only (never retrains).

- `leaderboard`: `build(run_dir) -> Leaderboard` (aggregates, Borda, CIs; `to_json`, `to_pandas`),
  `render` (Rich tables), `write` (`leaderboard.{json,md,csv}`);
- `confidence`: bootstrap CIs and paired tests vs the best model, overall and per category;
- `significance`: the statistics underneath (bootstrap, Wilcoxon, Holm);
- `recall`: recall curves from the submissions; `plots`: the figures (PNG bytes);
- `html`: `build_report(run_dir) -> Report`, `write_report`, `render_html`.

Imports go one way: html -> leaderboard, plots, recall -> confidence -> significance.
"""
