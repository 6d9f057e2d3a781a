"""Helpers the unit tests share."""

from __future__ import annotations

import argparse

import pytest


def help_text(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> str:
    """``--help`` as printed, after checking that it names and explains every flag."""
    with pytest.raises(SystemExit) as exit_status:
        parser.parse_args(["--help"])
    assert exit_status.value.code == 0
    text = capsys.readouterr().out
    flags = [action for action in parser._actions if action.option_strings]
    assert len(flags) > 10  # the parser, not an empty one
    for action in flags:
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
        for option in action.option_strings:
            assert option in text, option
    return text
