"""The REST API benchmark measures what it says, at a tiny size (its figures are not asserted:
speed belongs to the benchmark's report, not to a test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.rest_api import measure, table

pytestmark = pytest.mark.integration


def test_the_rest_api_benchmark_reports_every_figure(kubeconfig: Path, service_crd: str) -> None:
    result = measure(kubeconfig, services=20, requests_count=20, clients=5, seconds=2.0)
    for key in ("get_one", "list_page", "list_all"):
        for side in ("api", "kubernetes"):
            figures = result[key][side]
            assert figures["count"] >= 5
            assert 0 < figures["p50_ms"] <= figures["p95_ms"]
        assert result[key]["ratio_p50"] > 0
    assert result["get_one"]["api_unreported"]["p50_ms"] > 0
    concurrent = result["concurrent"]
    assert concurrent["requests"] > 20
    assert concurrent["errors"] == 0, concurrent["first_errors"]
    assert 20 < result["api_process"]["peak_rss_mib"] < 1000
    assert "| GET one service" in table(result)
