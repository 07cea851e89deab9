"""A status write that waits for its turn holds the status and the service's name, not what the
status was computed from: with thousands of services changed at once, a thousand reports wait
for the status lane, and each holding its children and pods decoded cost tens of MiB."""

from __future__ import annotations

import asyncio
import gc
import json
import types
from typing import Any

from kubernetes import client

from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.controller.reconciler import LANE_WIDTH, Reconciler
from dockercloud_operator.resources import Built
from dockercloud_operator.resources.context import Context
from dockercloud_operator.schema import constants

KEY = ("default", "web")
OWNER = {"apiVersion": f"{constants.GROUP}/{constants.VERSION}", "kind": constants.KIND,
         "name": KEY[1], "uid": "u-1", "controller": True}  # fmt: skip


def _service() -> dict[str, Any]:
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"namespace": KEY[0], "name": KEY[1], "uid": "u-1", "generation": 1,
                     "resourceVersion": "10", "finalizers": [constants.FINALIZER]},
        "spec": {"image": "nginx:1", "target_num_containers": 1},
    }  # fmt: skip


def _deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": KEY[0], "name": KEY[1], "uid": "d-1", "generation": 1,
                     "resourceVersion": "11", "ownerReferences": [OWNER],
                     "labels": {constants.LABEL_SERVICE: KEY[1]}},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1,
                   "availableReplicas": 1, "updatedReplicas": 1},
    }  # fmt: skip


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": KEY[0], "name": "web-1", "uid": "p-1", "resourceVersion": "12",
                     "labels": {constants.LABEL_SERVICE: KEY[1]}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }  # fmt: skip


def _reachable(roots: list[Any]) -> list[Any]:
    """The containers and objects reachable from `roots`, short of classes, modules, functions
    and the reconciler itself (which reaches everything)."""
    seen: dict[int, Any] = {}
    stack = list(roots)
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(
            item, (type, types.ModuleType, types.FunctionType, types.MethodType, Reconciler)
        ):
            continue
        seen[id(item)] = item
        stack.extend(gc.get_referents(item))
    return list(seen.values())


class _Writes:
    """The API server's answers."""

    async def apply(self, obj: dict[str, Any], text: bytes) -> Any:
        answer = json.loads(text)
        answer["metadata"].update(resourceVersion="20", generation=1, uid=f"uid-{obj['kind']}")
        return answer

    async def patch_status(self, service: dict[str, Any], status: dict[str, Any]) -> Any:
        return {**_service(), "status": status}

    async def post_event(self, *args: Any) -> None:
        pass


def _held_while_waiting(task: asyncio.Future[Any]) -> list[Any]:
    """What the frames of a waiting task's coroutines hold (the reconciler aside)."""
    roots, coroutine = [], task.get_coro()  # type: ignore[union-attr]
    while (frame := getattr(coroutine, "cr_frame", None)) is not None:
        roots += [value for name, value in frame.f_locals.items() if name != "self"]
        coroutine = coroutine.cr_await
    return _reachable(roots)


def _assert_holds_only_the_status(held: list[Any]) -> None:
    dicts = [item for item in held if isinstance(item, dict)]
    assert "running_of_target" in str(dicts)  # the status it writes
    assert not [d for d in dicts if d.get("kind") in ("Deployment", "Pod")]
    assert not [d for d in dicts if "image" in d or "spec" in d]  # nor the spec
    assert not [item for item in held if isinstance(item, bytes) and b"Deployment" in item]
    assert not [item for item in held if type(item).__name__ in ("Service", "Observed", "Step")]


async def _status_lane_full() -> tuple[Reconciler, asyncio.Semaphore]:
    """A reconciler that knows the service, with every request of its status lane under way:
    a status write waits its turn."""
    api = client.ApiClient(client.Configuration(host="https://127.0.0.1:6443"))
    reconciler = Reconciler(Kube(api), status_hold=0.0)
    reconciler.queue.add = lambda key: None  # type: ignore[method-assign]
    reconciler.aio = _Writes()  # type: ignore[assignment]
    reconciler.store.put_service(_service())
    lane = reconciler._lanes["status"]
    for _ in range(LANE_WIDTH):
        await lane.acquire()
    return reconciler, lane


def test_a_status_write_waiting_for_its_lane_holds_no_children_pods_or_spec() -> None:
    async def scenario() -> None:
        reconciler, lane = await _status_lane_full()
        reconciler.store.put_child(_deployment())
        reconciler.store.put_pod(_pod())
        service = reconciler.store.model(KEY)
        body = reconciler.store.service(KEY)
        assert service is not None and body is not None
        report = asyncio.ensure_future(
            reconciler._report(KEY, service, body, Built([], []), Context())
        )
        del service, body
        await asyncio.sleep(0.05)
        assert not report.done()  # waiting for the lane

        _assert_holds_only_the_status(_held_while_waiting(report))
        lane.release()
        await report  # and the write goes out once its turn comes

    asyncio.run(scenario())


def test_a_reconcile_waiting_to_write_its_status_holds_no_children_spec_or_writes() -> None:
    async def scenario() -> None:
        reconciler, lane = await _status_lane_full()
        reconcile = asyncio.ensure_future(reconciler.reconcile(KEY))
        await asyncio.sleep(0.05)
        assert not reconcile.done()
        assert [c["kind"] for c in reconciler.store.children_of(KEY)] == ["Deployment"]  # written

        _assert_holds_only_the_status(_held_while_waiting(reconcile))
        lane.release()
        await reconcile

    asyncio.run(scenario())
