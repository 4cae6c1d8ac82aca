"""The command line: every subcommand has --help; user errors exit non-zero without traceback."""

from __future__ import annotations

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
