"""Fit and score models on a split; write runs, submissions and the leaderboard.

Every model is fitted on the split's training playlists and answers the test playlists; the
run folder keeps its recommendations, per-playlist metrics and manifest, and `submissions/`
its challenge-format file. With --challenge-set the models train on the whole corpus and only
submissions are written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.console import ConsoleReporter
from harness.cli.leaderboard import add_submission_argument, add_submissions
from harness.run.evaluate import (
    DEFAULT_K,
    EvaluateSettings,
    Evaluation,
    needs_validation,
    prepare,
    run_models,
    start_run,
    timed,
)
from harness.run.experiment import Experiment, override, read_experiment, record
from harness.run.external import ExternalSpec
from harness.run.factory import build_models, parse_params, select_models
from harness.run.sources import DEFAULT_PRESET

# flags that set the EvaluateSettings field of their own name; their argparse default is None
# so that a value from --config stays unless the flag is given (--seed and friends: seeds())
SETTINGS_FLAGS = (
    "mpd",
    "synthetic",
    "split",
    "per_category",
    "coverage",
    "validation",
    "out",
    "challenge_set",
    "cache_dir",
    "team",
    "email",
    "k",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.challenge.split import COVERAGE

    src = parser.add_mutually_exclusive_group()
    src.add_argument(
        "--mpd",
        type=Path,
        metavar="MPD_PATH",
        help="MPD folder of slices, one slice file, or the zip",
    )
    src.add_argument(
        "--synthetic",
        metavar="PRESET",
        help="generate (once) and use a synthetic MPD of this preset: "
        f"{_presets()} (default: {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="seed of the split and of synthetic data (default 0); "
        "--data-seed and --split-seed set one of them",
    )
    parser.add_argument(
        "--data-seed", type=int, metavar="N", help="seed of the synthetic data (default: --seed)"
    )
    parser.add_argument(
        "--split-seed", type=int, metavar="N", help="seed of the split (default: --seed)"
    )
    parser.add_argument(
        "--split",
        type=Path,
        metavar="SPLIT_DIR",
        help="split folder to reuse or create (default: RUN_DIR/split)",
    )
    parser.add_argument(
        "--per-category", type=int, metavar="N", help="test playlists per category of a new split"
    )
    parser.add_argument(
        "--coverage",
        choices=COVERAGE,
        default=None,
        help="rule of a new split (as in `split`): best-effort (default) keeps every seed and "
        "held-out track in training wherever the corpus allows it; official fails instead; "
        "none drops the rule",
    )
    parser.add_argument(
        "--validation",
        type=int,
        metavar="N",
        help="validation split of N playlists per category, drawn from the training playlists "
        "only into SPLIT_DIR/validation/, for models that learn from held-out tracks (default: "
        "the split's own, else drawn at the test split's per-category size when such a model "
        "runs)",
    )
    parser.add_argument(
        "--models",
        metavar="A,B",
        help=f"comma-separated models to run: {', '.join(_model_names())}, or module:Class "
        "paths (default: all registered; `mpd-harness models` lists them)",
    )
    parser.add_argument(
        "-p",
        dest="params",
        action="append",
        default=[],
        metavar="MODEL.PARAM=VALUE",
        help="model hyperparameter, a Python literal (e.g. -p knn.k_neighbors=200); repeatable",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default: runs/synthetic-<preset>-s<seed> or runs/<mpd-name>-s<seed>)",
    )
    parser.add_argument(
        "--force", action="store_true", default=None, help="refit models even if runs exist"
    )
    add_submission_argument(parser, "; --force also adds one that fails the verifier")
    parser.add_argument(
        "--challenge-set",
        type=Path,
        metavar="PATH",
        help="official challenge_set.json: train on the whole corpus, write submissions only",
    )
    parser.add_argument("--cache-dir", type=Path, metavar="CACHE_DIR", help="corpus cache folder")
    parser.add_argument("--team", help="team name in submissions (default: mpd-harness)")
    parser.add_argument(
        "--email", help="contact email in submissions (default: mpd-harness@example.com)"
    )
    parser.add_argument(
        "--k",
        type=int,
        default=None,
        help=f"recommendations per playlist (default {DEFAULT_K}; submissions need {DEFAULT_K})",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="EXPERIMENT_TOML",
        help="experiment file (docs/experiments.md): data, split, models and their parameters, "
        "run folder, team; flags given as well override it. Every run writes its resolved "
        "configuration to RUN_DIR/experiment.toml",
    )


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The EvaluateSettings fields that flags set, only those given; --data-seed and
    --split-seed override --seed."""
    out = {f: getattr(args, f) for f in SETTINGS_FLAGS if getattr(args, f) is not None}
    for name, value in (("data_seed", args.data_seed), ("split_seed", args.split_seed)):
        if (value if value is not None else args.seed) is not None:
            out[name] = value if value is not None else args.seed
    return out


def _presets() -> str:
    from harness.data.synthetic import PRESETS

    return ", ".join(f"{name} ({n:,} playlists)" for name, n in PRESETS.items())


def _model_names() -> list[str]:
    from models import MODELS  # names only: no model module is imported

    return list(MODELS)


def settings_from(args: argparse.Namespace) -> EvaluateSettings:
    """The typed settings of the flags alone (the defaults where none is given)."""
    return override(Experiment(), settings=given_settings(args)).settings


def experiment_from(args: argparse.Namespace) -> Experiment:
    """The experiment file of --config (if any) with the flags given on top: --models replaces
    its model list, -p overrides and extends its parameters."""
    base = read_experiment(args.config) if args.config is not None else Experiment()
    models = None
    if args.models is not None:
        models = [s.strip() for s in args.models.split(",") if s.strip()]
    return override(
        base,
        settings=given_settings(args),
        models=models,
        params=parse_params(args.params),
        force=args.force,
    )


def summary_line(ev: Evaluation, name: str, manifest: dict[str, Any]) -> str:
    """`name  R-prec …  NDCG …  clicks …  fit … s  rec … s  peak … MB` for one model."""
    from harness.run.rundir import model_scores

    scores = ""
    if ev.mode == "split":
        m = model_scores(ev.run_dir / name)
        scores = f" R-prec {m['r_precision']:.4f} NDCG {m['ndcg']:.4f} clicks {m['clicks']:5.2f}"
    return (
        f"[bold]{name:<9}[/bold]{scores} fit {manifest['fit_s']:.1f}s"
        f" rec {manifest['recommend_s']:.1f}s peak {manifest['peak_rss_mb']:.0f}MB"
    )


def run(args: argparse.Namespace) -> int:
    reporter = ConsoleReporter()  # log lines unwrapped in nox and CI logs
    out = reporter.out
    exp = experiment_from(args)
    chosen = None if exp.models is None else ",".join(exp.models)
    specs = select_models(chosen, exp.params)
    models = build_models(specs, exp.params)  # bad -p fails here
    externals = _external_specs(args.submissions, exp.settings, [name for name, _ in models])
    needs = any(needs_validation(model) for _, model in models)
    ev = prepare(exp.settings, reporter, needs_validation=needs)
    record(ev, exp.settings, specs, models, exp.force)  # RUN_DIR/experiment.toml
    start_run(ev, [name for name, _ in models])
    add_submissions(ev.run_dir, externals, exp.force, reporter)  # a bad file fails before fits
    for name, manifest in run_models(ev, models, force=exp.force):
        out.print(summary_line(ev, name, manifest), highlight=False)
    if ev.mode == "split":
        _leaderboard(ev, reporter)
    if ev.k == DEFAULT_K:
        out.print(f"submissions: {ev.submissions_dir}", highlight=False)
    else:
        out.print(f"submissions: none (--k {ev.k}; a submission has {DEFAULT_K})", highlight=False)
    t = ev.timings
    steps = ", ".join(f"{k.removesuffix('_s')} {v:.1f}s" for k, v in t.items())
    reporter.err.print(f"wall time: {steps}; total {sum(t.values()):.1f}s", highlight=False)
    return 0


def _external_specs(
    flags: list[str] | None, settings: EvaluateSettings, models: list[str]
) -> list[ExternalSpec]:
    """The --submission NAME=PATH flags, checked (against the resolved settings, --config
    included) before any model runs."""
    from harness.errors import UsageError
    from harness.run.external import parse_specs

    specs = parse_specs(flags or [], taken=models)
    if specs and (settings.challenge_set is not None or settings.k != DEFAULT_K):
        why = (
            "--challenge-set has no ground truth" if settings.challenge_set else f"--k {settings.k}"
        )
        raise UsageError(f"--submission: needs a scored run with k {DEFAULT_K} ({why})")
    return specs


def _leaderboard(ev: Evaluation, reporter: ConsoleReporter) -> None:
    from harness.report.leaderboard import build, render, write

    with timed(ev.timings, "leaderboard_s"):
        board = build(ev.run_dir)
        write(board, ev.run_dir)
    for table in render(board):
        reporter.out.print(table)
    reporter.out.print(f"leaderboard: {ev.run_dir / 'leaderboard.md'}", highlight=False)
