"""The command line's shape."""

from __future__ import annotations

import pytest
import yaml

from dockercloud_operator.cli.main import build_parser


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


def test_the_finalizer_policy_is_printed_in_the_version_asked_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dockercloud_operator.cli.main import main

    assert main(["finalizer-policy", "--api-version", "v1beta1"]) == 0
    printed = [o for o in yaml.safe_load_all(capsys.readouterr().out) if o]
    assert [o["kind"] for o in printed] == [
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
    ]
    assert {o["apiVersion"] for o in printed} == {"admissionregistration.k8s.io/v1beta1"}
