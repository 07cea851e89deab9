"""The command line's shape."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from dockercloud_operator.cli.main import GC_THRESHOLD, build_parser


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


def test_the_operator_collects_young_objects_less_often_and_never_scans_what_it_loaded() -> None:
    script = (
        "import gc\n"
        "from dockercloud_operator.cli import main\n"
        "before = gc.get_freeze_count()\n"
        "main._collect_less()\n"
        "print(before, gc.get_freeze_count(), gc.get_threshold()[0])\n"
    )
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             check=True).stdout.split()  # fmt: skip
    before, frozen, threshold = map(int, printed)
    assert before == 0 and frozen > 1000  # everything imported
    assert threshold == GC_THRESHOLD > 700
