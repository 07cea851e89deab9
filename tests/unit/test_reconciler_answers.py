"""A change someone else made, that the answer to one of the operator's own writes brings
first, is reconciled: its watch event, arriving later, looks like the echo of that write.

Found by the fault suite's fuzzing: a service deleted while its status was being written stayed
`Terminating` (with its children) until something else about it changed."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kubernetes import client

from dockercloud_operator.controller.kube import Kube
from dockercloud_operator.controller.reconciler import Reconciler
from dockercloud_operator.resources import Built
from dockercloud_operator.resources.context import Context
from dockercloud_operator.schema import constants

KEY = ("default", "web")


def _service(version: int, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"namespace": KEY[0], "name": KEY[1], "uid": "u-1", "generation": 1,
                     "resourceVersion": str(version), "finalizers": [constants.FINALIZER],
                     **metadata},
        "spec": {"image": "nginx:1", "target_num_containers": 1},
    }  # fmt: skip


class _Writes:
    """The reconciler's calls: a status write answered with the service as a deletion left it
    (the user deleted it between the reconcile's read and its write)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.status_writes = 0

    async def patch_status(self, service: dict[str, Any], status: dict[str, Any]) -> Any:
        self.status_writes += 1
        return {**copy.deepcopy(self.answer), "status": status}

    async def post_event(self, *args: Any) -> None:
        pass


def test_a_deletion_that_a_status_answer_brings_first_is_reconciled() -> None:
    async def scenario() -> list[tuple[str, str]]:
        api = client.ApiClient(client.Configuration(host="https://127.0.0.1:6443"))
        reconciler = Reconciler(Kube(api), status_hold=0.0)
        queued: list[tuple[str, str]] = []
        reconciler.queue.add = queued.append  # type: ignore[method-assign]
        read = _service(10)
        reconciler.store.put_service(read)
        deleted = _service(11, deletionTimestamp="2026-11-29T14:00:00Z")
        writes = _Writes(_service(12, deletionTimestamp="2026-11-29T14:00:00Z"))
        reconciler.aio = writes  # type: ignore[assignment]
        service = reconciler.store.model(KEY)

        await reconciler._report(KEY, service, read, Built([], []), Context())
        assert writes.status_writes == 1
        reconciler.service_seen(deleted)  # its event comes after the answer: an "echo"
        return queued

    queued = asyncio.run(scenario())
    assert KEY in queued  # the deletion is looked at: the service will be let go
