"""bench.request_cost measures every path it names, on the session's control plane."""

from __future__ import annotations

from pathlib import Path

from bench.request_cost import measure


def test_every_request_path_is_measured(kubeconfig: Path) -> None:
    figures = measure(kubeconfig, count=8, at_once=4)
    assert set(figures) == {
        "GET: Kube.request",
        "GET: the client's own path",
        "GET: aiohttp",
        "PATCH: Kube.request",
        "PATCH: the client's own path",
        "GET, 4 in flight: Kube in threads",
        "GET, 4 in flight: AsyncKube",
    }
    for figure in figures.values():
        assert figure["cpu_us"] > 0
        assert figure["wall_us"] > 0
