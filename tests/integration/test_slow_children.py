"""A Kubernetes Service that is slow to make does not hold its service's status back.

At scale the API server makes ClusterIP Services at the pace of its own client (it allocates
their addresses), so a service's Kubernetes Service can wait seconds while its containers
already run. Here a validating webhook holds the creation of the test's Kubernetes Services
until the test lets it go: the service must be reported `Running`, with its container, while
its Kubernetes Service is still being made, and end with everything applied."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from dockercloud_operator.schema import constants
from testbed.pki import make_pki
from tests import services
from tests.operator_process import OperatorProcess
from tests.wait import wait_for

pytestmark = pytest.mark.integration
HELD_AT_MOST = 20.0  # seconds a creation is held (the webhook's timeout is 25)


class Gate:
    """The webhook's state: which creations it saw, and whether they may go on."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.seen: list[str] = []


def _handler(gate: Gate) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            request = review["request"]
            name = request.get("name") or request["object"]["metadata"].get("name", "")
            gate.seen.append(name)
            if not name.startswith("probe-"):
                gate.open.wait(HELD_AT_MOST)
            answer = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                      "response": {"uid": request["uid"], "allowed": True}}  # fmt: skip
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def held_services(api: client.ApiClient, namespace: str, tmp_path: Path) -> Iterator[Gate]:
    """Kubernetes Services created in the namespace wait at a webhook until the gate opens."""
    pki = make_pki(tmp_path / "pki")
    gate = Gate()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(gate))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = f"hold-services-{uuid.uuid4().hex[:8]}"
    admission = client.AdmissionregistrationV1Api(api)
    admission.create_validating_webhook_configuration({
        "metadata": {"name": name},
        "webhooks": [{
            "name": "hold.services.test.dockercloud.dev",
            "clientConfig": {
                "url": f"https://127.0.0.1:{server.server_address[1]}/",
                "caBundle": base64.b64encode(pki.ca_cert.read_bytes()).decode(),
            },
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["services"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 25,
            "failurePolicy": "Fail",
        }],
    })  # fmt: skip
    try:
        core = client.CoreV1Api(api)
        probes = iter(range(1000))

        def webhook_called() -> bool:  # the API server loads the configuration in a moment
            probe = f"probe-{next(probes)}"
            core.create_namespaced_service(
                namespace, {"metadata": {"name": probe}, "spec": {"ports": [{"port": 80}]}}
            )
            return probe in gate.seen

        wait_for(webhook_called, "the webhook to be called", timeout=30, interval=0.5)
        yield gate
    finally:
        gate.open.set()
        admission.delete_validating_webhook_configuration(name)
        server.shutdown()


def test_running_containers_are_reported_while_their_kubernetes_service_is_being_made(
    api: client.ApiClient, namespace: str, operator: OperatorProcess, held_services: Gate
) -> None:
    services.create(api, namespace, "web", image="nginx",
                    container_ports=[{"inner_port": 80, "protocol": "tcp"}])  # fmt: skip
    core = client.CoreV1Api(api)

    def kubernetes_services() -> list[str]:
        found = core.list_namespaced_service(
            namespace, label_selector=f"{constants.LABEL_SERVICE}=web"
        )
        return [s.metadata.name for s in found.items]

    def running() -> dict[str, Any] | None:
        status = services.get(api, namespace, "web").get("status") or {}
        return status if status.get("state") == "Running" else None

    status = wait_for(running, "web Running while its Kubernetes Service waits", timeout=15)
    assert status["running_of_target"] == "1/1"
    assert "web" in held_services.seen, "the operator's Service is held at the webhook"
    assert kubernetes_services() == [], "reported before the Kubernetes Service was made"

    held_services.open.set()
    wait_for(kubernetes_services, "the Kubernetes Service once let go", timeout=30)

    def applied() -> bool:
        status = services.get(api, namespace, "web").get("status") or {}
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        return status.get("state") == "Running" and conditions.get("Applied") == "True"

    wait_for(applied, "web Running with every object applied", timeout=30)
