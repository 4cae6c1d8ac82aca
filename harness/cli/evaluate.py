"""Fit and score models on a split; write runs, submissions and the leaderboard.

Every model is fitted on the split's training playlists and answers the test playlists; the
run folder keeps its recommendations, per-playlist metrics and manifest, and `submissions/`
its challenge-format file. With --challenge-set the models train on the whole corpus and only
submissions are written.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.cli.console import ConsoleReporter, metrics_help
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
from harness.run.factory import DEVICES, build_models, parse_params, select_models, with_device
from harness.run.sources import DEFAULT_PRESET

# flags that set the EvaluateSettings field of their own name; their argparse default is None
# so that a value from --config stays unless the flag is given (--seed and friends: seeds()).
# DATA_FLAGS are the data and split options `tune` shares (add_data_arguments).
DATA_FLAGS = ("mpd", "synthetic", "split", "per_category", "coverage", "validation", "cache_dir")
SETTINGS_FLAGS = (
    *DATA_FLAGS,
    "out",
    "score_on",
    "challenge_set",
    "team",
    "email",
    "k",
    "team_format",
    "lenient",
    "name",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = metrics_help()
    add_data_arguments(parser)
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
        "--device",
        choices=DEVICES,
        default=None,
        help="put every model that can use a GPU on this device (sgns; als when implicit has "
        "CUDA); auto: CUDA when present; -p MODEL.device wins (default: each model's own)",
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
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="the run's name: its folder of submissions, SUBMISSIONS/NAME, and the default run "
        "folder runs/NAME (default: the run folder's name); a folder there that another run "
        "writes is refused",
    )
    parser.add_argument(
        "--submissions",
        dest="submissions_root",
        type=Path,
        metavar="DIR",
        help="where the submissions go, DIR/<name>/ (default: submissions/ of this folder)",
    )
    add_submission_argument(parser, "; --force also adds one that fails the verifier")
    parser.add_argument(
        "--challenge-set",
        type=Path,
        metavar="PATH",
        help="official challenge_set.json: train on the whole corpus, write submissions only",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        default=None,
        help="skip malformed playlists (counted, the first few shown) and entries named like a "
        "slice that cannot be read (warned), as split --lenient does",
    )
    parser.add_argument(
        "--score-on",
        choices=("test", "validation"),
        default=None,
        help="split to score on (default test); validation fits on the training playlists minus "
        "the validation ones and scores on SPLIT_DIR/validation/ without reading the test "
        "split's ground truth, as `tune` scores its trials",
    )
    parser.add_argument("--team", help="team name in submissions (default: mpd-harness)")
    parser.add_argument(
        "--email", help="contact email in submissions (default: mpd-harness@example.com)"
    )
    parser.add_argument(
        "--team-format",
        choices=("aicrowd", "2018"),
        default=None,
        help="submission header: aicrowd writes team_info,<team>,<email> (the current "
        "challenge; default), 2018 writes team_info,main,<team>,<email> (the RecSys Challenge "
        "2018 verifier needs it)",
    )
    parser.add_argument(
        "--k",
        type=int,
        default=None,
        help=f"recommendations per playlist (default {DEFAULT_K}; submissions need {DEFAULT_K})",
    )
    parser.add_argument(
        "--split-seeds",
        metavar="A,B,...",
        help="evaluate once per split seed, each as a Ray task on this machine, and report every "
        "model's mean ± std across the seeds next to each seed's leaderboard (seeds.json/.md)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="EXPERIMENT_TOML",
        help="experiment file (docs/experiments.md): data, split, models and their parameters, "
        "run folder, team; flags given as well override it. Every run writes its resolved "
        "configuration to RUN_DIR/experiment.toml",
    )


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data and split options (`--mpd`/`--synthetic`, seeds, `--split`, `--per-category`,
    `--coverage`, `--validation`, `--cache-dir`), shared with `tune`; `given_settings` reads
    them back."""
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
    parser.add_argument("--cache-dir", type=Path, metavar="CACHE_DIR", help="corpus cache folder")


def given_settings(
    args: argparse.Namespace, flags: tuple[str, ...] = SETTINGS_FLAGS
) -> dict[str, Any]:
    """The EvaluateSettings fields that flags set, only those given; --data-seed and
    --split-seed override --seed. `flags`: DATA_FLAGS for a command with the data options only."""
    out = {f: getattr(args, f) for f in flags if getattr(args, f) is not None}
    if getattr(args, "submissions_root", None) is not None:  # --submission NAME=PATH is a list
        out["submissions"] = args.submissions_root
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
    if args.split_seeds is not None:
        return _run_seeds(args, exp, reporter)
    chosen = None if exp.models is None else ",".join(exp.models)
    specs = select_models(chosen, exp.params)
    exp = replace(exp, params=with_device(specs, exp.params, args.device))
    models = build_models(specs, exp.params)  # bad -p fails here
    externals = _external_specs(args.submissions, exp.settings, [name for name, _ in models])
    needs = any(needs_validation(model) for _, model in models)
    with prepare(exp.settings, reporter, needs_validation=needs) as ev:  # locked until the end
        record(ev, exp.settings, specs, models, exp.force)  # RUN_DIR/experiment.toml
        start_run(ev, [name for name, _ in models])
        add_submissions(ev.run_dir, externals, exp.force, reporter)  # a bad file fails first
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


def _run_seeds(args: argparse.Namespace, exp: Experiment, reporter: ConsoleReporter) -> int:
    """`--split-seeds`: one evaluation per split seed as Ray tasks, each seed's leaderboard,
    then every model's mean ± std across the seeds (harness/report/seeds.py)."""
    from harness.errors import UsageError
    from harness.report.leaderboard import render
    from harness.report.seeds import evaluate_seeds, parse_seeds, summary_table

    seeds = parse_seeds(args.split_seeds)
    if args.submissions:
        raise UsageError("--split-seeds: not with --submission (a file answers one split)")
    specs = select_models(None if exp.models is None else ",".join(exp.models), exp.params)
    exp = replace(exp, params=with_device(specs, exp.params, args.device))
    build_models(specs, exp.params)  # bad -p fails here, before any task starts
    result = evaluate_seeds(
        exp.settings, specs, exp.params, seeds, force=exp.force, reporter=reporter
    )
    for seed in result.seeds:
        reporter.out.print(f"split seed {seed}: {result.run_dirs[seed]}", highlight=False)
        for table in render(result.boards[seed]):
            reporter.out.print(table)
    reporter.out.print(summary_table(result))
    reporter.out.print(f"across seeds: {result.out / 'seeds.md'}", highlight=False)
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
