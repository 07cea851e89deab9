"""What receiving the watch events of N services costs, and nothing more.

    .venv/bin/python -m bench.watch_floor --size 1000

A kopf process with the operator's watches of the kinds a simple service has (Deployments,
Kubernetes Services and pods, filtered by the operator's label), its settings, and handlers
that only count, runs beside a direct apply of N services (the benchmark's baseline). Its CPU
until every Deployment is available is a floor for the operator's: the operator receives these
events (and those of its Service resources) through the same machinery before it does any work.

`--client raw` measures the same watches without kopf: one thread a watch on the Kubernetes
client's connection pool, each event's JSON decoded and counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.cluster import Tracker, api_client, apply_all, create_namespace, deployment_available
from bench.common import (
    Settings,
    cpu_by_process,
    cpu_spent,
    plane,
    rendered,
    service_names,
    wait_for_count,
)
from bench.common import say_stderr as say
from bench.process import cpu_seconds
from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.schema import constants, names

KINDS = [("apps", "v1", "deployments"), ("", "v1", "services"), ("", "v1", "pods")]
READY = "watching"


def serve(counts_file: Path) -> None:
    """The counting kopf process (run by `measure`, in a process of its own)."""
    import kopf

    from dockercloud_operator.controller.handlers import NoDiffBase

    registry = kopf.OperatorRegistry()
    counts: Counter[str] = Counter()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def start(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.watching.server_timeout = 300
        settings.persistence.diffbase_storage = NoDiffBase()
        settings.posting.enabled = False
        print(READY, flush=True)

    @kopf.on.cleanup(registry=registry)
    def stop(**_: Any) -> None:
        counts_file.write_text(json.dumps(counts))

    for group, version, plural in KINDS:

        async def counted(plural: str = plural, **_: Any) -> None:  # as the operator's: async
            counts[plural] += 1

        kopf.on.event(
            group, version, plural, id=plural, registry=registry,
            labels={constants.LABEL_MANAGED_BY: names.OPERATOR},
        )(counted)  # fmt: skip
    kopf.configure(verbose=False)
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # as the operator does
    kopf.run(registry=registry, standalone=True, clusterwide=True)


def serve_raw(counts_file: Path) -> None:
    """The same watches, without kopf: a thread each, JSON lines decoded and counted."""
    import threading

    from dockercloud_operator.controller.kube import new_api_client

    api = new_api_client()
    counts: Counter[str] = Counter()
    selector = f"{constants.LABEL_MANAGED_BY}={names.OPERATOR}"

    def watch(group: str, version: str, plural: str) -> None:
        url = f"/apis/{group}/{version}/{plural}" if group else f"/api/{version}/{plural}"
        listed = Kube(api).request("GET", url, query=[("labelSelector", selector)])
        query = [("labelSelector", selector), ("watch", "true"),
                 ("resourceVersion", listed["metadata"]["resourceVersion"])]  # fmt: skip
        response = api.call_api(
            *api.param_serialize(
                method="GET",
                resource_path=url,
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
        )
        for line in response.response:
            json.loads(line)
            counts[plural] += 1

    def stop(signum: int, frame: object) -> None:
        counts_file.write_text(json.dumps(counts))
        os._exit(0)

    signal.signal(signal.SIGINT, stop)
    for kind in KINDS:
        threading.Thread(target=watch, args=kind, daemon=True).start()
    print(READY, flush=True)
    while True:
        time.sleep(1)


def measure(size: int, settings: Settings, kind: str = "kopf") -> dict[str, Any]:
    service_list = service_names(size)
    with plane(settings, say, size) as cluster, tempfile.TemporaryDirectory() as folder:
        admin = api_client(cluster.kubeconfig)
        counts_file = Path(folder) / "counts.json"
        log = Path(folder) / "kopf.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.watch_floor",
                    "--client",
                    kind,
                    "--serve",
                    str(counts_file),
                ],
                env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            while READY not in log.read_text(errors="replace"):
                if process.poll() is not None:
                    raise RuntimeError(f"kopf exited:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
            time.sleep(2.0)  # its watches listed (nothing yet) and settled
            namespace = create_namespace(admin, f"floor-{uuid.uuid4().hex[:6]}")
            groups = rendered(service_list, namespace)
            kube = Kube(admin, field_manager="bench-direct")
            with Tracker(admin, "apps", "v1", "deployments", namespace, deployment_available) as t:
                kopf_before, all_before = cpu_seconds(process.pid), cpu_by_process(cluster)
                started = time.monotonic()
                apply_all(kube, groups, settings.threads, settings.phase_timeout(size))
                wait_for_count(
                    "available", lambda: t.count, size, settings.phase_timeout(size), say
                )
                converged = time.monotonic() - started
                time.sleep(2.0)  # the last events reach kopf
                kopf_cpu = cpu_seconds(process.pid) - kopf_before
                everyone = cpu_spent(all_before, cpu_by_process(cluster))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        if not counts_file.exists():
            raise RuntimeError(f"kopf counted nothing:\n{log.read_text(errors='replace')}")
        counts = json.loads(counts_file.read_text())
    events = sum(counts.values())
    return {
        "size": size,
        "client": kind,
        "converge_seconds": round(converged, 1),
        "events": counts,
        "client_cpu_seconds": round(kopf_cpu, 2),
        "client_ms_per_event": round(1000 * kopf_cpu / events, 3) if events else None,
        "client_ms_per_service": round(1000 * kopf_cpu / size, 2),
        "cpu_seconds_of_the_rest": everyone,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.watch_floor", description=__doc__)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--client", choices=["kopf", "raw"], default="kopf")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        (serve if args.client == "kopf" else serve_raw)(args.serve)
        return 0
    print(json.dumps(measure(args.size, Settings(), args.client), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
