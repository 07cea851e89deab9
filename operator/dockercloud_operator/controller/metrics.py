"""Prometheus metrics, and the small HTTP server that serves them (`/metrics`) with a health
check (`/healthz`), in the operator's own event loop.

The series, named after controller-runtime's where they mean the same:

| series | type | labels |
| --- | --- | --- |
| `dockercloud_operator_reconciles_total` | counter | `result`: success, retry, error |
| `dockercloud_operator_reconcile_errors_total` | counter | |
| `dockercloud_operator_reconcile_duration_seconds` | histogram | |
| `dockercloud_operator_api_requests_total` | counter | `verb` (get, list, create, ...), `code` |
| `dockercloud_operator_services` | gauge, at scrape time | `state` |
| `dockercloud_operator_workqueue_keys` | gauge, at scrape time | |
| `dockercloud_operator_leader` | gauge | |

API requests are those of the reconciler and of leader election (`Kube.request`); kopf's own
watch streams are not counted."""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp.web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dockercloud_operator.controller.retry import Retry
from dockercloud_operator.schema.parts import (
    State,
)

logger = logging.getLogger(__name__)
Object = dict[str, Any]
UNKNOWN_STATE = "Unknown"  # a service the operator has not reported a state for yet
disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` twin of each series

RECONCILES = Counter(
    "dockercloud_operator_reconciles",
    "Reconciles of a service, by result: success, retry (a write conflict), or error.",
    ["result"],
)
RECONCILE_ERRORS = Counter(
    "dockercloud_operator_reconcile_errors", "Reconciles of a service that failed with an error."
)
RECONCILE_DURATION = Histogram(
    "dockercloud_operator_reconcile_duration_seconds",
    "How long reconciling a service took, whatever the result.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
API_REQUESTS = Counter(
    "dockercloud_operator_api_requests",
    "Kubernetes API requests the operator made, by verb and HTTP status code.",
    ["verb", "code"],
)
LEADER = Gauge(
    "dockercloud_operator_leader",
    "1 while this replica reconciles: it holds the Lease, or leader election is off.",
)
LEADER.set(1)  # until leader election (leader.py) says otherwise
for _result in ("success", "retry", "error"):  # every series exists from the start, at 0
    RECONCILES.labels(_result)

# -- hooks --------------------------------------------------------------------------------------


async def reconciled(work: Awaitable[None]) -> None:
    """Awaits one reconcile, counting and timing it (`WorkQueue._run`)."""
    started = time.perf_counter()
    try:
        await work
    except Retry:
        RECONCILES.labels("retry").inc()
        raise
    except Exception:
        RECONCILES.labels("error").inc()
        RECONCILE_ERRORS.inc()
        raise
    else:
        RECONCILES.labels("success").inc()
    finally:
        RECONCILE_DURATION.observe(time.perf_counter() - started)


def api_request(method: str, url: str, status: int) -> None:
    """Counts one API request (`Kube.request`)."""
    API_REQUESTS.labels(verb(method, url), str(status)).inc()


def verb(method: str, url: str) -> str:
    """The Kubernetes verb of a request: GET on a collection is `list`, on an object `get`;
    PUT is `update`; POST `create`; PATCH `patch`; DELETE on a collection `deletecollection`."""
    path = url.split("?", 1)[0].strip("/").split("/")
    rest = path[2:] if path[:1] == ["api"] else path[3:]  # past /api/v1 or /apis/<group>/<v>
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # past namespaces/<name>
    collection = len(rest) <= 1
    method = method.upper()
    if method == "GET":
        return "list" if collection else "get"
    if method == "DELETE":
        return "deletecollection" if collection else "delete"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


# -- scrape-time gauges -------------------------------------------------------------------------


class StoreCollector(Collector):
    """Services by state, and the work queue's keys, read from the reconciler when scraped."""

    def __init__(self, states: Callable[[], Iterable[str | None]], keys: Callable[[], int]) -> None:
        self._states = states
        self._keys = keys

    def collect(self) -> Iterator[Metric]:
        tally = Tally({state.value: 0 for state in State})
        tally[UNKNOWN_STATE] += 0
        for state in self._states():
            tally[state or UNKNOWN_STATE] += 1
        services = GaugeMetricFamily(
            "dockercloud_operator_services",
            "Services the operator knows, by the state it last reported for them.",
            labels=["state"],
        )
        for state, count in sorted(tally.items()):
            services.add_metric([state], count)
        yield services
        yield GaugeMetricFamily(
            "dockercloud_operator_workqueue_keys",
            "Services waiting to be reconciled, or being reconciled.",
            value=self._keys(),
        )


# -- the server ---------------------------------------------------------------------------------


def application(registry: CollectorRegistry = REGISTRY) -> aiohttp.web.Application:
    async def metrics(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def healthz(request: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="ok\n")

    app = aiohttp.web.Application()
    app.add_routes([aiohttp.web.get("/metrics", metrics), aiohttp.web.get("/healthz", healthz)])
    return app


@dataclass
class Server:
    runner: aiohttp.web.AppRunner
    collector: StoreCollector
    registry: CollectorRegistry


async def serve(
    port: int,
    states: Callable[[], Iterable[str | None]],
    keys: Callable[[], int],
    host: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
) -> Server | None:
    """Serves /metrics (with the services by `states`, the work queue's `keys`) and /healthz
    until `stop`;
    None when the port cannot be had: the operator goes on without metrics rather than not at
    all."""
    runner = aiohttp.web.AppRunner(application(registry), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await aiohttp.web.TCPSite(runner, host, port).start()
    except OSError as error:
        logger.error("Not serving metrics: cannot listen on %s:%d (%s).", host, port, error)
        await runner.cleanup()
        return None
    collector = StoreCollector(states, keys)
    registry.register(collector)
    logger.info("Serving metrics at http://%s:%d/metrics", host, port)
    return Server(runner, collector, registry)


async def stop(server: Server | None) -> None:
    if server is not None:
        server.registry.unregister(server.collector)
        await server.runner.cleanup()
