"""Bad input never breaks the REST API: a table of malformed and invalid requests, each
answered with its status code and an `{"error": ...}` that names what is wrong, and a fuzz of
request bodies against the running server (a real API server underneath) that finds no 5xx."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from dockercloud_operator.documented.requests import WRITABLE
from tests.conftest import fresh_namespace
from tests.rest_api import Client, RestApi, bearer, service_account_token

pytestmark = pytest.mark.integration
NO_SUCH = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def module_namespace(api: client.ApiClient) -> Iterator[str]:
    yield from fresh_namespace(api)


@pytest.fixture(scope="module")
def caller(
    api: client.ApiClient, module_namespace: str, rest_api: RestApi, user_roles: None
) -> Client:
    token = service_account_token(
        api, module_namespace, "dockercloud-service-editor", role_namespaces=(module_namespace,)
    )
    return Client(rest_api, token, module_namespace)


@pytest.fixture(scope="module")
def service(caller: Client) -> dict[str, Any]:
    """A service to update: created, never started (Not running)."""
    return caller.create(image="nginx", name="target")


@pytest.fixture(scope="module")
def every_node(caller: Client) -> dict[str, Any]:
    return caller.create(image="nginx", name="daemon", deployment_strategy="EVERY_NODE")


def port(**fields: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "inner_port": 80, **fields}


BIG = b'{"image": "nginx", "labels": {"a": "' + b"x" * (1024 * 1024) + b'"}}'

# (id, method, path ("{base}" the namespace's service list, "{one}" the service), body (bytes:
# sent as it is; else JSON), expected status, words the error names)
CASES: list[tuple[str, str, str, Any, int, str]] = [
    # -- bodies that are not one JSON object
    ("malformed-json", "POST", "{base}", b'{"image": ', 400, "not valid JSON"),
    ("json-array", "POST", "{base}", b'["nginx"]', 400, "JSON object, not an array"),
    ("json-string", "POST", "{base}", b'"nginx"', 400, "JSON object, not a string"),
    ("json-number", "PATCH", "{one}", b"42", 400, "JSON object, not a number"),
    ("empty-create", "POST", "{base}", b"", 400, "no body"),
    ("empty-update", "PATCH", "{one}", b"  ", 400, "no body"),
    ("not-utf8", "POST", "{base}", b'{"image": "\xff\xfe"}', 400, "not UTF-8"),
    ("nan", "POST", "{base}", b'{"image": "nginx", "memory": NaN}', 400, "NaN"),
    ("too-deep", "POST", "{base}", b"[" * 50_000 + b"]" * 50_000, 400, "nested too deeply"),
    ("over-1-mib", "POST", "{base}", BIG, 413, "larger than 1048576 bytes"),
    # -- fields
    (
        "unknown-field",
        "POST",
        "{base}",
        {"image": "nginx", "replicas": 2},
        400,
        'unknown field "replicas"',
    ),
    (
        "read-only-uuid",
        "POST",
        "{base}",
        {"image": "nginx", "uuid": NO_SUCH},
        400,
        '"uuid" is read-only',
    ),
    ("read-only-state", "PATCH", "{one}", {"state": "Running"}, 400, '"state" is read-only'),
    (
        "read-only-resource-uri",
        "PATCH",
        "{one}",
        {"resource_uri": "/x/"},
        400,
        '"resource_uri" is read-only',
    ),
    (
        "action-field-running",
        "PATCH",
        "{one}",
        {"running": True},
        400,
        "start, stop and redeploy endpoints",
    ),
    (
        "action-field-redeploy",
        "POST",
        "{base}",
        {"image": "nginx", "redeploy": {"token": "x"}},
        400,
        "start, stop and redeploy endpoints",
    ),
    ("missing-image", "POST", "{base}", {"name": "web"}, 400, '"image" is required'),
    ("image-not-a-string", "POST", "{base}", {"image": ["nginx"]}, 400, '"image" must be a string'),
    ("image-reference", "POST", "{base}", {"image": "Not An Image!"}, 400, "spec.image"),
    (
        "bad-name",
        "POST",
        "{base}",
        {"image": "nginx", "name": "Web_1"},
        400,
        "not a valid service name",
    ),
    (
        "name-too-long",
        "POST",
        "{base}",
        {"image": "nginx", "name": "a" * 60},
        400,
        "not a valid service name",
    ),
    ("rename", "PATCH", "{one}", {"name": "other"}, 400, '"name" cannot be changed'),
    # -- values the schema refuses, in the API server's own words
    (
        "count-string",
        "PATCH",
        "{one}",
        {"target_num_containers": "3"},
        400,
        "target_num_containers",
    ),
    (
        "count-negative",
        "PATCH",
        "{one}",
        {"target_num_containers": -1},
        400,
        "target_num_containers",
    ),
    ("privileged-string", "PATCH", "{one}", {"privileged": "yes"}, 400, "privileged"),
    (
        "ports-not-a-list",
        "PATCH",
        "{one}",
        {"container_ports": {"inner_port": 80}},
        400,
        "container_ports",
    ),
    ("port-zero", "PATCH", "{one}", {"container_ports": [port(inner_port=0)]}, 400, "inner_port"),
    (
        "port-too-big",
        "PATCH",
        "{one}",
        {"container_ports": [port(inner_port=70000)]},
        400,
        "inner_port",
    ),
    (
        "port-protocol",
        "PATCH",
        "{one}",
        {"container_ports": [port(protocol="sctp")]},
        400,
        "protocol",
    ),
    (
        "port-duplicate",
        "PATCH",
        "{one}",
        {"container_ports": [port(), port()]},
        400,
        "container_ports",
    ),
    (
        "port-unknown-field",
        "PATCH",
        "{one}",
        {"container_ports": [port(colour="red")]},
        400,
        "colour",
    ),
    (
        "env-key-dash",
        "PATCH",
        "{one}",
        {"container_envvars": [{"key": "A-B", "value": "1"}]},
        400,
        "key",
    ),
    ("autorestart-enum", "PATCH", "{one}", {"autorestart": "SOMETIMES"}, 400, "autorestart"),
    ("autodestroy-enum", "PATCH", "{one}", {"autodestroy": "NEVER"}, 400, "autodestroy"),
    (
        "strategy-enum",
        "PATCH",
        "{one}",
        {"deployment_strategy": "RANDOM"},
        400,
        "deployment_strategy",
    ),
    ("net-enum", "PATCH", "{one}", {"net": "overlay"}, 400, "net"),
    ("pid-enum", "PATCH", "{one}", {"pid": "container"}, 400, "pid"),
    ("tag-name", "PATCH", "{one}", {"tags": [{"name": "no spaces allowed"}]}, 400, "tags"),
    ("role", "PATCH", "{one}", {"roles": ["admin"]}, 400, "roles"),
    ("to-every-node", "PATCH", "{one}", {"deployment_strategy": "EVERY_NODE"}, 400, "EVERY_NODE"),
    (
        "scale-every-node",
        "PATCH",
        "{daemon}",
        {"target_num_containers": 3},
        400,
        "cannot be scaled",
    ),
    # -- paths and methods
    ("unknown-path", "GET", "/api/app/v1/nothing/", None, 404, "no such endpoint"),
    ("stack-path", "GET", "/api/app/v1/stack/", None, 404, "no such endpoint"),
    ("not-a-uuid", "GET", "{base}web/", None, 404, "not a service uuid"),
    ("unknown-uuid", "GET", "{base}" + NO_SUCH + "/", None, 404, NO_SUCH),
    ("put-service", "PUT", "{one}", {"image": "nginx"}, 405, "PUT is not allowed"),
    ("delete-list", "DELETE", "{base}", None, 405, "DELETE is not allowed"),
    ("get-start", "GET", "{one}start/", None, 405, "GET is not allowed"),
    ("unknown-action", "POST", "{one}restart/", None, 404, "no such endpoint"),
    # -- query parameters
    (
        "list-unknown-parameter",
        "GET",
        "{base}?status=Running",
        None,
        400,
        'unknown query parameter "status"',
    ),
    ("list-limit-word", "GET", "{base}?limit=ten", None, 400, "limit=ten"),
    ("list-limit-too-big", "GET", "{base}?limit=100000", None, 400, "at most 1000"),
    ("list-offset-negative", "GET", "{base}?offset=-1", None, 400, "offset=-1"),
    ("list-bad-state", "GET", "{base}?state=Sleeping", None, 400, "state=Sleeping"),
    (
        "redeploy-reuse",
        "POST",
        "{one}redeploy/?reuse_volumes=perhaps",
        None,
        400,
        "reuse_volumes=perhaps",
    ),
    ("action-unknown-parameter", "POST", "{one}stop/?force=true", None, 400, "force"),
    ("logs-tail", "GET", "{one}logs/?tail=-3", None, 400, "tail=-3"),
    ("logs-follow", "GET", "{one}logs/?follow=sometimes", None, 400, "follow=sometimes"),
    ("logs-no-websocket", "GET", "{one}logs/", None, 400, "websocket"),
    # -- the documented state table
    ("stop-not-running", "POST", "{one}stop/", None, 409, "stop is not allowed"),
    ("redeploy-not-running", "POST", "{one}redeploy/", None, 409, "redeploy is not allowed"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input_is_refused_naming_what_is_wrong(
    caller: Client, service: dict[str, Any], every_node: dict[str, Any],
    method: str, path: str, body: Any, status: int, words: str,
) -> None:  # fmt: skip
    url = path.format(
        base=caller.base,
        one=caller.service(service["uuid"]),
        daemon=caller.service(every_node["uuid"]),
    )
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    answer = caller.call(method, url, data=data)
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()
    assert words in error["error"], error
    if status == 409:
        assert error["state"] == "Not running"
        assert "start" in error["allowed_actions"]


def test_the_table_is_large() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "authentication required"),
        ({"Authorization": "Basic !!!"}, "base64"),
        ({"Authorization": "Digest abc"}, 'unknown authorization scheme "Digest"'),
        (bearer("not-a-token"), "not accepted"),
    ],
    ids=["none", "bad-basic", "unknown-scheme", "bad-token"],
)
def test_bad_credentials_are_401(rest_api: RestApi, headers: dict[str, str], words: str) -> None:
    answer = requests.get(f"{rest_api.url}/api/app/v1/service/", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert words in answer.json()["error"]


# -- fuzzing ------------------------------------------------------------------------------------

FIELDS = sorted(WRITABLE | {"name", "uuid", "state", "running", "bogus"})
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.text(max_size=30),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)


def _sane(answer: requests.Response) -> None:
    assert answer.status_code < 500, answer.text
    payload = answer.json()
    if answer.status_code >= 400:
        assert isinstance(payload["error"], str) and payload["error"], payload


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, image=st.one_of(st.just("nginx"), st.text(max_size=20)))
def test_fuzzed_creates_never_get_a_5xx(caller: Client, body: dict[str, Any], image: str) -> None:
    body = {"image": image, **body, "name": f"f-{uuid.uuid4().hex[:8]}"}
    answer = caller.call("POST", caller.base, data=json.dumps(body).encode())
    _sane(answer)
    if answer.status_code == 201:
        created = answer.json()
        assert created["uuid"] and created["resource_uri"]
        assert caller.call("DELETE", caller.service(created["uuid"])).status_code in (202, 409)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies)
def test_fuzzed_updates_never_get_a_5xx(
    caller: Client, service: dict[str, Any], body: dict[str, Any]
) -> None:
    _sane(caller.call("PATCH", caller.service(service["uuid"]), data=json.dumps(body).encode()))


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=st.dictionaries(st.sampled_from(["limit", "offset", "state", "name", "uuid",
                                              "uuid__startswith", "stack", "stack__name", "x"]),
                             st.text(max_size=20), max_size=4))  # fmt: skip
def test_fuzzed_list_queries_never_get_a_5xx(caller: Client, query: dict[str, str]) -> None:
    _sane(caller.call("GET", caller.base, params=query))
