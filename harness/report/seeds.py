"""Seeds fan out: `evaluate --split-seeds 0,1,2,3,4` runs the whole evaluation once per split
seed, each as a Ray task, and puts every model's mean ± standard deviation across the seeds
next to the per-seed leaderboards. A model's rank is trusted only if it holds across seeds.

Each seed gets its own run folder (the default run folder of that split seed, or
`OUT/<name of OUT>-splitN` under `--out OUT`) with its own split, runs, submissions and leaderboard,
exactly what `evaluate --split-seed N` writes. The data (a synthetic preset is generated, the
corpus cache built) is prepared once by the driver first, so the tasks never race to write it.
The summary goes to `seeds.json` and `seeds.md` in `OUT` (default `runs/<data name>-seeds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.atomic import atomic_open, write_json
from harness.challenge.metrics import BY_NAME, RANKED
from harness.errors import UsageError
from harness.progress import SILENT, Reporter
from harness.run.context import RUNS_ROOT, EvaluateSettings

if TYPE_CHECKING:
    from rich.table import Table

    from harness.report.leaderboard import Leaderboard


@dataclass
class SeedsResult:
    """The per-seed run folders and leaderboards, and the summary across seeds."""

    seeds: list[int]
    run_dirs: dict[int, Path]
    boards: dict[int, Leaderboard]
    summary: list[dict[str, Any]]  # per model: metrics' mean, std, per-seed values; ranks
    out: Path  # where seeds.json and seeds.md are
    synthetic: bool


def parse_seeds(text: str) -> list[int]:
    """`"0,1,2"` -> [0, 1, 2]; at least two distinct integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--split-seeds {text!r}: expected integers like 0,1,2,3,4") from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise UsageError(f"--split-seeds {text!r}: give two or more distinct seeds")
    return seeds


def seed_settings(settings: EvaluateSettings, seed: int) -> EvaluateSettings:
    """The settings of one seed's evaluation: its split seed, its own run folder."""
    base = None if settings.out is None else Path(settings.out)
    # a name of its own: submissions/<run folder name> must not clash with another run's
    out = None if base is None else base / f"{base.name}-split{seed}"
    name = None if settings.name is None else f"{settings.name}-split{seed}"
    return replace(settings, split_seed=seed, out=out, name=name)


def evaluate_seeds(
    settings: EvaluateSettings,
    specs: Sequence[str],
    params: dict[str, dict[str, Any]],
    seeds: Sequence[int],
    *,
    force: bool = False,
    ray_address: str | None = None,
    reporter: Reporter = SILENT,
) -> SeedsResult:
    """Evaluate `specs` once per split seed as Ray tasks (one CPU each), then summarise."""
    import ray

    from harness.data.ingest import load_corpus
    from harness.report.leaderboard import build
    from harness.run.cluster import start_ray
    from harness.run.sources import resolve_data

    if settings.split is not None or settings.challenge_set is not None:
        flag = "--split" if settings.split is not None else "--challenge-set"
        raise UsageError(f"--split-seeds: not with {flag} (each seed draws its own split)")
    source = resolve_data(settings.mpd, settings.synthetic, settings.data_seed, reporter)
    load_corpus(source.path, cache_dir=settings.cache_dir, reporter=reporter)  # the cache, once
    started = start_ray(ray_address)
    try:
        task = ray.remote(_one_seed).options(num_cpus=1, max_retries=0)
        refs = {
            s: task.remote(seed_settings(settings, s), list(specs), params, force) for s in seeds
        }
        with reporter.step("evaluating split seeds (Ray tasks)", total=len(refs)) as advance:
            run_dirs: dict[int, Path] = {}
            pending = dict(refs)
            while pending:
                ready, _ = ray.wait(list(pending.values()), num_returns=1)
                seed = next(s for s, r in pending.items() if r == ready[0])
                run_dirs[seed] = Path(ray.get(pending.pop(seed)))
                reporter.note(f"split seed {seed}: {run_dirs[seed]}")
                advance(1)
    finally:
        if started:
            ray.shutdown()
    boards = {s: build(run_dirs[s]) for s in seeds}
    out = Path(settings.out) if settings.out is not None else RUNS_ROOT / f"{source.name}-seeds"
    result = SeedsResult(
        list(seeds),
        {s: run_dirs[s] for s in seeds},
        boards,
        summarise(boards),
        out,
        source.synthetic,
    )
    write_summary(result)
    return result


def _one_seed(
    settings: EvaluateSettings, specs: list[str], params: dict[str, dict[str, Any]], force: bool
) -> str:
    """One seed's whole evaluation in a Ray worker (what `evaluate --split-seed N` does);
    returns its run folder. Errors travel back to the driver as they are."""
    from harness.report.leaderboard import build, write
    from harness.run.evaluate import needs_validation, prepare, run_models, start_run
    from harness.run.experiment import record
    from harness.run.factory import build_models

    models = build_models(specs, params)
    needs = any(needs_validation(m) for _, m in models)
    with prepare(settings, SILENT, needs_validation=needs) as ev:  # the run folder's lock
        record(ev, settings, specs, models, force)
        start_run(ev, [name for name, _ in models])
        for _ in run_models(ev, models, force=force):
            pass
        write(build(ev.run_dir), ev.run_dir)
    return str(ev.run_dir)


def summarise(boards: dict[int, Leaderboard]) -> list[dict[str, Any]]:
    """Per model run on every seed: each ranked metric's per-seed values, mean and standard
    deviation (ddof 1), the Borda rank on each seed and whether it is the same on all."""
    seeds = list(boards)
    common = [m["name"] for m in boards[seeds[0]].models]
    common = [n for n in common if all(n in {m["name"] for m in boards[s].models} for s in seeds)]
    rows = []
    for name in common:
        row: dict[str, Any] = {"name": name, "metrics": {}, "ranks": {}}
        for metric in RANKED:
            values = [_overall(boards[s], name)[metric.name] for s in seeds]
            row["metrics"][metric.name] = {
                "mean": float(np.mean(values)),
                "std": float(np.std(values, ddof=1)),
                "per_seed": dict(zip(map(str, seeds), values, strict=True)),
            }
        row["ranks"] = {str(s): boards[s].borda[name][1] for s in seeds}
        row["rank_holds"] = len(set(row["ranks"].values())) == 1
        rows.append(row)
    first = RANKED[0]
    sign = -1.0 if first.higher_is_better else 1.0
    return sorted(rows, key=lambda r: sign * r["metrics"][first.name]["mean"])


def _overall(board: Leaderboard, name: str) -> dict[str, float]:
    return next(m["overall"] for m in board.models if m["name"] == name)


def summary_table(result: SeedsResult) -> Table:
    """Mean ± std of each ranked metric across seeds, and the Borda rank on each seed."""
    from rich.table import Table

    seeds = ", ".join(map(str, result.seeds))
    caption = f"{len(result.seeds)} split seeds ({seeds}); std with ddof 1"
    if result.synthetic:
        caption += "; SYNTHETIC data, not the real MPD"
    table = Table(title="across split seeds: mean ± std", caption=caption)
    table.add_column("model")
    for metric in RANKED:
        table.add_column(metric.label, justify="right")
    table.add_column("Borda rank per seed", justify="right")
    table.add_column("rank holds")
    for row in result.summary:
        cells = [row["name"]]
        for metric in RANKED:
            m = row["metrics"][metric.name]
            cells.append(f"{metric.format(m['mean'])} ± {metric.format(m['std'])}")
        cells.append(" ".join(str(r) for r in row["ranks"].values()))
        cells.append("yes" if row["rank_holds"] else "no")
        table.add_row(*cells)
    return table


def write_summary(result: SeedsResult) -> None:
    """`seeds.json` (the summary and each seed's run folder) and `seeds.md` in `result.out`."""
    doc = {
        "seeds": result.seeds,
        "synthetic": result.synthetic,
        "run_dirs": {str(s): str(d) for s, d in result.run_dirs.items()},
        "models": result.summary,
    }
    write_json(result.out / "seeds.json", doc)
    head = ["model", *(BY_NAME[m.name].label for m in RANKED), "ranks", "rank holds"]
    lines = [
        f"# Across split seeds {', '.join(map(str, result.seeds))}"
        + (" (SYNTHETIC data)" if result.synthetic else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in result.summary:
        cells = [row["name"]]
        for metric in RANKED:
            m = row["metrics"][metric.name]
            cells.append(f"{metric.format(m['mean'])} ± {metric.format(m['std'])}")
        cells += [" ".join(str(r) for r in row["ranks"].values()), str(row["rank_holds"]).lower()]
        lines.append("| " + " | ".join(cells) + " |")
    with atomic_open(result.out / "seeds.md", "w") as f:
        f.write("\n".join(lines) + "\n")
