"""The documented REST API, on the real control plane with the operator running: every
endpoint, parameter, filter and default as the spec documents it, reached the way the
documented clients reach it (Basic user:apikey, JSON, trailing slashes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client

from dockercloud_operator.documented.view import DOCUMENTED_ATTRIBUTES
from dockercloud_operator.schema.constants import GROUP, PLURAL, VERSION
from tests.operator_process import OperatorProcess
from tests.rest_api import Client, RestApi, service_account_token
from tests.wait import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATETIME = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$"
)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The documented PATCH example, as the spec writes it (Python's True and False included).
DOCUMENTED_PATCH = """\
{"autorestart": "ON_FAILURE", "autodestroy": "OFF", "container_envvars": [{"key": "DB_PASSWORD", "value": "mypass"}],
"container_ports": [{"protocol": "tcp", "inner_port": 80, "outer_port": 80}], "cpu_shares": 512,
"entrypoint": "/usr/sbin/sshd", "image": "tutum/hello-world",
"linked_to_service": [{"to_service": "/api/app/v1/service/80ff1635-2d56-478d-a97f-9b59c720e513/", "name": "db"}],
"memory": 2048, "privileged": True, "roles": ["global"], "run_command": "/run.sh", "sequential_deployment": False,
"tags": [{"name": "tag-1"}], "target_num_containers": 3, "autoredeploy": False}
"""  # noqa: E501


@pytest.fixture
def editor(
    api: client.ApiClient, namespace: str, rest_api: RestApi, user_roles: None,
    operator: OperatorProcess,
) -> Client:  # fmt: skip
    """A caller allowed to edit services in the test's namespace (Kubernetes' own `edit` role,
    which the editor ClusterRole aggregates into), on the namespaced paths."""
    token = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    return Client(rest_api, token, namespace)


def wait_state(
    caller: Client, uuid: str, state: str, running: int | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Waits until the service reports `state` (with `running` containers, when given)."""

    def reached() -> dict[str, Any] | None:
        service = caller.get(uuid)
        if running is not None and service["running_num_containers"] != running:
            return None
        return service if service["state"] == state and service["synchronized"] else None

    return wait_for(reached, f"service {uuid} to be {state}", timeout=timeout)


# -- create -------------------------------------------------------------------------------------


def test_the_documented_create_example_creates_a_service_that_is_not_started(
    editor: Client,
) -> None:
    answer = editor.call(
        "POST",
        editor.base,
        json={"image": "tutum/hello-world", "name": "my-new-app", "target_num_containers": 2},
    )
    assert answer.status_code == 201, answer.text
    service = answer.json()
    assert sorted(service) == sorted(DOCUMENTED_ATTRIBUTES)
    assert service["name"] == "my-new-app"
    assert service["image_name"] == "tutum/hello-world:latest"
    assert service["target_num_containers"] == 2
    assert service["state"] == "Not running"
    assert UUID.match(service["uuid"])
    assert service["resource_uri"].endswith(f"/service/{service['uuid']}/")
    # Created without starting: nothing runs, however long we wait.
    settled = wait_state(editor, service["uuid"], "Not running")
    assert settled["current_num_containers"] == 0
    assert settled["containers"] == []


def test_create_applies_the_documented_defaults(editor: Client) -> None:
    service = editor.create(image="tutum/hello-world")
    assert service["name"] == "hello-world"  # the image without namespace and tag
    assert service["nickname"] == "hello-world"
    expected = {
        "target_num_containers": 1,
        "autorestart": "OFF",
        "autodestroy": "OFF",
        "autoredeploy": False,
        "sequential_deployment": False,
        "privileged": False,
        "deployment_strategy": "EMPTIEST_NODE",
        "net": "bridge",
        "pid": "none",
        "working_dir": "/",
        "container_ports": [],
        "container_envvars": [],
        "linked_to_service": [],
        "bindings": [],
        "roles": [],
        "tags": [],
        "run_command": None,
        "entrypoint": None,
    }
    assert {key: service[key] for key in expected} == expected


def test_every_attribute_has_its_documented_json_type(editor: Client) -> None:
    port = {"protocol": "tcp", "inner_port": 80, "outer_port": 8080}
    created = editor.create(image="nginx:1.27", container_ports=[port])
    editor.call("POST", editor.service(created["uuid"], "start"))
    service = wait_state(editor, created["uuid"], "Running")
    for key in ("containers", "container_ports", "container_envvars", "bindings", "tags",
                "linked_to_service", "linked_from_service", "roles", "cap_add", "dns"):  # fmt: skip
        assert isinstance(service[key], list), key
    for key in ("current_num_containers", "running_num_containers", "stopped_num_containers",
                "target_num_containers"):  # fmt: skip
        assert isinstance(service[key], int), key
    assert isinstance(service["link_variables"], dict)
    assert isinstance(service["labels"], dict)
    assert isinstance(service["synchronized"], bool)
    assert DATETIME.match(service["started_datetime"]), service["started_datetime"]
    assert DATETIME.match(service["deployed_datetime"]), service["deployed_datetime"]
    assert service["stopped_datetime"] is None and service["destroyed_datetime"] is None
    (port,) = service["container_ports"]
    assert port["published"] is True  # an outer_port publishes the port
    assert port["outer_port"] == 8080 and port["inner_port"] == 80
    assert port["endpoint_uri"]


# -- get ----------------------------------------------------------------------------------------


def test_a_service_is_found_by_its_uuid_at_once_and_by_its_resource_uri(
    editor: Client, api: client.ApiClient, namespace: str
) -> None:
    created = editor.create(image="redis", name="cache")
    assert editor.get(created["uuid"])["name"] == "cache"  # before or after the first status
    by_uri = editor.call("GET", created["resource_uri"])
    assert by_uri.status_code == 200, by_uri.text
    assert by_uri.json()["uuid"] == created["uuid"]
    # The operator's status says the same resource URI.
    status = wait_for(
        lambda: (
            client.CustomObjectsApi(api)
            .get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "cache")
            .get("status")
        ),
        "the operator's status",
    )
    assert status["resource_uri"] == created["resource_uri"]
    assert status["uuid"] == created["uuid"]


def test_a_service_the_operator_has_not_reported_on_is_found_by_uuid(
    editor: Client, api: client.ApiClient, namespace: str, operator: OperatorProcess
) -> None:
    from tests.operators import paused

    with paused(operator):
        created = editor.create(image="redis", name="unreported")
        service = editor.get(created["uuid"])
        assert service["state"] == "Not running"
        resource = client.CustomObjectsApi(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "unreported"
        )
        assert "status" not in resource or not resource["status"].get("uuid")


def test_an_unknown_uuid_is_not_found(editor: Client) -> None:
    answer = editor.call("GET", editor.service("00000000-0000-4000-8000-000000000000"))
    assert answer.status_code == 404
    assert "00000000-0000-4000-8000-000000000000" in answer.json()["error"]


# -- list ---------------------------------------------------------------------------------------


def test_the_list_pages_with_limit_and_offset(editor: Client) -> None:
    names = [f"svc-{n}" for n in range(5)]
    for name in names:
        editor.create(image="nginx", name=name)
    answer = editor.call("GET", editor.base, params={"limit": 2})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["meta"]["total_count"] == 5
    assert page["meta"]["limit"] == 2 and page["meta"]["offset"] == 0
    assert page["meta"]["previous"] is None
    seen = [s["name"] for s in page["objects"]]
    pages = 1
    while page["meta"]["next"]:
        page = editor.call("GET", page["meta"]["next"]).json()
        assert page["meta"]["previous"] is not None
        seen += [s["name"] for s in page["objects"]]
        pages += 1
    assert pages == 3
    assert seen == names
    default = editor.call("GET", editor.base).json()
    assert default["meta"]["limit"] == 25 and default["meta"]["next"] is None
    assert [s["name"] for s in default["objects"]] == names
    assert all(sorted(s) == sorted(DOCUMENTED_ATTRIBUTES) for s in default["objects"])


def test_the_list_filters_by_uuid_name_state_and_stack(editor: Client) -> None:
    stack = "/api/app/v1/stack/46aca402-2109-4a70-a378-760cfed43816/"
    web = editor.create(image="nginx", name="web", stack=stack)
    db = editor.create(image="mysql", name="db", stack="shop")
    editor.create(image="redis", name="cache")
    editor.call("POST", editor.service(web["uuid"], "start"))
    wait_state(editor, web["uuid"], "Running")

    def names(**filters: str) -> list[str]:
        answer = editor.call("GET", editor.base, params=filters)
        assert answer.status_code == 200, answer.text
        assert answer.json()["meta"]["total_count"] == len(answer.json()["objects"])
        return sorted(s["name"] for s in answer.json()["objects"])

    assert names(uuid=db["uuid"]) == ["db"]
    assert names(uuid__startswith=db["uuid"][:8]) == ["db"]
    assert names(name="cache") == ["cache"]
    assert names(state="Running") == ["web"]
    assert names(state="Not running") == ["cache", "db"]
    assert names(stack=web["stack"]) == ["web"]
    assert names(stack__name="shop") == ["db"]
    assert names(stack__name="46aca402-2109-4a70-a378-760cfed43816") == ["web"]
    assert names(name="nobody") == []


def test_the_unnamespaced_paths_act_in_the_servers_namespace(
    api: client.ApiClient, namespace: str, user_roles: None, kubeconfig: Path, tmp_path: Path
) -> None:
    rest = RestApi(kubeconfig, tmp_path / "api.log", namespace=namespace).start()
    try:
        token = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
        plain, namespaced = Client(rest, token), Client(rest, token, namespace)
        created = plain.create(image="nginx", name="here")
        assert namespaced.get(created["uuid"])["name"] == "here"
        assert plain.call("GET", created["resource_uri"]).json()["name"] == "here"
        assert created["resource_uri"] == f"/api/app/v1/{namespace}/service/{created['uuid']}/"
    finally:
        rest.stop()


# -- update -------------------------------------------------------------------------------------


def test_the_documented_patch_example_updates_the_service(editor: Client) -> None:
    created = editor.create(image="tutum/hello-world", name="patched")
    answer = editor.call(
        "PATCH", editor.service(created["uuid"]), data=DOCUMENTED_PATCH,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    service = answer.json()
    assert service["autorestart"] == "ON_FAILURE"
    assert service["container_envvars"] == [{"key": "DB_PASSWORD", "value": "mypass"}]
    assert service["container_ports"][0]["outer_port"] == 80
    assert service["container_ports"][0]["published"] is True
    assert service["cpu_shares"] == 512
    assert service["entrypoint"] == "/usr/sbin/sshd"
    assert service["memory"] == 2048
    assert service["privileged"] is True
    assert service["roles"] == ["global"]
    assert service["run_command"] == "/run.sh"
    assert service["tags"] == [{"name": "tag-1"}]
    assert service["target_num_containers"] == 3
    assert service["linked_to_service"] == [
        {
            "from_service": created["resource_uri"],
            "name": "db",
            "to_service": "/api/app/v1/service/80ff1635-2d56-478d-a97f-9b59c720e513/",
        }
    ]
    assert editor.get(created["uuid"])["cpu_shares"] == 512


def test_an_update_changes_only_the_fields_sent(editor: Client) -> None:
    created = editor.create(
        image="nginx", name="partial", container_envvars=[{"key": "A", "value": "1"}],
        tags=[{"name": "one"}],
    )  # fmt: skip
    answer = editor.call("PATCH", editor.service(created["uuid"]), json={"tags": [{"name": "two"}]})
    assert answer.status_code == 200, answer.text
    service = answer.json()
    assert service["tags"] == [{"name": "two"}]  # the tag list is replaced
    assert service["container_envvars"] == [{"key": "A", "value": "1"}]
    assert service["image_name"] == "nginx:latest"


def test_resource_uris_are_accepted_in_links_and_volumes_from(editor: Client) -> None:
    db = editor.create(image="mysql", name="db", bindings=[{"container_path": "/var/lib/mysql"}])
    web = editor.create(
        image="nginx", name="web",
        linked_to_service=[{"to_service": db["resource_uri"], "name": "db"}],
        bindings=[{"volumes_from": db["resource_uri"]}],
    )  # fmt: skip
    assert web["linked_to_service"][0]["to_service"] == db["resource_uri"]
    assert web["bindings"][0]["volumes_from"] == db["resource_uri"]


# -- actions: a walk through the documented states -----------------------------------------------


def test_a_service_walks_through_the_documented_states_through_the_api(editor: Client) -> None:
    uuid = editor.create(image="nginx", name="walker", target_num_containers=2)["uuid"]
    assert wait_state(editor, uuid, "Not running")["running_num_containers"] == 0

    refused = editor.call("POST", editor.service(uuid, "stop"))
    assert refused.status_code == 409
    assert refused.json()["state"] == "Not running"
    assert set(refused.json()["allowed_actions"]) == {"start", "terminate", "scale"}

    started = editor.call("POST", editor.service(uuid, "start"))
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "Starting"
    wait_state(editor, uuid, "Running", running=2)

    again = editor.call("POST", editor.service(uuid, "start"))
    assert again.status_code == 409 and again.json()["state"] == "Running"

    editor.call("PATCH", editor.service(uuid), json={"target_num_containers": 3})
    scaled = editor.call("POST", editor.service(uuid, "scale"))
    assert scaled.status_code == 202, scaled.text
    wait_state(editor, uuid, "Running", running=3)

    stopped = editor.call("POST", editor.service(uuid, "stop"))
    assert stopped.status_code == 202 and stopped.json()["state"] == "Stopping"
    service = wait_state(editor, uuid, "Stopped", running=0)
    assert service["target_num_containers"] == 3
    assert DATETIME.match(service["stopped_datetime"])

    assert editor.call("POST", editor.service(uuid, "start")).status_code == 202
    wait_state(editor, uuid, "Running", running=3)

    for reuse in ("false", "True"):
        before = editor.get(uuid)["containers"]
        redeployed = editor.call(
            "POST", editor.service(uuid, "redeploy"), params={"reuse_volumes": reuse}
        )
        assert redeployed.status_code == 202, redeployed.text
        assert redeployed.json()["state"] == "Redeploying"

        def renewed(before: list[str] = before) -> dict[str, Any] | None:
            service = editor.get(uuid)
            fresh = not set(service["containers"]) & set(before)
            return service if fresh and service["state"] == "Running" else None

        assert len(wait_for(renewed, "every container replaced")["containers"]) == 3

    terminated = editor.call("DELETE", editor.service(uuid))
    assert terminated.status_code == 202, terminated.text
    assert terminated.json()["state"] == "Terminating"
    wait_for(
        lambda: editor.call("GET", editor.service(uuid)).status_code == 404,
        "the service to be gone",
    )


def test_an_action_is_refused_while_the_state_allows_none(
    editor: Client, operator: OperatorProcess
) -> None:
    from tests.operators import paused

    uuid = editor.create(image="nginx", name="busy")["uuid"]
    wait_state(editor, uuid, "Not running")
    with paused(operator):  # nobody carries the start out: the service stays Starting
        editor.call("POST", editor.service(uuid, "start"))
        editor.call("PATCH", editor.service(uuid), json={})  # an update is not an action
        for action in ("stop", "redeploy", "scale"):
            refused = editor.call("POST", editor.service(uuid, action))
            assert refused.status_code in (409,), refused.text
        terminated = editor.call("DELETE", editor.service(uuid))
        assert terminated.status_code == 409
        assert terminated.json()["allowed_actions"] == []


def test_credentials_are_checked_at_auth(editor: Client, rest_api: RestApi) -> None:
    good = editor.call("GET", "/auth")
    assert good.status_code == 200, good.text
    assert good.json()["user"].startswith("system:serviceaccount:")
    bad = requests.get(f"{rest_api.url}/auth", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert bad.status_code == 401
    assert "error" in bad.json()


def test_each_request_is_counted_in_metrics(editor: Client, rest_api: RestApi) -> None:
    editor.call("GET", editor.base)
    text = requests.get(f"{rest_api.url}/metrics", timeout=10).text
    assert re.search(
        r'dockercloud_operator_api_http_requests_total\{code="200",endpoint="list",method="GET"\}',
        text,
    )
    assert "dockercloud_operator_api_http_request_duration_seconds_bucket" in text
    assert "dockercloud_operator_api_log_streams" in text
