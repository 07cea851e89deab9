"""kopf handlers: the only layer that talks to kopf. Each is a few lines that feed watch events
into the store and the reconcile queue (`reconciler.py`). kopf watches the Service and Stack
resources; the many children and pods are watched by `informer.py`, started by the reconciler.

Every handler registers on `registry`, so the operator (and tests) run exactly this set. Only
watch-event handlers are used: they keep no progress or diff-base annotations on the objects,
so the operator writes nothing but the children (and, later, the status)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.kube import API_THREADS, Kube, new_api_client
from dockercloud_operator.controller.leader import Leadership
from dockercloud_operator.controller.reconciler import Reconciler
from dockercloud_operator.controller.settings import Settings
from dockercloud_operator.schema import constants

registry = kopf.OperatorRegistry()
ERROR_BACKOFFS = (0.5, 1.0, *[2.0] * 30)  # seconds between a failed API request's retries


class NoDiffBase(kopf.DiffBaseStorage):
    """No essence to diff: kopf builds one for every watch event (a deep copy of the whole
    body) for change handlers, and there are none here, only event handlers."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> None:  # type: ignore[override]
        return None

    def fetch(self, *, body: kopf.Body) -> None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        pass


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the current kubeconfig (as kubectl would)."""
    return kopf.login_via_client(**kwargs)


@kopf.on.startup(registry=registry)
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Operator-wide settings, then a first look at the world before any reconcile."""
    # Watch streams that go silent are reconnected instead of waiting forever.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # An API server that went away is tried again every 2 s at most, for about a minute: kopf's
    # default doubles its waits up to 21 s, so a watch could stay away 20 s after the server
    # is back (and a request that fails past the last wait stops the operator either way).
    settings.networking.error_backoffs = ERROR_BACKOFFS
    settings.networking.connect_timeout = 5
    settings.persistence.diffbase_storage = NoDiffBase()
    # kopf's worker for a Service resource waits this long for its next event before it exits,
    # holding the last event's whole body: 5 s by default, which at 1,000 services created or
    # changed at once kept hundreds of them (6 MiB more once converged, measured). Its events
    # come seconds apart anyway (its creation, then its status), and a new worker is cheap.
    settings.queueing.idle_timeout = 0.5
    # Handler outcomes are not worth an Event each (the operator posts its own).
    settings.posting.enabled = False
    # The calls that are not the reconciles' (leader election, the start-up probe) run in
    # threads; the reconciles' go through the event loop (`kube.AsyncKube`).
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="api")
    )
    config: Settings = memo.get("settings") or Settings()
    reconciler = Reconciler(
        Kube(new_api_client()), memo.get("namespaces"), config.status_hold, config.status_refresh
    )
    await reconciler.prime()
    memo.reconciler = reconciler
    memo.metrics = (
        await metrics.serve(
            config.metrics_port, reconciler.store.states.values, lambda: reconciler.queue.busy
        )
        if config.metrics_port
        else None
    )
    memo.leadership = (
        Leadership(reconciler, config, memo.get("stop_flag")) if config.leader_election else None
    )
    if memo.leadership:  # a standby keeps its store warm, and its queue held, until it leads
        await memo.leadership.start()


@kopf.on.cleanup(registry=registry)
async def stop(memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.stop_watching()
    await memo.reconciler.queue.drain()
    if memo.get("leadership"):
        await memo.leadership.stop()  # released once nothing writes any more
    await memo.reconciler.aio.close()
    await metrics.stop(memo.get("metrics"))


@kopf.on.probe(id="leader", registry=registry)
def leader(memo: kopf.Memo, **_: Any) -> str:
    """In kopf's health report: whether this replica reconciles or stands by."""
    leadership = memo.get("leadership")
    return "standby" if leadership and not leadership.is_leader else "leading"


@kopf.on.event(constants.GROUP, constants.VERSION, constants.PLURAL, registry=registry)
async def service_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if event["type"] == "DELETED":
        memo.reconciler.service_gone((body["metadata"]["namespace"], body["metadata"]["name"]))
    else:
        memo.reconciler.service_seen(dict(body))


@kopf.on.event(constants.GROUP, constants.VERSION, "stacks", registry=registry)
async def stack_event(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    if event["type"] == "DELETED":
        memo.reconciler.stack_gone(body["metadata"]["namespace"], body["metadata"]["name"])
    else:
        memo.reconciler.stack_seen(dict(body))
