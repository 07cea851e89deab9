"""The pure translations behind the REST API: request bodies to Service changes, the list's
filters and paging, credentials to tokens, and the documented state a service shows."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from dockercloud_operator.documented import requests as rest
from dockercloud_operator.documented.requests import BadRequest
from dockercloud_operator.documented.view import current_state, documented_view
from dockercloud_operator.rest.auth import BadCredentials, token_from_header
from dockercloud_operator.schema.names import parse_resource_uri, resource_uri
from dockercloud_operator.schema.parts import (
    State,
)

UID = "09cbcf8d-a727-40d9-b420-c8e18b7fa55b"

# -- bodies -------------------------------------------------------------------------------------


def test_the_documented_create_example_is_a_service_created_without_starting() -> None:
    body = rest.parse_body(
        b'{"image": "tutum/hello-world", "name": "my-new-app", "target_num_containers": 2}'
    )
    assert rest.create_manifest(body) == {
        "apiVersion": "app.dockercloud.dev/v1",
        "kind": "Service",
        "metadata": {"name": "my-new-app"},
        "spec": {"image": "tutum/hello-world", "target_num_containers": 2, "running": False},
    }


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("tutum/hello-world", "hello-world"),
        ("registry.example.com:5000/team/api:1.2", "api"),
        ("nginx@sha256:" + "a" * 64, "nginx"),
        ("library/9gag", "svc-9gag"),
    ],
)
def test_the_name_defaults_to_the_image_without_namespace_and_tag(image: str, name: str) -> None:
    assert rest.create_manifest({"image": image})["metadata"]["name"] == name


def test_nulls_in_a_create_are_the_documented_defaults() -> None:
    spec = rest.create_manifest({"image": "nginx", "run_command": None, "entrypoint": None})["spec"]
    assert spec == {"image": "nginx", "running": False}


def test_python_literals_are_read_as_json_as_the_documented_patch_example_spells_them() -> None:
    body = rest.parse_body(b'{"privileged": True, "sequential_deployment": False, "x": None,'
                           b' "text": "True stays True"}')  # fmt: skip
    assert body == {"privileged": True, "sequential_deployment": False, "x": None,
                    "text": "True stays True"}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "no body"),
        (b"   ", "no body"),
        (b"{", "not valid JSON"),
        (b"[1, 2]", "a JSON object, not an array"),
        (b'"text"', "a JSON object, not a string"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels deep"),
        (b'{"privileged": True, "a": ' + b"[" * 1000 + b"]" * 1000 + b"}", "64 levels"),
        (b'{"memory": 1e400}', "1e400 is too large a number"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b'{"a": "\\ud800"}', "not Unicode"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        rest.parse_body(raw)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, '"image" is required'),
        ({"image": 5}, '"image" must be a string'),
        ({"image": "nginx", "name": "Bad_Name"}, "not a valid service name"),
        ({"image": "nginx", "name": 7}, '"name" must be a string'),
        ({"image": "nginx", "bogus": 1}, 'unknown field "bogus"'),
        ({"image": "nginx", "uuid": UID}, '"uuid" is read-only'),
        ({"image": "nginx", "state": "Running"}, '"state" is read-only'),
        ({"image": "nginx", "running": True}, "start, stop and redeploy endpoints"),
    ],
)
def test_a_bad_create_names_the_field(body: dict[str, Any], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        rest.create_manifest(body)


def test_an_update_is_a_merge_patch_of_the_fields_sent() -> None:
    patch = rest.update_patch({"target_num_containers": 3, "tags": [{"name": "a"}]}, "web")
    assert patch == {"spec": {"target_num_containers": 3, "tags": [{"name": "a"}]}}
    assert rest.update_patch({"run_command": None}, "web") == {"spec": {"run_command": None}}
    assert rest.update_patch({"name": "web", "memory": 64}, "web") == {"spec": {"memory": 64}}
    with pytest.raises(BadRequest, match='"name" cannot be changed'):
        rest.update_patch({"name": "other"}, "web")
    with pytest.raises(BadRequest, match='"image_name" is read-only'):
        rest.update_patch({"image_name": "x"}, "web")


def test_an_outer_port_publishes_the_port_unless_published_is_given() -> None:
    ports = rest.update_patch(
        {
            "container_ports": [
                {"protocol": "tcp", "inner_port": 80, "outer_port": 80},
                {"protocol": "tcp", "inner_port": 81, "outer_port": 81, "published": False},
                {"protocol": "tcp", "inner_port": 82},
            ]
        },
        "web",
    )["spec"]["container_ports"]
    assert [p.get("published") for p in ports] == [True, False, None]


def test_port_numbers_sent_as_strings_are_numbers_as_the_cli_sends_them() -> None:
    body = {"image": "nginx", "container_ports": [
        {"protocol": "tcp", "inner_port": "80", "outer_port": "8080", "published": True},
        {"protocol": "tcp", "inner_port": "eighty"}]}  # fmt: skip
    ports = rest.create_manifest(body)["spec"]["container_ports"]
    assert ports[0] == {"protocol": "tcp", "inner_port": 80, "outer_port": 8080, "published": True}
    assert ports[1]["inner_port"] == "eighty"  # the API server names what is wrong


# -- query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("true", True), ("True", True), ("1", True), ("false", False),
     ("False", False), ("0", False)],
)  # fmt: skip
def test_booleans_are_read_as_the_clients_send_them(value: str | None, expected: bool) -> None:
    assert rest.parse_bool(value, "reuse_volumes", True) is expected


def test_a_bad_boolean_or_count_is_refused() -> None:
    with pytest.raises(BadRequest, match="reuse_volumes=maybe: must be true or false"):
        rest.parse_bool("maybe", "reuse_volumes", True)
    with pytest.raises(BadRequest, match="tail=-1"):
        rest.parse_count("-1", "tail", 300, 1000)
    with pytest.raises(BadRequest, match="at most 1000"):
        rest.parse_count("1001", "limit", 25, 1000)
    with pytest.raises(BadRequest, match=r"limit=9{40}\.\.\.: must be a whole number"):
        rest.parse_count("9" * 5000, "limit", 25, 1000)


def test_the_list_query_splits_filters_between_the_server_and_here() -> None:
    query = rest.list_query({"state": "Running", "name": "web", "uuid__startswith": "09cb"})
    assert query.field_selector() == "metadata.name=web"  # the state is the documented one
    by_uuid = rest.list_query({"uuid": UID, "name": "web"})
    assert by_uuid.field_selector() == f"metadata.name=web,status.uuid={UID}"
    assert by_uuid.field_selector(by_uuid=False) == "metadata.name=web"
    # What the API server would read as syntax is escaped.
    odd = rest.list_query({"name": "a=b", "stack": "x,y\\"})
    assert odd.field_selector() == "metadata.name=a\\=b,spec.stack=x\\,y\\\\"
    assert query.limit == 25 and query.offset == 0
    service = {"metadata": {"uid": UID}, "spec": {}, "status": {"state": "Running"}}
    assert query.matches(service)
    unreported = {"metadata": {"uid": UID}, "spec": {"running": False}}
    assert rest.list_query({"state": "Not running"}).matches(unreported)
    assert not rest.list_query({"uuid__startswith": "ffff"}).matches(service)
    assert rest.list_query({"limit": "0"}).limit == rest.MAX_LIMIT


@pytest.mark.parametrize(
    ("stack", "wanted", "matches"),
    [
        ("/api/app/v1/stack/46aca402-2109-4a70-a378-760cfed43816/",
         "46aca402-2109-4a70-a378-760cfed43816", True),
        ("shop", "shop", True),
        ("shop", "shopping", False),
        (None, "shop", False),
    ],
)  # fmt: skip
def test_the_stack_name_filter(stack: str | None, wanted: str, matches: bool) -> None:
    service = {"metadata": {"uid": UID}, "spec": {"stack": stack}}
    assert rest.list_query({"stack__name": wanted}).matches(service) is matches


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"status": "Running"}, 'unknown query parameter "status"'),
        ({"state": "Sleeping"}, "state=Sleeping: must be one of Not running"),
        ({"limit": "ten"}, "limit=ten"),
        ({"offset": "-5"}, "offset=-5"),
        ({"name": "a" * 254}, "at most 253 characters"),
    ],
)
def test_a_bad_list_query_is_refused(query: dict[str, str], words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        rest.list_query(query)


def test_the_page_meta_links_the_pages_beside_it() -> None:
    query = rest.list_query({"limit": "2", "offset": "2", "state": "Running"})
    meta = rest.page_meta("/api/app/v1/service/", query, total=5)
    assert meta == {
        "limit": 2,
        "offset": 2,
        "total_count": 5,
        "next": "/api/app/v1/service/?state=Running&limit=2&offset=4",
        "previous": "/api/app/v1/service/?state=Running&limit=2&offset=0",
    }
    last = rest.page_meta("/x/", rest.list_query({"limit": "2", "offset": "4"}), total=5)
    assert last["next"] is None
    first = rest.page_meta("/x/", rest.list_query({}), total=0)
    assert first["next"] is None and first["previous"] is None


# -- credentials --------------------------------------------------------------------------------


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        ("", None),
        (_basic("user:tok.en-1"), "tok.en-1"),
        (_basic("tok.en-1"), "tok.en-1"),
        ("Bearer tok.en-1", "tok.en-1"),
        ("bearer   tok.en-1 ", "tok.en-1"),
        ("ApiKey user:tok.en-1", "tok.en-1"),
        ("tok.en-1", "tok.en-1"),  # a bare DOCKERCLOUD_AUTH value
    ],
)
def test_the_token_comes_from_every_header_the_clients_send(
    header: str | None, token: str | None
) -> None:
    assert token_from_header(header) == token


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("Basic !!!", "base64"),
        (_basic("user:"), "no API key"),
        ("Digest abc", 'unknown authorization scheme "Digest"'),
        ("Bearer", "no API key"),
    ],
)
def test_unusable_credentials_say_why(header: str, words: str) -> None:
    with pytest.raises(BadCredentials, match=words):
        token_from_header(header)


# -- the documented state and resource URIs -----------------------------------------------------


def _service(status: dict[str, Any] | None = None, running: bool = True, **meta: Any) -> Any:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": UID, "generation": 2, **meta},
        "spec": {"image": "nginx", "running": running},
        **({"status": status} if status is not None else {}),
    }


@pytest.mark.parametrize(
    ("status", "running", "meta", "state"),
    [
        (None, False, {}, State.NOT_RUNNING),
        (None, True, {}, State.STARTING),
        ({"state": "Running", "observedGeneration": 2}, True, {}, State.RUNNING),
        # A start or stop the operator has not seen yet shows at once.
        ({"state": "Stopped", "observedGeneration": 1}, True, {}, State.STARTING),
        ({"state": "Running", "observedGeneration": 1}, False, {}, State.STOPPING),
        # Seen: the operator's word stands (it may be holding the action).
        ({"state": "Redeploying", "observedGeneration": 2}, False, {}, State.REDEPLOYING),
        ({"state": "Running", "observedGeneration": 2}, True,
         {"deletionTimestamp": "2026-01-01T00:00:00Z"}, State.TERMINATING),
    ],
)  # fmt: skip
def test_the_documented_state(
    status: dict[str, Any] | None, running: bool, meta: dict[str, Any], state: State
) -> None:
    assert current_state(_service(status, running, **meta)) is state


@pytest.mark.parametrize(
    ("status", "state"),
    [
        # A redeploy the operator has not reported on yet (it holds short transitions back).
        ({"state": "Running", "observedGeneration": 2, "observedRedeployToken": "old"},
         State.REDEPLOYING),
        ({"state": "Running", "observedGeneration": 1}, State.REDEPLOYING),
        # Reported: the operator's word.
        ({"state": "Running", "observedGeneration": 2, "observedRedeployToken": "new"},
         State.RUNNING),
        # A status older than the token field, at the current generation.
        ({"state": "Running", "observedGeneration": 2}, State.RUNNING),
        # Stopped: a redeploy of a stopped service only renews what it will run.
        ({"state": "Stopped", "observedGeneration": 2, "observedRedeployToken": "old"},
         State.STOPPED),
    ],
)  # fmt: skip
def test_a_new_redeploy_token_shows_as_redeploying(status: dict[str, Any], state: State) -> None:
    service = _service(status, running=status["state"] != "Stopped")
    service["spec"]["redeploy"] = {"token": "new", "reuse_volumes": True}
    assert current_state(service) is state


def test_resource_uris_carry_the_namespace_outside_default() -> None:
    assert resource_uri(UID, "default") == f"/api/app/v1/service/{UID}/"
    assert resource_uri(UID, "team-a") == f"/api/app/v1/team-a/service/{UID}/"
    assert parse_resource_uri(f"/api/app/v1/service/{UID}/") == ("default", UID)
    assert parse_resource_uri(f"/api/app/v1/team-a/service/{UID}/") == ("team-a", UID)
    assert parse_resource_uri("/api/app/v1/service/web/") is None
    view = documented_view(_service(namespace="team-a"))
    assert view["resource_uri"] == f"/api/app/v1/team-a/service/{UID}/"


def test_the_view_shows_the_spec_at_once_and_the_observed_endpoints() -> None:
    observed = {"protocol": "tcp", "inner_port": 80, "outer_port": 31000,
                "endpoint_uri": "tcp://x:31000"}  # fmt: skip
    service = _service(
        {"state": "Running", "observedGeneration": 1, "image_name": "old:1",
         "container_ports": [observed]}
    )  # fmt: skip
    service["spec"]["image"] = "nginx:2"
    service["spec"]["container_ports"] = [{"protocol": "tcp", "inner_port": 80, "published": True}]
    view = documented_view(service)
    assert view["image_name"] == "nginx:2"
    assert view["container_ports"] == [
        {"protocol": "tcp", "inner_port": 80, "published": True, "port_name": None,
         "outer_port": 31000, "endpoint_uri": "tcp://x:31000"}
    ]  # fmt: skip
    assert view["cap_add"] == [] and view["labels"] == {}


# -- the REST API's answers to Kubernetes' refusals, and where it finds the cluster --------------


@pytest.mark.parametrize(
    ("status", "body", "answer", "words"),
    [
        (404, {"reason": "NotFound", "details": {"name": "nope", "kind": "namespaces"}},
         404, 'namespace "nope" not found'),
        (404, {"reason": "NotFound", "details": {"name": "web", "kind": "services"}},
         404, 'service "web" not found in namespace "team"'),
        (404, {"reason": "NotFound", "message": "the server could not find the resource"},
         503, "is not installed"),
        (409, {"reason": "AlreadyExists", "details": {"name": "web"}},
         409, 'a service named "web" already exists in namespace "team"'),
        (422, {"reason": "Invalid", "message": "Service \"web\" is invalid: spec.memory: bad",
               "details": {"causes": [{"field": "spec.memory", "message": "bad"}]}},
         400, "spec.memory: bad"),
        (403, {"message": 'User "x" cannot create resource "services" in the namespace "team"'},
         403, "cannot create"),
        (401, {"message": "Unauthorized"}, 401, "not accepted"),
        (500, {"message": "etcd is down"}, 503, "unavailable: etcd is down"),
    ],
)  # fmt: skip
def test_kubernetes_refusals_become_documented_answers(
    status: int, body: dict[str, Any], answer: int, words: str
) -> None:
    from dockercloud_operator.rest.errors import from_kube
    from dockercloud_operator.rest.kube import KubeError

    error = from_kube(KubeError(status, body), "team")
    assert error.status == answer
    assert words in error.message
    if status == 422:
        assert error.extra == {"errors": [{"field": "memory", "message": "bad"}]}


def test_in_a_pod_the_api_trusts_the_mounted_cluster_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from dockercloud_operator.rest.kube import Cluster

    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    ca = tmp_path / "ca.crt"
    with pytest.raises(ValueError, match=r"kube-root-ca\.crt"):
        Cluster.from_environment(in_cluster_ca=str(ca))
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Cluster.from_environment(in_cluster_ca=str(ca)) == Cluster(
        "https://10.96.0.1:443", str(ca)
    )


def test_from_a_kubeconfig_only_the_server_and_ca_are_read(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from dockercloud_operator.rest.kube import Cluster

    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    first = tmp_path / "first"
    first.write_text(yaml.safe_dump({
        "current-context": "dev",
        "contexts": [{"name": "dev", "context": {"cluster": "local", "user": "admin"}}],
        "clusters": [{"name": "local", "cluster": {
            "server": "https://127.0.0.1:6443/",
            "certificate-authority-data": base64.b64encode(pem.encode()).decode()}}],
        "users": [{"name": "admin", "user": {"token": "never-read"}}],
    }))  # fmt: skip
    second = tmp_path / "second"
    second.write_text(yaml.safe_dump({
        "current-context": "other",
        "clusters": [{"name": "remote", "cluster": {
            "server": "https://10.0.0.1", "certificate-authority": "ca.pem"}},
            {"name": "local", "cluster": {"server": "https://ignored"}}],
        "contexts": [{"name": "other", "context": {"cluster": "remote"}}],
    }))  # fmt: skip
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert Cluster.from_environment() == Cluster("https://127.0.0.1:6443", None, True, pem)
    assert Cluster.from_kubeconfig(str(second)) == Cluster(
        "https://10.0.0.1", str(tmp_path / "ca.pem"), True, None
    )
    empty = tmp_path / "empty"
    empty.write_text("{}")
    with pytest.raises(ValueError, match="no current context with a server"):
        Cluster.from_kubeconfig(str(empty))
    with pytest.raises(ValueError, match="cannot read the kubeconfig"):
        Cluster.from_kubeconfig(str(tmp_path / "missing"))
