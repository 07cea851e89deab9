"""What the benchmark prints and draws: percentiles, the Markdown table, the PNG plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed.controlplane import nodes_for

Result = dict[str, Any]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (as numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


TABLE_HEADER = (
    "| services | phase | direct (s) | floor (s) | operator (s) | ÷ direct | ÷ floor "
    "| operator writes / service | operator CPU / service (ms) | spec→Deployment p50 / p95 (s) "
    "| all requests per service (direct / floor / operator) | operator peak RSS (MiB) "
    "| operator idle CPU (%) |\n"
    "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def _ratio(value: float | None, over: float | None) -> str:
    return "-" if not value or not over else f"{value / over:.2f}"


def table_rows(result: Result) -> list[str]:
    """Two rows a size: the services created, then all of them changed at once."""
    baseline, operator = result["baseline"], result["operator"]
    floor = result.get("floor") or {}
    size = result["size"]
    latency = operator["update_latency"]
    own = operator["api_requests"]["operator_per_service"]
    everyone = " / ".join(
        _number((phase.get("api_requests") or {}).get("all_per_service", {}).get("total"))
        for phase in (baseline, floor, operator)
    )
    create = operator["converge_seconds"]
    rows = [
        f"| {size} | create | {_number(baseline['converge_seconds'])} "
        f"| {_number(floor.get('converge_seconds'))} | {_number(create)} "
        f"| {_ratio(create, baseline['converge_seconds'])} "
        f"| {_ratio(create, floor.get('converge_seconds'))} "
        f"| {_number(own['writes'])} "
        f"| {_number(1000 * operator['cpu_seconds']['operator'] / size)} "
        f"| {_number(latency['p50_seconds'], 2)} / {_number(latency['p95_seconds'], 2)} "
        f"| {everyone} | {_number(operator['memory']['peak_kib'] / 1024)} "
        f"| {_number(operator['idle_cpu_percent'], 2)} |"
    ]
    if "update" in operator and "update" in baseline:
        direct, done = baseline["update"], operator["update"]
        floored = floor.get("update") or {}
        everyone = " / ".join(
            _number(phase.get("all_components", {}).get("total"))
            for phase in (direct, floored, done)
        )
        rows.append(
            f"| {size} | update | {_number(direct['seconds'])} "
            f"| {_number(floored.get('seconds'))} | {_number(done['seconds'])} "
            f"| {_ratio(done['seconds'], direct['seconds'])} "
            f"| {_ratio(done['seconds'], floored.get('seconds'))} "
            f"| {_number(done['operator_per_update'].get('writes'))} "
            f"| {_number(1000 * done['cpu_seconds'].get('operator', 0) / size)} "
            f"| | {everyone} | | |"
        )
    rest = operator.get("rest")
    if rest:  # Kubernetes' answer in the direct column, the REST API's in the operator's
        kinds = ("get_one", "list_page", "list_all")
        kube = " / ".join(_number(rest[k]["kubernetes"]["p50_ms"], 2) for k in kinds)
        api = " / ".join(_number(rest[k]["api"]["p50_ms"], 2) for k in kinds)
        ratios = " / ".join(_number(rest[k]["ratio_p50"], 2) for k in kinds)
        rows.append(
            f"| {size} | REST API p50 (ms): GET one / page of 25 / all {size} "
            f"| {kube} | | {api} | {ratios} | | | | | | | |"
        )
    return rows


def markdown(results: Sequence[Result]) -> str:
    lines = [TABLE_HEADER, *(row for result in results for row in table_rows(result))]
    if results:
        settings = results[-1]["settings"]
        nodes = sorted({nodes_for(result["size"], settings["nodes"]) for result in results})
        lines.append("")
        lines.append(
            f"{' or '.join(map(str, nodes))} kwok nodes (room for every container and its "
            "replacement); kube-controller-manager and kube-scheduler at "
            f"--kube-api-qps={settings['api_qps']} --kube-api-burst={settings['api_burst']}; "
            f"direct applies on {settings['threads']} threads; latency over "
            f"{results[-1]['operator']['update_latency']['sample']} spec changes; idle CPU over "
            f"{settings['idle_seconds']:.0f} s; {settings['host']['cpus']} CPUs shared with "
            "the whole control plane (and whatever else runs on the machine)."
        )
        for result in results:
            rounds = result.get("rounds", [])
            if len(rounds) > 1:
                lines.append("")
                lines.append(
                    f"{result['size']} services, {len(rounds)} rounds (the table shows round "
                    f"{result['median_round']}, of the median ratio): ratios "
                    + ", ".join(f"{r['ratio']:.2f}" for r in rounds)
                    + (
                        "; ÷ floor " + ", ".join(f"{r['floor_ratio']:.2f}" for r in rounds)
                        if all("floor_ratio" in r for r in rounds)
                        else ""
                    )
                    + "; update ÷ direct "
                    + ", ".join(f"{r.get('update_ratio', 0):.2f}" for r in rounds)
                    + "; direct "
                    + ", ".join(f"{r['direct_seconds']:.1f}" for r in rounds)
                    + " s; operator "
                    + ", ".join(f"{r['operator_seconds']:.1f}" for r in rounds)
                    + " s."
                )
            direct, operator = result["baseline"], result["operator"]
            if "update" in direct and "update" in operator:
                per = operator["update"]["operator_per_update"]
                cpu, direct_cpu = operator["update"]["cpu_seconds"], direct["update"]["cpu_seconds"]
                lines.append("")
                lines.append(
                    f"{result['size']} services changed at once (an env var more): the direct "
                    f"patch rolled every Deployment in {direct['update']['seconds']:.1f} s, the "
                    f"operator had every service Running at the new generation in "
                    f"{operator['update']['seconds']:.1f} s "
                    f"({operator['update']['seconds'] / direct['update']['seconds']:.2f}x); the "
                    f"operator's writes per update: {per.get('writes', 0)} (status "
                    f"{per.get('status-patch', 0)}, Events {per.get('event-create', 0)}, "
                    f"applies {per.get('patch', 0)}); its CPU "
                    f"{cpu.get('operator', 0):.1f} s, kube-apiserver "
                    f"{cpu.get('kube-apiserver', 0):.1f} s (direct: "
                    f"{direct_cpu.get('kube-apiserver', 0):.1f} s)."
                )
            if "cpu_seconds" in direct and "cpu_seconds" in operator:
                floor = result.get("floor")
                lines.append("")
                lines.append(
                    f"CPU seconds until converged at {result['size']}, all processes: "
                    f"direct {_cpu(direct['cpu_seconds'])}; "
                    + (f"floor {_cpu(floor['cpu_seconds'])}; " if floor else "")
                    + f"operator {_cpu(operator['cpu_seconds'])}."
                )
                if "update" in direct and "update" in operator:
                    lines.append(
                        f"CPU seconds of the update at {result['size']}: direct "
                        f"{_cpu(direct['update']['cpu_seconds'])}; "
                        + (f"floor {_cpu(floor['update']['cpu_seconds'])}; " if floor else "")
                        + f"operator {_cpu(operator['update']['cpu_seconds'])}."
                    )
    return "\n".join(lines)


def _cpu(seconds: Result) -> str:
    parts = ", ".join(f"{name} {value:g}" for name, value in seconds.items() if name != "total")
    return f"{seconds['total']:g} ({parts})"


def plot(result: Result, path: Path) -> bool:
    """Services ready over time, direct apply and floor against the operator; False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    baseline, operator = result["baseline"], result["operator"]
    series = [
        ("direct apply: Deployments available", baseline["ready_times"], "-"),
        ("operator: Deployments available", operator["children_ready_times"], ":"),
        ("operator: Services Running", operator["ready_times"], "-"),
    ]
    if result.get("floor"):  # the floor: its status written once the Deployment is available
        series.insert(1, ("floor: status written", result["floor"]["ready_times"], "--"))
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=120)
    for label, times, style in series:
        ordered = sorted(times)
        axes.step(
            [0.0, *ordered], range(len(ordered) + 1), where="post", label=label, linestyle=style
        )
    axes.set_xlabel("seconds since the first apply")
    axes.set_ylabel("services ready")
    axes.set_title(
        f"{result['size']} services: operator {_number(operator['converge_seconds'])} s, "
        f"direct apply {_number(baseline['converge_seconds'])} s"
    )
    axes.set_xlim(left=0)
    axes.set_ylim(0, result["size"] * 1.03)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
