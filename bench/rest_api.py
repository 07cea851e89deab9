"""The REST API against the Kubernetes requests it translates to, at N services.

    python -m bench.rest_api --services 1000 --out bench/results      (make bench-api)

On a fresh local control plane: N Service resources in one namespace, created directly (each
with `status.uuid`, as the operator writes it; no operator runs: the API only reads and writes
the resources), a ServiceAccount bound to the service editor role and its token, and
`dockercloud-operator api`. Then, with that one token:

- GET one service by uuid through the API, and the same service by name straight from
  Kubernetes: p50/p95 over R sequential requests on a kept-alive connection; also the uuid of a
  service the operator has not reported on (found in the namespace's list);
- a list page (limit=25) and the whole list, through the API and straight from Kubernetes;
- C concurrent clients for S seconds, each looping over GET one, a page and the whole list:
  requests, errors (anything but 200), latency;
- the API process's peak RSS (VmHWM) and CPU seconds.

It prints a Markdown table and writes `rest-api-<N>.json` into --out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import requests
from kubernetes import client, config

from bench.process import cpu_seconds
from bench.report import percentile, rounded
from dockercloud_operator.schema import constants
from testbed import service_crd, user_roles
from testbed.controlplane import ControlPlane, free_port

Object = dict[str, Any]
Say = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-api"


def create_services(api: client.ApiClient, count: int, threads: int = 8) -> list[Object]:
    """N services, each with the status.uuid the operator would write; returns them."""
    objects = client.CustomObjectsApi(api)
    args = (constants.GROUP, constants.VERSION, NAMESPACE, constants.PLURAL)

    def one(number: int) -> Object:
        body = {
            "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
            "kind": constants.KIND,
            "metadata": {"name": f"svc-{number:05d}"},
            "spec": {"image": "nginx", "running": False, "container_ports": [
                {"protocol": "tcp", "inner_port": 80}]},
        }  # fmt: skip
        created: Object = objects.create_namespaced_custom_object(*args, body)
        uid = created["metadata"]["uid"]
        objects.patch_namespaced_custom_object_status(
            *args, created["metadata"]["name"], {"status": {"uuid": uid, "state": "Not running"}}
        )
        return created

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def editor_token(api: client.ApiClient) -> str:
    user_roles.install(api)
    return user_roles.token(api, NAMESPACE, "bench")


def timed(session: requests.Session, url: str, count: int) -> list[float]:
    """Seconds each of `count` sequential GETs took; every answer must be 200."""
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        # The session's own `verify`, explicitly: REQUESTS_CA_BUNDLE would override it.
        answer = session.get(url, timeout=60, verify=session.verify)
        durations.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text[:300]
    return durations


def summary(durations: list[float]) -> Object:
    return {
        "count": len(durations),
        "p50_ms": rounded(1000 * statistics.median(durations), 2),
        "p95_ms": rounded(1000 * (percentile(durations, 0.95) or 0), 2),
    }


async def load(urls: list[str], headers: dict[str, str], clients: int, seconds: float) -> Object:
    """`clients` clients, each looping over `urls` for `seconds`."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one_client(number: int) -> None:
            step = number
            while time.monotonic() < deadline:
                url = urls[step % len(urls)]
                step += 1
                started = time.perf_counter()
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=60)) as answer:
                        await answer.read()
                        if answer.status != 200:
                            errors.append(f"{answer.status} {url}")
                except (aiohttp.ClientError, TimeoutError) as error:
                    errors.append(f"{type(error).__name__} {url}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(one_client(n) for n in range(clients)))
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(latencies),
        "per_second": rounded(len(latencies) / seconds, 1),
        "errors": len(errors),
        "first_errors": errors[:5],
        **summary(latencies),
    }


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def measure(
    kubeconfig: Path, services: int, requests_count: int, clients: int, seconds: float,
    say: Say = print,
) -> Object:  # fmt: skip
    """Every figure, on the cluster of `kubeconfig` (the bench's own namespace in it)."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    api = client.ApiClient(configuration)
    service_crd.install(api, field_manager="dockercloud-operator-bench")
    client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
    started = time.monotonic()
    created = create_services(api, services)
    say(f"{services} services created in {time.monotonic() - started:.1f}s")
    token = editor_token(api)
    unreported = client.CustomObjectsApi(api).create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, NAMESPACE, constants.PLURAL,
        {"apiVersion": f"{constants.GROUP}/{constants.VERSION}", "kind": constants.KIND,
         "metadata": {"name": "unreported"}, "spec": {"image": "nginx", "running": False}},
    )  # fmt: skip

    kube = str(configuration.host).rstrip("/")
    with api_server(kubeconfig, NAMESPACE, say) as (rest, server):
        target = random.Random(7).choice(created)
        cpu_before = cpu_seconds(server.pid)
        result: Object = {"services": services}
        result.update(
            sequential(rest, kube, configuration.ssl_ca_cert, token, NAMESPACE, target,
                       requests_count, say)
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        unreported_url = f"{rest}/api/app/v1/service/{unreported['metadata']['uid']}/"
        with requests.Session() as session:
            session.headers.update(headers)
            result["get_one"]["api_unreported"] = summary(
                timed(session, unreported_url, max(requests_count // 10, 5))
            )
        uid = target["metadata"]["uid"]
        say(f"{clients} clients for {seconds:g}s ...")
        urls = [
            f"{rest}/api/app/v1/service/{uid}/",
            f"{rest}/api/app/v1/service/?limit=25",
            f"{rest}/api/app/v1/service/{random.Random(8).choice(created)['metadata']['uid']}/",
            f"{rest}/api/app/v1/service/?limit=0",
        ]
        result["concurrent"] = asyncio.run(load(urls, headers, clients, seconds))
        result["api_process"] = {
            "peak_rss_mib": peak_rss_mib(server.pid),
            "cpu_seconds": rounded(cpu_seconds(server.pid) - cpu_before, 2),
        }
        return result


@contextlib.contextmanager
def api_server(
    kubeconfig: Path, namespace: str, say: Say = print
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dockercloud-operator api` serving `namespace` until the block ends: its URL, its process."""
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="bench-api-")) / "api.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "dockercloud_operator", "api", "--listen",
             f"127.0.0.1:{port}", "--namespace", namespace],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)}, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    rest = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{rest}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield rest, server
    finally:
        server.terminate()
        server.wait(10)
        say(f"API log: {log_path}")


def sequential(
    rest: str, kube: str, ca: str | None, token: str, namespace: str, target: Object,
    count: int, say: Say = print,
) -> Object:  # fmt: skip
    """GET one service (`target`), a page of 25 and the whole list, each `count` times (the
    lists a tenth of that) one after another on a kept-alive connection, through the API and
    straight from Kubernetes, with the same token: p50/p95 of each, their difference and ratio."""
    collection = (f"{kube}/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{namespace}/"
                  f"{constants.PLURAL}")  # fmt: skip
    uid, name = target["metadata"]["uid"], target["metadata"]["name"]
    runs = max(count // 10, 5)
    with requests.Session() as api_session, requests.Session() as kube_session:
        for session in (api_session, kube_session):
            session.headers.update({"Authorization": f"Bearer {token}"})
        kube_session.verify = ca or True
        say("GET one ...")
        result: Object = {
            "get_one": {
                "api": summary(timed(api_session, f"{rest}/api/app/v1/service/{uid}/", count)),
                "kubernetes": summary(timed(kube_session, f"{collection}/{name}", count)),
            }
        }
        say("lists ...")
        result["list_page"] = {
            "api": summary(timed(api_session, f"{rest}/api/app/v1/service/?limit=25", runs)),
            "kubernetes": summary(timed(kube_session, f"{collection}?limit=25", runs)),
        }
        result["list_all"] = {
            "api": summary(timed(api_session, f"{rest}/api/app/v1/service/?limit=0", runs)),
            "kubernetes": summary(timed(kube_session, collection, runs)),
        }
    for figures in result.values():
        api_p50, kube_p50 = figures["api"]["p50_ms"], figures["kubernetes"]["p50_ms"]
        figures["difference_p50_ms"] = rounded(api_p50 - kube_p50, 2)
        figures["ratio_p50"] = rounded(api_p50 / kube_p50, 2)
    return result


def table(result: Object) -> str:
    rows = [
        "| measure | through the API | from Kubernetes | difference (p50) | ratio (p50) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for key, label in (("get_one", "GET one service (p50/p95 ms)"),
                       ("list_page", "list, one page of 25 (p50/p95 ms)"),
                       ("list_all", f"list, all {result['services']} (p50/p95 ms)")):  # fmt: skip
        f = result[key]
        rows.append(
            f"| {label} | {f['api']['p50_ms']} / {f['api']['p95_ms']} | "
            f"{f['kubernetes']['p50_ms']} / {f['kubernetes']['p95_ms']} | "
            f"{f['difference_p50_ms']} ms | {f['ratio_p50']} |"
        )
    c = result["concurrent"]
    unreported = result["get_one"]["api_unreported"]
    process = result["api_process"]
    return "\n".join(rows) + (
        f"\n\nGET by the uuid of a service not yet reported on (found in the list): "
        f"p50 {unreported['p50_ms']} ms.\n"
        f"{c['clients']} concurrent clients for {c['seconds']:g} s: {c['requests']} requests "
        f"({c['per_second']}/s), {c['errors']} errors, p50 {c['p50_ms']} ms, "
        f"p95 {c['p95_ms']} ms.\n"
        f"API process: peak RSS {process['peak_rss_mib']} MiB, {process['cpu_seconds']} CPU-s."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rest_api", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=500, help="sequential GETs timed")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    with ControlPlane(say=print, node_count=3, default_logs=False) as plane:
        result = measure(plane.kubeconfig, args.services, args.requests, args.clients, args.seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"rest-api-{args.services}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
