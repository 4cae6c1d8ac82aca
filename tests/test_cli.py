"""The command line: every subcommand has --help; user errors exit non-zero without traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.cli import COMMANDS, main


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name, _, _ in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS] or ["--version"])
def test_each_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([name, "--help"] if name != "--version" else [name])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip()


def test_building_the_command_line_imports_no_model_library() -> None:
    """Commands that run no model (verify, score, stats, split) must not load scikit-learn,
    torch or gensim: the registry and the data types import them only when a model is used."""
    code = (
        "import sys; from harness.cli import build_parser; build_parser();"
        "import models; models.MODELS;"
        "heavy = [m for m in ('sklearn', 'torch', 'gensim') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
