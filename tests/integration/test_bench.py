"""The benchmark harness (`make bench`) works: a small run, on control planes of its own (not the
session's), writes well-formed results. Its timings are reported, not asserted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.run import Settings, run

SIZE = 20
SAMPLE = 5


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def test_a_small_benchmark_run_writes_well_formed_results(tmp_path: Path) -> None:
    lines: list[str] = []
    settings = Settings(
        nodes=3, sample=SAMPLE, idle_seconds=2.0, settle_seconds=0.5, timeout=90, rounds=2
    )

    summary = run([SIZE], tmp_path, settings, say=lines.append)

    result = json.loads((tmp_path / f"bench-{SIZE}.json").read_text())
    # Each service changed once: the operator applies its Deployment once.
    assert result["operator"]["update"]["operator_per_update"].get("patch", 0) >= 1
    baseline, operator = result["baseline"], result["operator"]
    assert result["size"] == SIZE
    assert result["warnings"] == [], result["warnings"]
    for phase in (baseline, operator):
        assert phase["ready"] == SIZE
        assert len(phase["ready_times"]) == SIZE
        assert phase["ready_times"] == sorted(phase["ready_times"])
        assert all(positive(t) for t in phase["ready_times"])
        assert positive(phase["converge_seconds"])
        assert phase["converge_seconds"] == phase["ready_times"][-1]
        assert positive(phase["apply_seconds"])
        assert positive(phase["api_requests"]["all_per_service"]["total"])
        assert positive(phase["update"]["seconds"])  # the fleet-wide change, on both sides
        assert abs(phase["update"]["seconds"] - phase["update"]["done_max_seconds"]) < 0.01
        assert phase["testbed"]["node_not_ready"] == 0
        cpu = phase["cpu_seconds"]  # every component and the client spent some
        assert {"etcd", "kube-apiserver", "kube-controller-manager", "bench client"} <= set(cpu)
        assert all(positive(cpu[name]) for name in ("kube-apiserver", "bench client"))
        assert cpu["total"] == round(sum(v for k, v in cpu.items() if k != "total"), 2)
    assert positive(result["ratio"])
    rounds = result["rounds"]  # two pairs, the one of the lower ratio reported (median of 2)
    assert len(rounds) == 2 and result["median_round"] in (1, 2)
    assert result["ratio"] == min(r["ratio"] for r in rounds)
    reported = rounds[result["median_round"] - 1]
    assert reported["direct_seconds"] == baseline["converge_seconds"]
    assert reported["operator_seconds"] == operator["converge_seconds"]
    assert {r["operator_log"] for r in rounds} == {
        f"operator-{SIZE}-1.log",
        f"operator-{SIZE}-2.log",
    }
    assert baseline["objects"] == 2 * SIZE  # a Kubernetes Service and a Deployment each
    # The direct client makes exactly one request per object: the FlowSchemas count it.
    assert baseline["api_requests"]["client"]["by_class"] == {"patch": 2 * SIZE}

    # The floor makes exactly the writes a perfect operator would, and nothing else: a Service
    # resource, its two children and one status write a service; on the update the Service
    # resource, its Deployment and one status write.
    floor = result["floor"]
    assert floor["ready"] == SIZE and positive(floor["converge_seconds"])
    assert floor["api_requests"]["client"]["by_class"] == {
        "service-patch": SIZE, "patch": 2 * SIZE, "status-patch": SIZE
    }  # fmt: skip
    assert floor["api_requests"]["client"]["reads"] == 0
    assert floor["update"]["client_per_update"] == {
        "writes": 3.0, "reads": 0.0, "total": 3.0,
        "service-patch": 1.0, "patch": 1.0, "status-patch": 1.0,
    }  # fmt: skip
    assert reported["floor_seconds"] == floor["converge_seconds"]
    assert reported["floor_ratio"] == round(
        operator["converge_seconds"] / floor["converge_seconds"], 3
    )
    assert positive(floor["cpu_seconds"]["kube-apiserver"])

    assert len(operator["children_ready_times"]) == SIZE
    own = operator["api_requests"]["operator"]
    assert own["by_class"]["patch"] >= 2 * SIZE  # at least its children, applied once each
    assert own["by_class"]["status-patch"] >= SIZE  # and a Running status each
    assert positive(operator["cpu_seconds"]["operator"])
    assert positive(own["writes"]) and positive(own["reads"])
    latency = operator["update_latency"]
    assert latency["sample"] == SAMPLE
    assert latency["observed"] + latency["missed"] == SAMPLE
    assert latency["observed"] == SAMPLE
    assert positive(latency["p50_seconds"]) and positive(latency["p95_seconds"])
    assert latency["p50_seconds"] <= latency["p95_seconds"]
    memory = operator["memory"]
    assert positive(memory["peak_kib"]) and memory["peak_kib"] >= memory["converged_kib"]
    assert operator["idle_cpu_percent"] >= 0
    assert operator["log"]["exit_code"] == 0
    assert operator["log"]["tracebacks"] == 0
    assert (tmp_path / operator["log"]["file"]).exists()
    rest = operator["rest"]  # the REST API over the operator's services, beside Kubernetes
    for kind in ("get_one", "list_page", "list_all"):
        for side in ("api", "kubernetes"):
            assert positive(rest[kind][side]["p50_ms"]), (kind, side)
        assert rest[kind]["ratio_p50"] == round(
            rest[kind]["api"]["p50_ms"] / rest[kind]["kubernetes"]["p50_ms"], 2
        )
    if result["plot"] is not None:  # matplotlib is optional (make bench installs it)
        assert (tmp_path / result["plot"]).read_bytes().startswith(b"\x89PNG")

    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved == summary
    assert [entry["size"] for entry in summary["runs"]] == [SIZE]
    table = summary["table"].splitlines()
    assert table[2].startswith(f"| {SIZE} | create |") and table[3].startswith(
        f"| {SIZE} | update |"
    )
    assert table[4].startswith(f"| {SIZE} | REST API p50 (ms): GET one / page of 25 / all {SIZE} |")
    assert any(f"running {SIZE}/{SIZE}" in line for line in lines)
