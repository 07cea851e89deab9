"""The metrics' pure parts: verbs of API requests, counting reconciles, services by state."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.workqueue import Retry


@pytest.mark.parametrize(
    ("method", "url", "verb"),
    [
        ("GET", "/apis/apps/v1/deployments", "list"),
        ("GET", "/apis/apps/v1/namespaces/a/deployments", "list"),
        ("GET", "/apis/apps/v1/namespaces/a/deployments/web", "get"),
        ("GET", "/api/v1/namespaces", "list"),
        ("GET", "/api/v1/namespaces/a", "get"),
        ("GET", "/api/v1/pods?labelSelector=x", "list"),
        ("PATCH", "/apis/app.dockercloud.dev/v1/namespaces/a/services/web/status", "patch"),
        ("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", "update"),
        ("POST", "/api/v1/namespaces/a/events", "create"),
        ("DELETE", "/api/v1/namespaces/a/persistentvolumeclaims/c", "delete"),
        ("DELETE", "/api/v1/namespaces/a/persistentvolumeclaims", "deletecollection"),
    ],
)
def test_requests_are_counted_by_kubernetes_verb(method: str, url: str, verb: str) -> None:
    assert metrics.verb(method, url) == verb


def _value(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_reconciles_are_counted_and_timed_by_result() -> None:
    before = {r: _value("dockercloud_operator_reconciles_total", result=r) for r in
              ("success", "retry", "error")}  # fmt: skip
    errors = _value("dockercloud_operator_reconcile_errors_total")
    timed = _value("dockercloud_operator_reconcile_duration_seconds_count")

    async def fine() -> None:
        pass

    async def conflict() -> None:
        raise Retry("changed meanwhile")

    async def broken() -> None:
        raise ValueError("bug")

    async def scenario() -> None:
        await metrics.reconciled(fine())
        with pytest.raises(Retry):
            await metrics.reconciled(conflict())
        with pytest.raises(ValueError):
            await metrics.reconciled(broken())

    asyncio.run(scenario())
    for result in before:
        assert _value("dockercloud_operator_reconciles_total", result=result) == before[result] + 1
    assert _value("dockercloud_operator_reconcile_errors_total") == errors + 1
    assert _value("dockercloud_operator_reconcile_duration_seconds_count") == timed + 3


def test_services_are_counted_by_state_when_scraped() -> None:
    store = SimpleNamespace(states={})
    reconciler = SimpleNamespace(store=store, queue=SimpleNamespace(busy=2))
    registry = CollectorRegistry()
    registry.register(metrics.StoreCollector(store.states.values, lambda: reconciler.queue.busy))
    store.states[("a", "web")] = "Running"
    store.states[("a", "db")] = "Running"
    store.states[("b", "new")] = None
    text = generate_latest(registry).decode()
    assert 'dockercloud_operator_services{state="Running"} 2.0' in text
    assert 'dockercloud_operator_services{state="Unknown"} 1.0' in text
    assert 'dockercloud_operator_services{state="Stopped"} 0.0' in text  # every state, always
    assert "dockercloud_operator_workqueue_keys 2.0" in text
    del store.states[("a", "db")]  # computed anew at every scrape
    assert 'state="Running"} 1.0' in generate_latest(registry).decode()
