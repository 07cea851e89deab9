"""The floor: what a perfect operator would make the API server do, with no operator at all.

On a fresh control plane, from the same thread pool as the other phases: each Service resource
is created and its rendered children applied (owned by it, as the operator owns them), and once
its Deployment is available one status write says Running, the status the operator would write
(computed by the operator's own `compute`). Then the update: each Service resource changed (an
env var more, as in the other phases), its Deployment patched to match, and once that is rolled
one status write at the new generation. Nothing else writes: no pod or child watches of an
operator, no Events, no progress writes. The operator's time over the floor's is what the
operator itself costs; the direct apply's time is below the floor, because it makes no Service
resources at all (their writes, and the watches they feed, cost the API server too).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.cluster import (
    Identity,
    Metrics,
    Snapshot,
    Tracker,
    api_client,
    create_namespace,
    deployment_available,
    node_not_ready_events,
)
from bench.common import (
    Object,
    Result,
    Say,
    Settings,
    cpu_by_process,
    cpu_spent,
    deployment_rolled,
    deployment_with_update,
    distribution,
    own_counts,
    plane,
    relative,
    rendered,
    request_counts,
    service_manifest,
    service_names,
    service_updated,
    wait_for_count,
    with_update,
)
from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.controller.status import Observed, compute
from dockercloud_operator.schema import constants, names
from dockercloud_operator.schema.model import (
    Service,
)
from testbed import service_crd

# The requests the floor makes a service: its own writes, by kind (checked by the tests).
CREATE_WRITES = {"Service resource": 1, "children": 2, "status": 1}
UPDATE_WRITES = {"Service resource": 1, "Deployment": 1, "status": 1}


def running_pods(service: Service, replicas: int) -> list[Object]:
    """What the operator would have seen of the containers once they all run."""
    return [
        {
            "metadata": {"uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{service.name}/{index}"))},
            "status": {
                "phase": "Running",
                "hostIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
        for index in range(replicas)
    ]


def running_status(body: Object, deployment: Object) -> Object:
    """The status the operator writes for a service whose containers all run."""
    service = Service.model_validate(body)
    pods = running_pods(service, int(deployment["spec"].get("replicas") or 1))
    previous = body.get("status") or {}
    return compute(service, Observed(workload=deployment, pods=pods), previous, datetime.now(UTC))


class StatusWriter:
    """One status write a service, once its Deployment is `done` (fed by a Tracker)."""

    def __init__(self, kube: Kube, threads: int) -> None:
        self.kube = kube
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-floor")
        self.services: dict[str, Object] = {}  # workload name -> the Service resource
        self.written: set[str] = set()
        self.done: Callable[[Object], bool] = deployment_available
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def expect(self, service: Object) -> None:
        with self.lock:
            self.services[names.workload(service["metadata"]["name"])] = service

    def seen(self, deployment: Object, now: float) -> None:
        name = deployment["metadata"]["name"]
        with self.lock:
            service = self.services.get(name)
            if service is None or name in self.written or not self.done(deployment):
                return
            self.written.add(name)
        self.pool.submit(self._write, service, deployment)

    def _write(self, service: Object, deployment: Object) -> None:
        try:
            self.kube.patch_status(service, running_status(service, deployment))
        except BaseException as error:
            self.errors.append(error)
            raise

    def restart(self, done: Callable[[Object], bool]) -> None:
        """Ready for the next round of writes (the update), written when `done` says so."""
        with self.lock:
            self.written.clear()
            self.done = done

    def check(self) -> None:
        if self.errors:
            raise RuntimeError(f"a status write failed: {self.errors[0]!r}")

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Timed:
    """One timed part of the floor: each service's time, the CPU of every process, and the
    API server's request counters over it."""

    times: list[float]
    cpu: Result
    delta: Snapshot
    apply_seconds: float


def each(call: Callable[[str], None], items: Sequence[str], threads: int, timeout: float) -> float:
    """`call` for each item, on `threads` threads (as `apply_all` applies); the seconds taken."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-floor-apply")
    try:
        futures = [pool.submit(call, item) for item in items]
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        for future in done:
            future.result()  # raises the first error
        if pending:
            raise TimeoutError(f"{len(pending)} of {len(items)} unfinished after {timeout:.0f}s")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return time.monotonic() - started


def owned(children: list[Object], owner: Object) -> list[Object]:
    """The children, owned by the Service resource (the operator's owner reference)."""
    reference = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return [{**c, "metadata": {**c["metadata"], "ownerReferences": [reference]}} for c in children]


def floor_phase(size: int, settings: Settings, say: Say, workdir: Path) -> Result:
    timeout = settings.phase_timeout(size)
    service_list = service_names(size)
    with plane(settings, say, size) as cluster:
        admin = api_client(cluster.kubeconfig)
        metrics = Metrics(cluster.kubeconfig, workdir)
        service_crd.install(admin, field_manager="bench")
        identity = Identity.create(admin, cluster.kubeconfig, "bench-floor", workdir)
        namespace = create_namespace(admin, f"bench-floor-{uuid.uuid4().hex[:6]}")
        groups = dict(zip(service_list, rendered(service_list, namespace), strict=True))
        kube = Kube(api_client(identity.kubeconfig), field_manager="bench-floor")
        writer = StatusWriter(kube, settings.threads)

        def create(name: str) -> None:
            body = kube.apply(service_manifest(name, namespace))
            writer.expect(body)
            for child in owned(groups[name], body):
                kube.apply(child)

        def change(name: str) -> None:
            body = kube.apply(with_update(service_manifest(name, namespace)))
            writer.expect(body)
            for child in groups[name]:
                if child["kind"] == "Deployment":
                    kube.apply(owned([deployment_with_update(child)], body)[0])

        def timed(call: Callable[[str], None], written: Callable[[Object], bool],
                  rolled: Callable[[Object], bool], what: str) -> Timed:  # fmt: skip
            """`call` for every service; timed until every status is `written`, each once
            its Deployment is `rolled`."""
            writer.restart(rolled)
            with Tracker(admin, constants.GROUP, constants.VERSION, constants.PLURAL, namespace,
                         written) as statuses, \
                 Tracker(admin, "apps", "v1", "deployments", namespace, rolled,
                         seen=writer.seen):  # fmt: skip
                before, cpu_before = metrics.scrape(), cpu_by_process(cluster)
                origin = time.monotonic()
                applied = each(call, service_list, settings.threads, timeout)
                say(f"  applied in {applied:.1f} s")
                wait_for_count(what, lambda: statuses.count, size, timeout, say, writer.check)
                return Timed(
                    times=relative(statuses.ready_at, origin),
                    cpu=cpu_spent(cpu_before, cpu_by_process(cluster)),
                    delta=metrics.scrape() - before,
                    apply_seconds=applied,
                )

        try:
            say(f"floor: {size} Service resources and their children into {namespace}, "
                "one status write each, no operator")  # fmt: skip
            created = timed(create, _status_written, deployment_available, "written")
            say(f"floor update: {size} Service resources changed, their Deployments patched")
            updated = timed(change, service_updated, deployment_rolled, "updated")
        finally:
            writer.close()
        bed = {"node_not_ready": node_not_ready_events(admin)}
    times, delta, update_delta = created.times, created.delta, updated.delta
    return {
        "namespace": namespace,
        "converge_seconds": times[-1],
        "ready": len(times),
        "ready_times": times,
        **{f"ready_{key}": value for key, value in distribution(times).items()},
        "apply_seconds": round(created.apply_seconds, 3),
        "cpu_seconds": created.cpu,
        "api_requests": {
            "window": "first apply to every status written",
            **request_counts(delta, size),
            "client": own_counts(identity, delta, size),
        },
        "expected_writes": {"create": CREATE_WRITES, "update": UPDATE_WRITES},
        "update": {
            "about": "every Service resource changed and its Deployment patched (an env var "
            "more), until each has its status written at the new generation",
            "seconds": updated.times[-1],
            **{f"done_{key}": value for key, value in distribution(updated.times).items()},
            "cpu_seconds": updated.cpu,
            "client_per_update": own_counts(identity, update_delta, size)["per_service"],
            "all_components": request_counts(update_delta, size)["all_per_service"],
            "requests": request_counts(update_delta, size),
        },
        "testbed": bed,
    }


def _status_written(service: Object) -> bool:
    return (service.get("status") or {}).get("state") == "Running"
