"""The operator's Prometheus endpoint, health endpoints and JSON logs, with every setting given
by environment variables as the install's Deployment gives them."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from testbed.controlplane import free_port
from tests import services
from tests.operator_process import OperatorProcess
from tests.operators import Operator, delete_services, paused, running
from tests.wait import wait_for


@pytest.fixture(autouse=True)
def _alone(operator: OperatorProcess) -> Iterator[None]:
    """Only this test's operators act: the session's one is stopped meanwhile."""
    with paused(operator):
        yield


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return reply.status, reply.read().decode()


def _samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = _get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_health_and_json_logs(
    api: client.ApiClient, kubeconfig: Path, service_crd: str, namespace: str, tmp_path: Path
) -> None:
    metrics_port, health_port = free_port(), free_port()
    operator = Operator(
        kubeconfig,
        tmp_path / "operator.log",
        env={
            "DOCKERCLOUD_NAMESPACES": namespace,  # so the gauge counts this test's services only
            "DOCKERCLOUD_METRICS_PORT": str(metrics_port),
            "DOCKERCLOUD_HEALTH_PORT": str(health_port),
            "DOCKERCLOUD_LOG_FORMAT": "json",
        },
    )
    with running(operator):
        operator.start(ready="children; reconciling.")
        services.create(api, namespace, "web", image="nginx", target_num_containers=2)

        def running_in_metrics() -> dict[Any, float] | None:
            samples = _samples(metrics_port)
            running = _value(samples, "dockercloud_operator_services", state="Running")
            return samples if running == 1 else None

        samples = wait_for(running_in_metrics, "the service Running in the metrics")
        assert _value(samples, "dockercloud_operator_services", state="Starting") == 0
        assert (
            _value(samples, "dockercloud_operator_reconciles_total", result="success") or 0
        ) >= 1
        assert _value(samples, "dockercloud_operator_reconcile_errors_total") == 0
        count = _value(samples, "dockercloud_operator_reconcile_duration_seconds_count") or 0
        assert count >= 1
        assert _value(samples, "dockercloud_operator_reconcile_duration_seconds_bucket", le="+Inf")
        requests = "dockercloud_operator_api_requests_total"
        assert (_value(samples, requests, verb="patch", code="201") or 0) >= 1  # applied, new
        assert (_value(samples, requests, verb="list", code="200") or 0) >= 1  # the first look
        assert _value(samples, "dockercloud_operator_leader") == 1
        assert _value(samples, "dockercloud_operator_workqueue_keys") is not None

        assert _get(f"http://127.0.0.1:{metrics_port}/healthz") == (200, "ok\n")
        status, health = _get(f"http://127.0.0.1:{health_port}/healthz")  # kopf's
        assert status == 200 and json.loads(health) == {"leader": "leading"}
        assert f"Applying Deployment {namespace}/web" in operator.output()
        delete_services(api, namespace)
    lines = [line for line in operator.output().splitlines() if line.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"message", "timestamp", "severity"} <= entry.keys(), line
