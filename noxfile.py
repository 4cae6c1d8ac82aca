"""Nox sessions: tests, lint, typecheck, and the opt-in evaluate, bench and smoke jobs.

Dependencies live in pyproject.toml. torch is installed explicitly first: the default is the
CPU build 2.13.0 (on disk on our machines); set MPD_HARNESS_TORCH to another pip requirement
(for example "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128") for CUDA.
"""

from __future__ import annotations

import os
import shlex

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"

PYTHON = None  # the interpreter nox runs under
TORCH = os.environ.get("MPD_HARNESS_TORCH", "torch==2.13.0")
# gensim is deterministic only with one worker and a fixed hash seed.
ENV = {"PYTHONHASHSEED": "0"}


def _install(session: nox.Session, extras: str = "") -> None:
    session.install(*shlex.split(TORCH))
    session.install("-e", f".{extras}")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (CPU; CUDA tests skip without a GPU)."""
    _install(session, "[dev]")
    session.run("pytest", "-q", *session.posargs, env=ENV)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff==0.17.6")  # pinned: formatting must not change under CI
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy on harness/ and models/."""
    _install(session, "[dev]")
    session.run("mypy", "harness", "models")


@nox.session(python=PYTHON, default=False)
def evaluate(session: nox.Session) -> None:
    """Main job: synthetic MPD (or --mpd PATH) -> split -> every model -> submissions + leaderboard."""
    _install(session)
    session.run("mpd-harness", "evaluate", *session.posargs, env=ENV)


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks of every stage at 10k and 100k playlists (add `-- --full` for 1M)."""
    _install(session)
    session.run("python", "bench/run.py", *session.posargs, env=ENV)


@nox.session(python=PYTHON, default=False)
def smoke(session: nox.Session) -> None:
    """A fast end-to-end run on the tiny synthetic preset, and screenshots of `serve`'s pages."""
    _install(session, "[dev]")  # playwright drives chromium for the screenshots
    session.run(
        "mpd-harness",
        "evaluate",
        "--synthetic",
        "tiny",
        "--out",
        "runs/smoke",
        *session.posargs,
        env=ENV,
    )
    session.run("python", "docs/screenshots.py", "runs/smoke", "--out", "docs/img", env=ENV)
