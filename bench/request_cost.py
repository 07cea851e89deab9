"""What one API request costs the operator's process in CPU, by the path it takes.

    .venv/bin/python -m bench.request_cost --count 1500

On a fresh local control plane, one thread makes the same requests one after another (a GET of
a small object, a merge patch of a ConfigMap) through:

- `Kube.request`, the operator's own calls (`controller/kube.py`): straight on the Kubernetes
  client's connection pool, bodies encoded by orjson;
- the Kubernetes client's own path (`ApiClient.param_serialize` and `call_api`), which the
  operator used before: it walks every body, encodes it with the standard library's json, and
  looks its connection pool up by URL;
- aiohttp on an event loop, for comparison (llhttp parses the answer; no thread).

Then the same GET with `--in-flight` requests at once (32, as the operator allows), as the
reconciles make them: `AsyncKube` (aiohttp on the event loop, what the reconciles use) against
`Kube` in a pool of as many threads (what they used before).

CPU is `time.process_time()` of this process over `--count` requests, so the API server's work
is not in it. The figures are µs a request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes import client, config

from dockercloud_operator.controller.kube import AsyncKube, Call, Kube
from dockercloud_operator.schema import encoding
from testbed.controlplane import ControlPlane

ACCOUNT = "/api/v1/namespaces/default/serviceaccounts/default"
CONFIG_MAPS = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


def _timed(count: int, call: Callable[[], Any]) -> dict[str, float]:
    call()  # a connection open, and warm
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": round(1e6 * cpu / count, 1), "wall_us": round(1e6 * wall / count, 1)}


def _client_path(api: client.ApiClient, method: str, url: str, body: Any = None) -> Any:
    params = api.param_serialize(
        method=method,
        resource_path=url,
        header_params={"Content-Type": MERGE, "Accept": "application/json"},
        body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*params)
    response.read()
    return encoding.loads(response.data)


async def _aiohttp_get(api: client.ApiClient, count: int) -> dict[str, float]:
    configuration = api.configuration
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    headers = {"Accept": "application/json"}
    for auth in configuration.auth_settings().values():
        if auth["in"] == "header" and auth["value"]:
            headers[auth["key"]] = auth["value"]
    connector = aiohttp.TCPConnector(ssl=context)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def get() -> None:
            async with session.get(configuration.host + ACCOUNT) as response:
                encoding.loads(await response.read())

        await get()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await get()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": round(1e6 * cpu / count, 1), "wall_us": round(1e6 * wall / count, 1)}


async def _in_flight(run: Callable[[], Any], count: int, at_once: int) -> dict[str, float]:
    """`count` calls of `run` (a coroutine function), `at_once` of them in flight."""
    room = asyncio.Semaphore(at_once)

    async def one() -> None:
        async with room:
            await run()

    await asyncio.gather(*(one() for _ in range(at_once)))  # connections open, and warm
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us": round(1e6 * cpu / count, 1), "wall_us": round(1e6 * wall / count, 1)}


async def _through_threads(kube: Kube, count: int, at_once: int) -> dict[str, float]:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(at_once))
    call = Call("GET", ACCOUNT)
    return await _in_flight(lambda: asyncio.to_thread(kube.run, call), count, at_once)


async def _on_the_loop(kube: Kube, count: int, at_once: int) -> dict[str, float]:
    calls = AsyncKube(kube, connections=at_once)
    try:
        return await _in_flight(lambda: calls.run(Call("GET", ACCOUNT)), count, at_once)
    finally:
        await calls.close()


def measure(kubeconfig: Path, count: int, at_once: int = 32) -> dict[str, dict[str, float]]:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    api.configuration.connection_pool_maxsize = at_once
    api = client.ApiClient(api.configuration)
    kube = Kube(api)
    name = f"request-cost-{uuid.uuid4().hex[:6]}"
    kube.request("POST", CONFIG_MAPS, body={"metadata": {"name": name}, "data": {"n": "0"}})
    config_map = f"{CONFIG_MAPS}/{name}"
    written = iter(range(1, 10**9))

    def patch_body() -> dict[str, Any]:
        return {"data": {"n": str(next(written))}}

    figures = {
        "GET: Kube.request": _timed(count, lambda: kube.request("GET", ACCOUNT)),
        "GET: the client's own path": _timed(count, lambda: _client_path(api, "GET", ACCOUNT)),
        "GET: aiohttp": asyncio.run(_aiohttp_get(api, count)),
        "PATCH: Kube.request": _timed(
            count, lambda: kube.request("PATCH", config_map, body=patch_body(), content_type=MERGE)
        ),
        "PATCH: the client's own path": _timed(
            count, lambda: _client_path(api, "PATCH", config_map, patch_body())
        ),
    }
    kube.request("DELETE", config_map)
    figures[f"GET, {at_once} in flight: Kube in threads"] = asyncio.run(
        _through_threads(kube, count, at_once)
    )
    figures[f"GET, {at_once} in flight: AsyncKube"] = asyncio.run(
        _on_the_loop(kube, count, at_once)
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.request_cost", description=__doc__)
    parser.add_argument("--count", type=int, default=1500, help="requests a path")
    parser.add_argument("--in-flight", type=int, default=32, help="requests at once, at the end")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as workdir,
        ControlPlane(workdir=Path(workdir) / "plane", default_logs=False) as plane,
    ):
        figures = measure(plane.kubeconfig, args.count, args.in_flight)
    for path, figure in figures.items():
        print(f"{path:42} {figure['cpu_us']:7.0f} µs CPU  {figure['wall_us']:7.0f} µs wall")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
