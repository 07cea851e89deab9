"""`dockercloud-operator run` settings: flags, else environment variables, else defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockercloud_operator.cli.main import build_parser
from dockercloud_operator.controller import settings as settings_module
from dockercloud_operator.controller.settings import Settings, SettingsError, from_args


def _settings(*flags: str, **env: str) -> Settings:
    return from_args(build_parser().parse_args(["run", *flags]), env)


@pytest.fixture(autouse=True)
def _not_in_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(settings_module, "SERVICE_ACCOUNT_NAMESPACE", tmp_path / "none")


def test_the_defaults() -> None:
    settings = _settings()
    assert settings.namespaces == ()
    assert (settings.log_format, settings.verbose) == ("full", False)
    assert (settings.metrics_port, settings.health_port) == (8080, 0)
    assert settings.liveness_endpoint is None
    assert settings.leader_election is False
    assert (settings.lease_name, settings.lease_namespace) == ("dockercloud-operator", "default")
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == (15, 10, 2)


def test_every_setting_has_a_variable() -> None:
    settings = _settings(
        DOCKERCLOUD_NAMESPACES=" team-a, team-b ,,",
        DOCKERCLOUD_VERBOSE="true",
        DOCKERCLOUD_LOG_FORMAT="json",
        DOCKERCLOUD_METRICS_PORT="0",
        DOCKERCLOUD_HEALTH_PORT="8081",
        DOCKERCLOUD_LEADER_ELECTION="yes",
        DOCKERCLOUD_LEASE_NAME="lease",
        DOCKERCLOUD_LEASE_NAMESPACE="ops",
        DOCKERCLOUD_LEASE_DURATION="30",
        DOCKERCLOUD_RENEW_DEADLINE="20",
        DOCKERCLOUD_RETRY_PERIOD="5",
    )
    assert settings == Settings(
        namespaces=("team-a", "team-b"),
        verbose=True,
        log_format="json",
        metrics_port=0,
        health_port=8081,
        leader_election=True,
        lease_name="lease",
        lease_namespace="ops",
        lease_duration=30,
        renew_deadline=20,
        retry_period=5,
        identity=settings.identity,
    )
    assert settings.liveness_endpoint == "http://0.0.0.0:8081/healthz"


def test_a_flag_wins_over_its_variable() -> None:
    settings = _settings(
        "-n", "a", "--namespace", "b", "--log-format", "plain", "--metrics-port", "9090",
        "--no-leader-election", "--lease-namespace", "flagged",
        DOCKERCLOUD_NAMESPACES="c", DOCKERCLOUD_LOG_FORMAT="json",
        DOCKERCLOUD_METRICS_PORT="1", DOCKERCLOUD_LEADER_ELECTION="true",
        DOCKERCLOUD_LEASE_NAMESPACE="env",
    )  # fmt: skip
    assert settings.namespaces == ("a", "b")
    assert (settings.log_format, settings.metrics_port) == ("plain", 9090)
    assert settings.leader_election is False
    assert settings.lease_namespace == "flagged"


def test_the_lease_is_in_the_pods_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _settings(POD_NAMESPACE="operators").lease_namespace == "operators"
    account = tmp_path / "namespace"
    account.write_text("from-the-token\n")
    monkeypatch.setattr(settings_module, "SERVICE_ACCOUNT_NAMESPACE", account)
    assert _settings().lease_namespace == "from-the-token"


def test_each_process_is_a_candidate_of_its_own() -> None:
    first, second = _settings(POD_NAME="pod-1"), _settings(POD_NAME="pod-1")
    assert first.identity.startswith("pod-1_") and second.identity.startswith("pod-1_")
    assert first.identity != second.identity


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ([], {"DOCKERCLOUD_METRICS_PORT": "http"}, "not a number"),
        (["--metrics-port", "70000"], {}, "not a port number"),
        ([], {"DOCKERCLOUD_LOG_FORMAT": "xml"}, "not one of full, plain, json"),
        ([], {"DOCKERCLOUD_LEADER_ELECTION": "maybe"}, "not true or false"),
        (["--health-port", "8080"], {}, "both 8080"),
        (["--leader-election", "--renew-deadline", "20"], {}, "renew deadline < lease duration"),
    ],
)
def test_unusable_values_are_refused(flags: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _settings(*flags, **env)


def test_run_refuses_unusable_values_before_starting(capsys: pytest.CaptureFixture[str]) -> None:
    from dockercloud_operator.cli.main import main

    assert main(["run", "--metrics-port", "-1"]) == 2
    assert "not a port number" in capsys.readouterr().err


def test_log_formats_are_kopfs() -> None:
    import kopf

    for name in settings_module.LOG_FORMATS:
        assert isinstance(kopf.LogFormat[name.upper()], kopf.LogFormat)
