"""The watches of children and pods (`controller/informer.py`) against the real API server:
a broken connection is resumed from the last version seen, so what happened meanwhile (a pod
deleted above all) still arrives. A version the API server no longer has (it restarted, say)
means a new list, and what it lacks is delivered as deleted: tests/unit/test_informer.py, and
the operator through a restart in test_reliability.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from dockercloud_operator.controller.informer import DELETED, LISTED, Informer
from dockercloud_operator.schema import constants, names
from tests.proxy import Proxy, proxy_to

MANAGED = {constants.LABEL_MANAGED_BY: names.OPERATOR, constants.LABEL_SERVICE: "web"}
SELECTOR = f"{constants.LABEL_MANAGED_BY}={names.OPERATOR}"


@pytest.fixture
def proxied(kubeconfig: Path, tmp_path: Path) -> Iterator[tuple[Proxy, Path]]:
    with proxy_to(kubeconfig, tmp_path / "proxied.kubeconfig") as pair:
        yield pair


def _account(api: client.ApiClient, namespace: str, name: str) -> None:
    client.CoreV1Api(api).create_namespaced_service_account(
        namespace, {"metadata": {"name": name, "labels": MANAGED}}
    )


def _gone(api: client.ApiClient, namespace: str, name: str) -> None:
    client.CoreV1Api(api).delete_namespaced_service_account(name, namespace)


class Seen:
    """What an informer delivered, in order, as (event type, name)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, kind: str, body: dict[str, Any]) -> None:
        assert body["kind"] == "ServiceAccount" and body["apiVersion"] == "v1"
        self.events.append((kind, body["metadata"]["name"]))

    def has(self, *wanted: tuple[str, str]) -> bool:
        return all(event in self.events for event in wanted)


async def _until(test: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def _informer(kubeconfig: Path, namespace: str, seen: Seen, page: int = 500) -> Informer:
    api = config.new_client_from_config(config_file=str(kubeconfig))
    loop = asyncio.get_running_loop()
    return Informer(api, "v1", "ServiceAccount", namespace, SELECTOR, seen, loop,
                    owner_label=constants.LABEL_SERVICE, page=page)  # fmt: skip


def test_a_broken_watch_resumes_where_it_was_and_loses_nothing(
    api: client.ApiClient, namespace: str, proxied: tuple[Proxy, Path]
) -> None:
    proxy, through_proxy = proxied
    _account(api, namespace, "listed")
    seen = Seen()

    async def scenario() -> Informer:
        informer = _informer(through_proxy, namespace, seen)
        informer.start()
        try:
            await asyncio.wait_for(informer.listed.wait(), 30)
            assert seen.events == [(LISTED, "listed")]
            _account(api, namespace, "added")
            await _until(lambda: seen.has(("ADDED", "added")), "the ADDED event")
            proxy.cut()  # the watch breaks, and cannot come back until mended
            _gone(api, namespace, "listed")
            _account(api, namespace, "meanwhile")
            await asyncio.sleep(2)
            assert not seen.has((DELETED, "listed"))
            proxy.mend()
            await _until(
                lambda: seen.has((DELETED, "listed"), ("ADDED", "meanwhile")),
                "what happened while the watch was away",
            )
        finally:
            informer.stop()
        return informer

    informer = asyncio.run(scenario())
    assert informer.lists == 1, "resumed from its version, not listed again"


def test_the_first_list_comes_a_page_at_a_time_and_whole(
    api: client.ApiClient, namespace: str, kubeconfig: Path
) -> None:
    names = [f"account-{n}" for n in range(5)]
    for name in names:
        _account(api, namespace, name)
    seen = Seen()

    async def scenario() -> Informer:
        informer = _informer(kubeconfig, namespace, seen, page=2)
        informer.start()
        try:
            await asyncio.wait_for(informer.listed.wait(), 30)
        finally:
            informer.stop()
        return informer

    informer = asyncio.run(scenario())
    assert sorted(seen.events) == [(LISTED, name) for name in names]
    assert informer.lists == 1
