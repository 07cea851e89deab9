"""Operators with flags of their own (`dockercloud-operator run ARGS`), each in its own process
and log file, for the install, high-availability and metrics tests; and kubeconfigs for the
operator's ServiceAccount."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from dockercloud_operator.schema.constants import GROUP, PLURAL, VERSION
from tests import services
from tests.operator_process import OperatorProcess
from tests.wait import wait_for

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # in the child, between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Operator(OperatorProcess):
    """An operator with flags and environment of its own (and none inherited)."""

    def __init__(
        self, kubeconfig: Path, log: Path, *args: str, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(kubeconfig, log)
        self.args = args
        self.env = env or {}

    def start(self, ready: str, timeout: float = 60) -> Operator:  # type: ignore[override]
        """Starts it, and waits until its log says `ready`."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dockercloud_operator", "run", *self.args],
                env={
                    **{k: v for k, v in os.environ.items() if not k.startswith("DOCKERCLOUD_")},
                    **self.env,
                    "KUBECONFIG": str(self.kubeconfig),
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # never outlives the tests
            )
        wait_for(lambda: ready in self.output() or self.exited, f"{ready!r}", timeout=timeout)
        assert not self.exited, self.output()
        return self

    @property
    def exited(self) -> bool:
        return self._exited()

    def identity(self) -> str:
        """Its Lease holder identity, as its log tells it."""
        found = re.search(r"holding the Lease \S+ as (\S+?)\.", self.output())
        assert found, self.output()
        return found.group(1)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no Lease released."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def paused(session_operator: OperatorProcess) -> Iterator[None]:
    """The session's operator (the `operator` fixture) stopped for the block, so that only the
    test's own operators act; started again afterwards."""
    session_operator.stop()
    try:
        yield
    finally:
        session_operator.start()


@contextlib.contextmanager
def running(*operators: Operator) -> Iterator[None]:
    """Stops (or kills) every operator started in the block, whatever happens."""
    try:
        yield
    finally:
        for operator in operators:
            if operator.process is not None:
                operator.stop()


def delete_services(api: client.ApiClient, namespace: str) -> None:
    """Deletes the namespace's services and waits until the operator has let them go, so that no
    finalizer outlives the test's operators."""
    custom = client.CustomObjectsApi(api)

    def listed() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL
        )["items"]
        return items

    for service in listed():
        services.delete(api, namespace, service["metadata"]["name"])
    wait_for(lambda: not listed(), f"the services of {namespace} to go")


def service_account_kubeconfig(
    api: client.ApiClient, kubeconfig: Path, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig at `path` for the cluster of `kubeconfig`, authenticated by a token of the
    ServiceAccount (TokenRequest API, one hour)."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
    )
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token(account, namespace, request)
        .status.token
    )
    config: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    context_name = config["current-context"]
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    if cluster.get("certificate-authority"):  # a file, relative to the kubeconfig's folder
        cluster["certificate-authority"] = str(kubeconfig.parent / cluster["certificate-authority"])
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "cluster", "cluster": cluster}],
                "users": [{"name": account, "user": {"token": token}}],
                "contexts": [{"name": account, "context": {"cluster": "cluster", "user": account}}],
                "current-context": account,
            }
        )
    )
    path.chmod(0o600)
    return path
