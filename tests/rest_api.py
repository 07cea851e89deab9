"""The REST API as users run it (`dockercloud-operator api`), in a process of its own, and the
Kubernetes tokens its callers bring: ServiceAccounts bound to roles, tokens from the
TokenRequest API."""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from testbed.controlplane import (
    KWOK_API_VERSION,
    KWOK_CRDS,
    KWOK_GROUP,
    cluster_logs,
    cri_log,
    free_port,
)
from tests.wait import wait_for


class RestApi:
    """`dockercloud-operator api` on a free loopback port."""

    def __init__(
        self,
        kubeconfig: Path,
        log: Path,
        namespace: str = "default",
        *args: str,
        ca_file: Path | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.namespace = namespace
        self.args = args
        self.ca_file = ca_file  # served with TLS, by a certificate this CA signed
        self.port = free_port()
        self.url = f"{'https' if ca_file else 'http'}://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RestApi:
        with self.log.open("ab") as log:
            command = [sys.executable, "-m", "dockercloud_operator", "api"]
            command += ["--listen", f"127.0.0.1:{self.port}", "--namespace", self.namespace]
            command += self.args
            self.process = subprocess.Popen(
                command,
                env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, "the REST API to answer", timeout=30)
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.output()
        try:
            verify = str(self.ca_file) if self.ca_file else True
            return requests.get(f"{self.url}/healthz", timeout=1, verify=verify).ok
        except requests.ConnectionError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def service_account_token(
    api: client.ApiClient,
    namespace: str,
    cluster_role: str | None = None,
    *,
    role_namespaces: tuple[str, ...] = (),
    name: str | None = None,
    seconds: int = 3600,
) -> str:
    """A token of a new ServiceAccount in `namespace`, bound to `cluster_role` in each of
    `role_namespaces` (by a RoleBinding: that namespace only)."""
    name = name or f"caller-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rbac = client.RbacAuthorizationV1Api(api)
    for bound in role_namespaces:
        rbac.create_namespaced_role_binding(
            bound,
            {
                "metadata": {"name": f"{name}-{cluster_role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
            },
        )
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    )
    token: str = core.create_namespaced_service_account_token(name, namespace, request).status.token
    return token


EARLIER = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)


@contextlib.contextmanager
def cluster_log_file(api: client.ApiClient, namespace: str, directory: Path) -> Iterator[Path]:
    """Every container of the namespace logs the file this yields (kwok's ClusterLogs), which
    holds four lines written five minutes ago; skips where the nodes are not kwok's."""
    custom = client.CustomObjectsApi(api)
    try:
        custom.get_api_resources(KWOK_GROUP, KWOK_API_VERSION)
    except ApiException:
        pytest.skip("kwok's ClusterLogs are not served: not the local control plane")
    path = directory / "container.log"
    path.write_text(cri_log("one", "two", at=EARLIER) + cri_log("three", "four", at=EARLIER))
    name = f"rest-logs-{uuid.uuid4().hex[:6]}"
    plural = KWOK_CRDS["ClusterLogs"]
    custom.create_cluster_custom_object(
        KWOK_GROUP, KWOK_API_VERSION, plural, cluster_logs(name, path, namespaces=[namespace])
    )
    try:
        yield path
    finally:
        custom.delete_cluster_custom_object(KWOK_GROUP, KWOK_API_VERSION, plural, name)


def basic(token: str, user: str = "user") -> dict[str, str]:
    """The header the documented clients send: Basic base64(user:apikey)."""
    encoded = base64.b64encode(f"{user}:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Client:
    """A caller of the REST API: its token, and the service paths of one namespace."""

    def __init__(self, rest: RestApi, token: str, namespace: str | None = None) -> None:
        self.rest = rest
        self.headers = {**basic(token), "Accept": "application/json"}
        self.base = f"/api/app/v1/{namespace}/service/" if namespace else "/api/app/v1/service/"

    def call(self, method: str, path: str, **options: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.rest.url}{path}"
        headers = {**self.headers, **options.pop("headers", {})}
        return requests.request(method, url, headers=headers, timeout=30, **options)

    def service(self, uuid: str, action: str = "") -> str:
        return f"{self.base}{uuid}/" + (f"{action}/" if action else "")

    def create(self, **body: Any) -> dict[str, Any]:
        answer = self.call("POST", self.base, json=body)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def get(self, uuid: str) -> dict[str, Any]:
        answer = self.call("GET", self.service(uuid))
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found
