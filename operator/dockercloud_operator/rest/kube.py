"""The REST API's Kubernetes calls, each made with the caller's own token.

The API process keeps only the cluster's address and CA: no credentials of its own ever reach
a request, so a caller can do exactly what Kubernetes RBAC grants its token.
"""

from __future__ import annotations

import base64
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import yaml

from dockercloud_operator.rest.encoding import dumps, loads
from dockercloud_operator.schema import constants

Object = dict[str, Any]
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"


class KubeError(Exception):
    """A Kubernetes API answer other than success: its status code and Status body."""

    def __init__(self, status: int, body: Object) -> None:
        super().__init__(body.get("message") or f"HTTP {status}")
        self.status = status
        self.body = body

    @property
    def reason(self) -> str:
        return str(self.body.get("reason") or "")

    @property
    def message(self) -> str:
        return str(self.body.get("message") or f"HTTP {self.status}")


class Unreachable(Exception):
    """The Kubernetes API server could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Cluster:
    """Where the Kubernetes API server is, and how to trust it."""

    server: str
    ca_file: str | None = None
    verify: bool = True
    ca_data: str | None = None  # PEM, as a kubeconfig's certificate-authority-data holds it

    @classmethod
    def from_environment(
        cls, kubeconfig: str | None = None, in_cluster_ca: str = IN_CLUSTER_CA
    ) -> Cluster:
        """The cluster the pod runs in, else the current context of the kubeconfig."""
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not kubeconfig:
            host = os.environ["KUBERNETES_SERVICE_HOST"]
            port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
            if ":" in host:
                host = f"[{host}]"
            if not os.path.exists(in_cluster_ca):
                raise ValueError(
                    f"no cluster CA at {in_cluster_ca}: mount the kube-root-ca.crt ConfigMap "
                    "there (manifests/api.yaml does), or pass --kubeconfig"
                )
            return cls(f"https://{host}:{port}", in_cluster_ca)
        return cls.from_kubeconfig(kubeconfig)

    @classmethod
    def from_kubeconfig(cls, path: str | None = None) -> Cluster:
        """The server and CA of the kubeconfig's current context (its credentials are never
        read): `path`, else $KUBECONFIG (files merged, the first to set a value wins), else
        ~/.kube/config."""
        paths = [path] if path else _kubeconfig_paths()
        merged: dict[str, Any] = {"clusters": {}, "contexts": {}}
        for file in paths:
            try:
                document = yaml.safe_load(Path(file).read_text()) or {}
            except (OSError, yaml.YAMLError) as error:
                if path:
                    raise ValueError(f"cannot read the kubeconfig {file}: {error}") from None
                continue
            merged["current"] = merged.get("current") or document.get("current-context")
            for kind, key in (("clusters", "cluster"), ("contexts", "context")):
                for entry in document.get(kind) or []:
                    value = dict(entry.get(key) or {})
                    value["_dir"] = str(Path(file).resolve().parent)
                    merged[kind].setdefault(entry.get("name"), value)
        context = merged["contexts"].get(merged.get("current"))
        cluster = merged["clusters"].get((context or {}).get("cluster"))
        if not cluster or not cluster.get("server"):
            where = ", ".join(paths) or "~/.kube/config"
            raise ValueError(f"no usable kubeconfig ({where}): no current context with a server")
        ca_file = cluster.get("certificate-authority")
        if ca_file:
            ca_file = str(Path(cluster["_dir"], ca_file))
        ca_data = cluster.get("certificate-authority-data")
        return cls(
            str(cluster["server"]).rstrip("/"),
            ca_file,
            not cluster.get("insecure-skip-tls-verify", False),
            base64.b64decode(ca_data).decode() if ca_data else None,
        )

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https:"):
            return False
        if not self.verify:
            return False
        return ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)


def _kubeconfig_paths() -> list[str]:
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return listed or [str(Path.home() / ".kube" / "config")]


def services_path(namespace: str, name: str | None = None, subresource: str = "") -> str:
    path = (
        f"/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{quote(namespace)}/"
        f"{constants.PLURAL}"
    )
    if name is not None:
        path += f"/{quote(name)}"
    return path + (f"/{subresource}" if subresource else "")


def pods_path(namespace: str, name: str | None = None, subresource: str = "") -> str:
    path = f"/api/v1/namespaces/{quote(namespace)}/pods"
    if name is not None:
        path += f"/{quote(name)}"
    return path + (f"/{subresource}" if subresource else "")


class Kube:
    """One connection pool to the API server, shared by every caller; every request carries
    the caller's token."""

    def __init__(self, cluster: Cluster, timeout: float = 30.0, connections: int = 20) -> None:
        self.cluster = cluster
        self.timeout = timeout
        # Each kept TLS connection holds asyncio's 256 KiB read buffer; 20 served 100 callers
        # at the throughput 100 gave (bench/README.md).
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            ssl=self.cluster.ssl_context(), limit=self.connections, keepalive_timeout=60
        )
        self._session = aiohttp.ClientSession(
            base_url=self.cluster.server,
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            skip_auto_headers=("User-Agent",),
            headers={"User-Agent": "dockercloud-operator-api"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Kube.start() first"
        return self._session

    async def request(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, str] | None = None,
        body: Object | None = None,
        content_type: str = "application/json",
    ) -> Object:
        """One request; its JSON answer, or KubeError with the server's Status."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = dumps(body)
        try:
            async with self.session.request(
                method,
                path,
                params=params,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                text = await response.read()
                answer = _json_object(text)
                if response.status >= 400:
                    raise KubeError(response.status, answer or {"message": text.decode()[:500]})
                return answer
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise Unreachable(str(error) or type(error).__name__) from None

    async def open_stream(
        self, path: str, token: str, params: dict[str, str]
    ) -> aiohttp.ClientResponse:
        """A streaming GET (a followed log); the caller reads and releases it."""
        try:
            response = await self.session.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except (aiohttp.ClientConnectionError, TimeoutError) as error:
            raise Unreachable(str(error) or type(error).__name__) from None
        if response.status >= 400:
            text = await response.read()
            response.release()
            raise KubeError(response.status, _json_object(text) or {"message": text.decode()})
        return response


def _json_object(text: bytes) -> Object:
    try:
        parsed = loads(text) if text else {}
    except ValueError:  # orjson's JSONDecodeError is one
        return {}
    return parsed if isinstance(parsed, dict) else {}
