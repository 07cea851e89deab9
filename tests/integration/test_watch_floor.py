"""The watch-floor tool (`python -m bench.watch_floor`) works: beside a small direct apply, each
client receives every event of the services' Deployments, Kubernetes Services and pods, on a
control plane of its own. Its CPU figures are reported, not asserted."""

from __future__ import annotations

import pytest
from bench.run import Settings
from bench.watch_floor import measure

SIZE = 10


@pytest.mark.parametrize("client", ["kopf", "raw"])
def test_each_client_counts_every_event_of_the_services(client: str) -> None:
    result = measure(SIZE, Settings(nodes=3, timeout=60), client)

    assert result["client"] == client
    events = result["events"]
    assert events["services"] == SIZE  # each Kubernetes Service, created once
    assert events["deployments"] >= 2 * SIZE  # created, then its status written
    assert events["pods"] >= 3 * SIZE  # created, bound to a node, then running
    # CPU time comes in clock ticks (10 ms): the raw client's 70 events may cost less than one.
    assert result["client_cpu_seconds"] >= 0 and result["client_ms_per_event"] >= 0
    assert result["cpu_seconds_of_the_rest"]["kube-apiserver"] > 0
