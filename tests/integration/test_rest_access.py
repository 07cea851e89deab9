"""Who may do what through the REST API: exactly what Kubernetes RBAC grants the caller's
token. Two tokens with different roles in two namespaces; no token, a bad one, an expired
one; and the API server's own ServiceAccount, which may do nothing with services at all."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from kubernetes import client

from dockercloud_operator.schema.constants import GROUP, PLURAL
from testbed.pki import make_pki
from tests.rest_api import Client, RestApi, basic, bearer, service_account_token

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reader_and_editor(
    api: client.ApiClient, namespace: str, other_namespace: str, rest_api: RestApi,
    user_roles: None,
) -> tuple[str, str, str, str]:  # fmt: skip
    """(namespace a, namespace b, a token that may only read a, a token that may edit b)."""
    a, b = namespace, other_namespace
    reader = service_account_token(api, a, "dockercloud-service-viewer", role_namespaces=(a,))
    editor = service_account_token(api, b, "dockercloud-service-editor", role_namespaces=(b,))
    return a, b, reader, editor


def test_each_token_sees_and_changes_exactly_what_its_role_grants(
    rest_api: RestApi, reader_and_editor: tuple[str, str, str, str], api: client.ApiClient
) -> None:
    a, b, reader_token, editor_token = reader_and_editor
    admin = client.CustomObjectsApi(api)
    admin.create_namespaced_custom_object(
        GROUP, "v1", a, PLURAL,
        {"apiVersion": f"{GROUP}/v1", "kind": "Service", "metadata": {"name": "in-a"},
         "spec": {"image": "nginx", "running": False}},
    )  # fmt: skip
    reader_a, reader_b = Client(rest_api, reader_token, a), Client(rest_api, reader_token, b)
    editor_a, editor_b = Client(rest_api, editor_token, a), Client(rest_api, editor_token, b)

    listed = reader_a.call("GET", reader_a.base)
    assert listed.status_code == 200, listed.text
    (seen,) = listed.json()["objects"]
    assert seen["name"] == "in-a"
    assert reader_a.get(seen["uuid"])["name"] == "in-a"

    for refused in (
        reader_a.call("POST", reader_a.base, json={"image": "nginx"}),
        reader_a.call("POST", reader_a.service(seen["uuid"], "start")),
        reader_a.call("PATCH", reader_a.service(seen["uuid"]), json={"target_num_containers": 2}),
        reader_a.call("DELETE", reader_a.service(seen["uuid"])),
    ):
        assert refused.status_code == 403, refused.text
        message = refused.json()["error"]
        assert f'namespace "{a}"' in message
        assert re.search(r"cannot (create|patch|delete) resource", message), message

    denied = reader_b.call("GET", reader_b.base)
    assert denied.status_code == 403
    assert "cannot list resource" in denied.json()["error"] and f'"{b}"' in denied.json()["error"]

    assert editor_a.call("GET", editor_a.base).status_code == 403
    assert editor_a.call("GET", editor_a.service(seen["uuid"])).status_code == 403
    created = editor_b.create(image="nginx", name="in-b")
    started = editor_b.call("POST", editor_b.service(created["uuid"], "start"))
    assert started.status_code == 202, started.text
    assert editor_b.call("DELETE", editor_b.service(created["uuid"])).status_code in (202, 409)
    # The reader's namespace is untouched: still the one service, not started.
    still = admin.list_namespaced_custom_object(GROUP, "v1", a, PLURAL)["items"]
    assert [s["metadata"]["name"] for s in still] == ["in-a"]
    assert still[0]["spec"]["running"] is False


def test_no_token_and_a_bad_token_are_refused(rest_api: RestApi) -> None:
    path = f"{rest_api.url}/api/app/v1/service/"
    missing = requests.get(path, timeout=10)
    assert missing.status_code == 401
    assert "authentication required" in missing.json()["error"]
    assert "Basic" in missing.headers["WWW-Authenticate"]
    for headers in (bearer("not-a-token"), {"Authorization": "Basic " + _b64("user:nope")}):
        refused = requests.get(path, headers=headers, timeout=10)
        assert refused.status_code == 401, refused.text
        assert "not accepted" in refused.json()["error"]


def test_an_expired_token_is_refused(
    rest_api: RestApi, api: client.ApiClient, namespace: str, kubeconfig: Path
) -> None:
    key_file = kubeconfig.parent / "pki" / "sa.key"
    if not key_file.exists():
        pytest.skip("needs the local control plane's service-account signing key")
    token = service_account_token(api, namespace, "dockercloud-service-viewer",
                                  role_namespaces=(namespace,))  # fmt: skip
    claims = _claims(token)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = int(time.time())
    live = _signed({**claims, "iat": now - 60, "nbf": now - 60, "exp": now + 600}, key)
    expired = _signed({**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}, key)
    path = f"{rest_api.url}/api/app/v1/{namespace}/service/"
    # The same token but for its expiry is accepted: only the expiry is wrong with the other.
    assert requests.get(path, headers=bearer(live), timeout=10).status_code == 200
    refused = requests.get(path, headers=bearer(expired), timeout=10)
    assert refused.status_code == 401, refused.text
    assert (
        requests.get(f"{rest_api.url}/auth", headers=bearer(expired), timeout=10).status_code == 401
    )


def test_the_api_servers_own_service_account_may_do_nothing_with_services(
    api: client.ApiClient, namespace: str
) -> None:
    manifests = list(yaml.safe_load_all((ROOT / "manifests" / "api.yaml").read_text()))
    (account,) = [m for m in manifests if m["kind"] == "ServiceAccount"]
    (deployment,) = [m for m in manifests if m["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod["automountServiceAccountToken"] is False
    user = f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"
    authorization = client.AuthorizationV1Api(api)
    for verb in ("get", "list", "watch", "create", "patch", "update", "delete"):
        for where in (namespace, account["metadata"]["namespace"], ""):
            review = authorization.create_subject_access_review(
                {
                    "spec": {
                        "user": user,
                        "groups": ["system:serviceaccounts", "system:authenticated"],
                        "resourceAttributes": {
                            "group": GROUP, "resource": PLURAL, "verb": verb, "namespace": where,
                        },
                    }
                }
            )  # fmt: skip
            assert not review.status.allowed, (verb, where)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _signed(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A service-account JWT as kube-apiserver signs them (RS256), with our own claims."""
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64url(signature)}"


def test_the_api_serves_tls_with_the_certificate_it_is_given(
    kubeconfig: Path, api: client.ApiClient, namespace: str, user_roles: None, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")  # a serving certificate for 127.0.0.1, and its CA
    rest = RestApi(
        kubeconfig, tmp_path / "api.log", "default",
        "--tls-cert", str(pki.serving_cert), "--tls-key", str(pki.serving_key),
        ca_file=pki.ca_cert,
    ).start()  # fmt: skip
    try:
        assert rest.url.startswith("https://")
        token = service_account_token(api, namespace, "dockercloud-service-viewer",
                                      role_namespaces=(namespace,))  # fmt: skip
        listed = requests.get(
            f"{rest.url}/api/app/v1/{namespace}/service/", headers=basic(token),
            verify=str(pki.ca_cert), timeout=10,
        )  # fmt: skip
        assert listed.status_code == 200, listed.text
        assert listed.json()["meta"]["total_count"] == 0
        with pytest.raises(requests.exceptions.SSLError):  # not a CA the client trusts
            requests.get(f"{rest.url}/healthz", timeout=10)
    finally:
        rest.stop()
