"""What every phase of the benchmark shares: its settings, the services it applies and the change
it makes to them, waiting with progress, and how requests and CPU are counted."""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from bench.cluster import Identity, Snapshot, deployment_available, split, verb_totals
from bench.process import OperatorProcess, cpu_seconds
from bench.report import percentile, rounded
from dockercloud_operator.resources.render import render
from dockercloud_operator.schema import constants
from testbed.controlplane import ControlPlane, nodes_for

Object = dict[str, Any]
Result = dict[str, Any]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    nodes: int = 10  # kwok nodes, 1,000 pods each
    api_qps: int = 5000  # kube-controller-manager and kube-scheduler (as kwokctl sets them)
    api_burst: int = 10000
    # kube-controller-manager's workers per workload controller (its defaults: 5, daemonsets 2)
    controller_syncs: int | None = 50
    threads: int = 8  # the direct applies' (and the Service resources') thread pool
    sample: int = 50  # spec changes timed
    idle_seconds: float = 20.0
    settle_seconds: float = 2.0  # after convergence, before the idle window
    timeout: float | None = None  # per phase; default max(120 s, 0.9 s per service)
    profile: bool = False  # py-spy the operator from its start to convergence
    rounds: int = 1  # direct/operator pairs at each size; the figures are the median pair's

    def phase_timeout(self, size: int) -> float:
        return self.timeout if self.timeout is not None else max(120.0, 0.9 * size)


def say_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- what is applied ----------------------------------------------------------------------------


def service_names(size: int) -> list[str]:
    return [f"svc-{index:05d}" for index in range(size)]


def service_manifest(name: str, namespace: str | None = None) -> Object:
    """A simple service: nginx, one container, one port that is not published."""
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": metadata,
        "spec": {"image": "nginx", "container_ports": [{"protocol": "tcp", "inner_port": 80}]},
    }


def rendered(service_list: Sequence[str], namespace: str) -> list[list[Object]]:
    """What `dockercloud-operator render` prints for the services, grouped by service, in the
    order it prints them."""
    text = yaml.safe_dump_all([service_manifest(name) for name in service_list])
    output, _notes = render(text, namespace)
    groups: dict[str, list[Object]] = {}
    for obj in yaml.safe_load_all(output):
        if obj:
            groups.setdefault(obj["metadata"]["labels"][constants.LABEL_SERVICE], []).append(obj)
    return [groups[name] for name in service_list]


UPDATE_ENV = "BENCH_UPDATE"  # the fleet-wide change of the update phase: one env var more


def with_update(service: Object) -> Object:
    """The service manifest with the update phase's env var."""
    changed = copy.deepcopy(service)
    changed["spec"]["container_envvars"] = [{"key": UPDATE_ENV, "value": "1"}]
    return changed


def deployment_with_update(deployment: Object) -> Object:
    changed = copy.deepcopy(deployment)
    container = changed["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [*container.get("env", []), {"name": UPDATE_ENV, "value": "1"}]
    return changed


def _has_update(env: list[Object], key: str) -> bool:
    return any(entry.get(key) == UPDATE_ENV for entry in env)


def deployment_rolled(deployment: Object) -> bool:
    """The update is in its template, and every replica of it is available."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return _has_update(containers[0].get("env") or [], "name") and deployment_available(deployment)


def service_updated(service: Object) -> bool:
    """The update is in its spec, and the operator reports it Running, synchronized, at it."""
    status = service.get("status") or {}
    return (
        _has_update(service["spec"].get("container_envvars") or [], "key")
        and status.get("state") == "Running"
        and bool(status.get("synchronized"))
        and status.get("observedGeneration") == service["metadata"].get("generation")
    )


# -- waiting ------------------------------------------------------------------------------------


def wait_for_count(
    what: str,
    current: Callable[[], int],
    total: int,
    timeout: float,
    say: Say,
    check: Callable[[], None] = lambda: None,
) -> float:
    """Waits until `current()` reaches `total`, saying how far it got every few seconds;
    returns the seconds waited."""
    started = time.monotonic()
    said_at, said = started, -1
    while True:
        check()
        count, now = current(), time.monotonic()
        if count >= total:
            say(f"  {what} {count}/{total} ({now - started:.1f} s)")
            return now - started
        if now - started > timeout:
            raise TimeoutError(f"{what}: only {count}/{total} after {timeout:.0f} s")
        if now - said_at >= 2.0 and (count != said or now - said_at >= 10.0):
            say(f"  {what} {count}/{total} ({now - started:.1f} s)")
            said_at, said = now, count
        time.sleep(0.1)


def sleep_checking(seconds: float, check: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        check()
        time.sleep(min(0.5, left))


def relative(times: dict[str, float], origin: float) -> list[float]:
    return sorted(round(moment - origin, 3) for moment in times.values())


def distribution(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50_seconds": rounded(percentile(values, 0.5)),
        "p95_seconds": rounded(percentile(values, 0.95)),
        "max_seconds": rounded(max(values) if values else None),
    }


def per_service(counts: dict[str, int], size: int) -> dict[str, float]:
    return {key: round(value / size, 2) for key, value in counts.items()}


def request_counts(delta: Snapshot, size: int, top: int = 15) -> Result:
    """All components' requests of a window, in total and per service, and the busiest
    (verb, resource) pairs."""
    totals = verb_totals(delta.by_verb)
    return {
        "all_components": totals,
        "all_per_service": per_service(
            {
                "writes": totals["writes"],
                "reads": totals["reads"],
                "total": totals["writes"] + totals["reads"],
            },
            size,
        ),
        "top_resources": {key: int(count) for key, count in delta.by_resource.most_common(top)},
        "server_mean_seconds": delta.mean_seconds(),
        "server_busiest": delta.busiest(top),
    }


def own_counts(identity: Identity, delta: Snapshot, size: int) -> Result:
    by_class = {name: count for name, count in identity.requests(delta.by_flow).items() if count}
    totals = split(identity.requests(delta.by_flow))
    return {
        "by_class": by_class,
        **totals,
        "per_service": per_service(
            {**totals, "total": totals["writes"] + totals["reads"], **by_class}, size
        ),
    }


# -- the control plane ------------------------------------------------------------------------


def plane(settings: Settings, say: Say, size: int = 0) -> ControlPlane:
    return ControlPlane(
        node_count=nodes_for(size, settings.nodes),
        api_qps=settings.api_qps,
        api_burst=settings.api_burst,
        controller_syncs=settings.controller_syncs,
        say=say,
        default_logs=False,
    )


def cpu_by_process(cluster: ControlPlane, operator: OperatorProcess | None = None) -> Result:
    """CPU seconds so far of each control-plane component, of this process (the client and its
    watches) and of the operator: on a machine of few cores they all share, the run's total
    CPU is what its wall time pays for."""
    seconds = {c.name: cpu_seconds(c.process.pid) for c in cluster.components if c.process}
    seconds["bench client"] = time.process_time()
    if operator is not None:
        seconds["operator"] = operator.cpu_seconds()
    return seconds


def cpu_spent(before: Result, after: Result) -> Result:
    spent = {name: round(after[name] - before[name], 2) for name in before}
    return {**spent, "total": round(sum(spent.values()), 2)}
