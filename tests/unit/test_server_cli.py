"""The server's command line, without starting it: every flag explained, bad ones refused."""

from __future__ import annotations

import gc

import pytest

from wsbench.server.cli import GC_THRESHOLD, collect_garbage_less_often
from wsbench.server.config import build_parser, load_config
from wsbench.vocabulary import CommitMode, StoreKind

from .helpers import help_text


def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--max-connections" in help_text(build_parser(), capsys)


def test_words_from_flags_are_typed() -> None:
    config = load_config(["--commit", "per-message", "--db", "null:"], environ={})
    assert config.commit is CommitMode.PER_MESSAGE
    assert config.db.scheme is StoreKind.NULL


def test_a_commit_mode_that_does_not_exist_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        load_config(["--commit", "sometimes"], environ={})
    error = capsys.readouterr().err
    assert "invalid choice: 'sometimes' (choose from 'group', 'per-message')" in error


def test_the_collector_skips_what_start_up_made_and_runs_less_often() -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        collect_garbage_less_often()
        assert gc.get_threshold() == (GC_THRESHOLD, *threshold[1:])
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
