"""`POST /api/app/v1/[<namespace>/]hooks/registry/`: registry push notifications (a CNCF
distribution registry envelope, a Docker Hub webhook) redeploy exactly the services with
`autoredeploy: true` whose image was pushed, in the namespaces the caller may edit, each with
an Event naming the push; malformed payloads are a 400 naming what is wrong."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests import services
from tests.integration.test_rest_api import wait_state
from tests.rest_api import Client, RestApi, service_account_token
from tests.wait import wait_for

pytestmark = pytest.mark.integration

REGISTRY = "registry.example.com:5000"
DIGEST = "sha256:" + "ab" * 32
EVENTS_TYPE = "application/vnd.docker.distribution.events.v2+json"  # as the registry sends it


def envelope(repository: str, tag: str, host: str = REGISTRY) -> dict[str, Any]:
    """A distribution registry's notification of a manifest pushed under `tag`."""
    return {"events": [{
        "id": str(uuid.uuid4()), "timestamp": "2026-11-28T12:00:00Z", "action": "push",
        "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                   "digest": DIGEST, "size": 708, "repository": repository, "tag": tag,
                   "url": f"https://{host}/v2/{repository}/manifests/{DIGEST}"},
        "request": {"id": "r", "addr": "10.0.0.1:1234", "host": host, "method": "PUT",
                    "useragent": "docker/27"},
        "actor": {}, "source": {"addr": "registry:5000", "instanceID": "i"},
    }]}  # fmt: skip


def hub(repo_name: str, tag: str) -> dict[str, Any]:
    namespace, _, name = repo_name.partition("/")
    return {
        "callback_url": f"https://registry.hub.docker.com/u/{repo_name}/hook/1/",
        "push_data": {"pushed_at": 1417566161, "pusher": "someone", "tag": tag},
        "repository": {"repo_name": repo_name, "name": name, "namespace": namespace,
                       "status": "Active"},
    }  # fmt: skip


def _token(api: client.ApiClient, name: str, namespace: str) -> str | None:
    found = services.get(api, namespace, name)
    return ((found.get("spec") or {}).get("redeploy") or {}).get("token")


@pytest.fixture
def cluster_editor(api: client.ApiClient, namespace: str) -> Iterator[str]:
    """A token that may edit services in every namespace (a ClusterRoleBinding)."""
    name = f"wide-{uuid.uuid4().hex[:6]}"
    token = service_account_token(api, namespace, name=name)
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role_binding({
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "dockercloud-service-editor"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })  # fmt: skip
    yield token
    rbac.delete_cluster_role_binding(name)


@pytest.fixture
def fleet(
    api: client.ApiClient, namespace: str, other_namespace: str, rest_api: RestApi,
    user_roles: None, operator: Any,
) -> dict[tuple[str, str], str]:  # fmt: skip
    """In each namespace, Running: `app` (team/app, autoredeploy), `app-v2` (team/app:v2,
    autoredeploy), `manual` (team/app, no autoredeploy), `hello` (Hub's tutum/hello-world,
    autoredeploy). Their redeploy tokens (None: never redeployed) by (namespace, name)."""
    admin = service_account_token(
        api, namespace, "edit", role_namespaces=(namespace, other_namespace)
    )
    specs = {
        "app": {"image": f"{REGISTRY}/team/app", "autoredeploy": True},
        "app-v2": {"image": f"{REGISTRY}/team/app:v2", "autoredeploy": True},
        "manual": {"image": f"{REGISTRY}/team/app:latest"},
        "hello": {"image": "tutum/hello-world", "autoredeploy": True},
    }
    tokens = {}
    for where in (namespace, other_namespace):
        caller = Client(rest_api, admin, where)
        created = [caller.create(name=name, **spec) for name, spec in specs.items()]
        for service in created:
            caller.call("POST", caller.service(service["uuid"], "start"))
        for service in created:
            wait_state(caller, service["uuid"], "Running", running=1)
            tokens[(where, service["name"])] = _token(api, service["name"], where)
    return tokens


def _redeployed(api: client.ApiClient, before: dict[tuple[str, str], str]) -> set[tuple[str, str]]:
    return {key for key, token in before.items() if _token(api, key[1], key[0]) != token}


def test_a_distribution_push_redeploys_the_matching_services_of_the_namespace(
    api: client.ApiClient, namespace: str, other_namespace: str, rest_api: RestApi,
    fleet: dict[tuple[str, str], str],
) -> None:  # fmt: skip
    narrow = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    caller = Client(rest_api, narrow, namespace)
    answer = caller.call("POST", f"/api/app/v1/{namespace}/hooks/registry/",
                         json=envelope("team/app", "latest"),
                         headers={"Content-Type": EVENTS_TYPE})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["pushed"] == [f"{REGISTRY}/team/app:latest"]
    assert [(s["namespace"], s["name"]) for s in body["redeployed"]] == [(namespace, "app")]
    assert _redeployed(api, fleet) == {(namespace, "app")}

    # the documented redeploy: reusing volumes, and the service goes back to Running
    spec = services.get(api, namespace, "app")["spec"]
    assert spec["redeploy"]["reuse_volumes"] is True
    [redeployed] = body["redeployed"]
    wait_state(caller, redeployed["uuid"], "Running", running=1, timeout=90)

    def pushed_event() -> list[Any]:
        events = (
            client.CoreV1Api(api)
            .list_namespaced_event(
                namespace, field_selector="involvedObject.name=app,reason=Autoredeploy"
            )
            .items
        )
        return list(events)

    [event] = wait_for(pushed_event, "the Event of the push")
    assert f"{REGISTRY}/team/app:latest" in event.message and DIGEST in event.message

    # another tag of the same repository changes nothing more
    again = caller.call("POST", f"/api/app/v1/{namespace}/hooks/registry/",
                        json=envelope("team/app", "v3"))  # fmt: skip
    assert again.status_code == 200 and again.json()["redeployed"] == []
    fleet[(namespace, "app")] = _token(api, "app", namespace)
    assert _redeployed(api, fleet) == set()


def test_without_a_namespace_a_caller_redeploys_where_they_may_edit(
    api: client.ApiClient, namespace: str, other_namespace: str, rest_api: RestApi,
    fleet: dict[tuple[str, str], str], cluster_editor: str,
) -> None:  # fmt: skip
    # a ServiceAccount that may edit services in its own namespace only
    narrow = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    answer = Client(rest_api, narrow).call(
        "POST", "/api/app/v1/hooks/registry/", json=hub("tutum/hello-world", "latest")
    )
    assert answer.status_code == 200, answer.text
    assert _redeployed(api, fleet) == {(namespace, "hello")}
    fleet[(namespace, "hello")] = _token(api, "hello", namespace)

    # a Hub push of another tag: nothing
    answer = Client(rest_api, cluster_editor).call(
        "POST", "/api/app/v1/hooks/registry/", json=hub("tutum/hello-world", "v2")
    )
    assert answer.status_code == 200 and answer.json()["redeployed"] == []

    # a caller who may edit services everywhere: both namespaces' matching services, and
    # only those (the namespace's `hello` may not be redeployed again until it runs)
    wait_for(lambda: services.get(api, namespace, "hello").get("status", {}).get("state")
             == "Running", "hello to run again", timeout=90)  # fmt: skip
    answer = Client(rest_api, cluster_editor).call(
        "POST", "/api/app/v1/hooks/registry/", json=hub("tutum/hello-world", "latest")
    )
    assert answer.status_code == 200, answer.text
    assert _redeployed(api, fleet) == {(namespace, "hello"), (other_namespace, "hello")}


def test_a_caller_without_rights_redeploys_nothing(
    api: client.ApiClient, namespace: str, other_namespace: str, rest_api: RestApi,
    fleet: dict[tuple[str, str], str],
) -> None:  # fmt: skip
    viewer = service_account_token(api, namespace, "view", role_namespaces=(namespace,))
    answer = Client(rest_api, viewer).call(
        "POST", "/api/app/v1/hooks/registry/", json=envelope("team/app", "latest")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["redeployed"] == []
    assert [s["name"] for s in answer.json()["skipped"]] == ["app"]  # seen, not editable
    outsider = service_account_token(api, other_namespace)
    refused = Client(rest_api, outsider).call(
        "POST", f"/api/app/v1/{namespace}/hooks/registry/", json=envelope("team/app", "latest")
    )
    assert refused.status_code == 403, refused.text
    assert _redeployed(api, fleet) == set()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "JSON"),
        (b'{"hello": 1}', 'expected "events"'),
        (b'{"events": "x"}', '"events" must be a list'),
        (b'{"events": [{"action": "push", "target": {"tag": "1"}}]}',
         "events[0].target.repository"),
        (b'{"push_data": {"tag": "1"}, "repository": {}}', "repository.repo_name"),
    ],
)  # fmt: skip
def test_malformed_payloads_are_a_400_naming_what_is_wrong(
    api: client.ApiClient, namespace: str, rest_api: RestApi, user_roles: None,
    body: bytes, words: str,
) -> None:  # fmt: skip
    editor = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    answer = Client(rest_api, editor).call(
        "POST", f"/api/app/v1/{namespace}/hooks/registry/", data=body,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]


def test_the_hook_needs_credentials(rest_api: RestApi) -> None:
    import requests

    answer = requests.post(f"{rest_api.url}/api/app/v1/hooks/registry/",
                           json=hub("tutum/hello-world", "latest"), timeout=10)  # fmt: skip
    assert answer.status_code == 401
