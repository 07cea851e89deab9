"""The command line's shape."""

from __future__ import annotations

import pytest

from dockercloud_operator.cli import build_parser


def test_run_watches_all_namespaces_by_default() -> None:
    args = build_parser().parse_args(["run"])
    assert args.namespace is None and args.verbose is False


def test_run_takes_repeated_namespaces() -> None:
    args = build_parser().parse_args(["run", "-n", "a", "--namespace", "b"])
    assert args.namespace == ["a", "b"]


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([])
    assert exit_.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
