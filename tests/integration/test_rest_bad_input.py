"""Bad input to the REST API, on the real control plane: every malformed or invalid request is
refused with the right status code and a JSON `{"error": ...}` whose words name what is wrong
(the field, the parameter, the rule), and nothing a client sends makes the server fail (5xx).

A table of hand-written requests first (each one wrong in one way), then hypothesis fuzzing of
the create, update and list endpoints against the running server. Everything happens in a
namespace of this module's own, with a token bound to the `dockercloud-service-editor` role."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from chaos.specs import field_values
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.documented.requests import LIST_PARAMETERS, WRITABLE
from dockercloud_operator.documented.view import DOCUMENTED_ATTRIBUTES
from dockercloud_operator.schema.constants import GROUP, PLURAL, VERSION
from dockercloud_operator.schema.model import (
    ServiceSpec,
)
from dockercloud_operator.schema.parts import (
    State,
)
from testbed import user_roles
from tests.rest_api import Client, RestApi, basic, bearer, service_account_token

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MISSING_UUID = "deadbeef-0000-4000-8000-00000000abcd"
ONE_MIB = 1024 * 1024
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_roles(api: client.ApiClient) -> None:
    """The viewer and editor ClusterRoles of manifests/user-roles.yaml."""
    user_roles.install(api)


def release(api: client.ApiClient, namespace: str, name: str) -> None:
    """Deletes a service that was never started, and releases it from its finalizer: there are
    no containers to terminate, and the operator, which would release it, may not be running
    while this module runs. Its name is free again at once."""
    custom = client.CustomObjectsApi(api)
    try:
        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"finalizers": None}}
        )
    except ApiException as error:
        if error.status != 404:  # the operator released it first
            raise


@pytest.fixture(scope="module")
def module_namespace(api: client.ApiClient) -> Iterator[str]:
    """A namespace for this module's requests, deleted with every service created in it."""
    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    custom = client.CustomObjectsApi(api)
    services: Any = custom.list_namespaced_custom_object(GROUP, VERSION, name, PLURAL)
    for service in services["items"]:
        release(api, name, service["metadata"]["name"])
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def editor(
    api: client.ApiClient, module_namespace: str, rest_api: RestApi, service_roles: None
) -> Client:
    """A caller that may edit services in the module's namespace, on the namespaced paths."""
    token = service_account_token(
        api, module_namespace, "dockercloud-service-editor", role_namespaces=(module_namespace,)
    )
    return Client(rest_api, token, module_namespace)


@pytest.fixture(scope="module")
def target(editor: Client) -> dict[str, Any]:
    """The service the update and action cases of the table aim at: created, not started
    (Not running, whatever the operator does)."""
    return editor.create(image="nginx", name="target")


@pytest.fixture(scope="module")
def fuzz_target(editor: Client) -> dict[str, Any]:
    """The service the update fuzzing changes (not the table's: its changes would add up)."""
    return editor.create(image="nginx", name="fuzz-target")


def checked_answer(answer: requests.Response) -> Any:
    """The JSON document of an answer that is never a server failure; an error answer is
    `{"error": "<words>", ...}`."""
    assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:1000]}"
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    document = answer.json()
    if answer.status_code >= 400:
        assert isinstance(document, dict), document
        assert isinstance(document.get("error"), str), document
        assert document["error"].strip(), document
    return document


def assert_documented_service(document: Any, namespace: str) -> None:
    """A service as the documented API returns it: every documented attribute, a uuid and the
    resource URI that names it."""
    assert isinstance(document, dict), document
    assert sorted(document) == sorted(DOCUMENTED_ATTRIBUTES)
    assert UUID.match(document["uuid"]), document["uuid"]
    assert document["resource_uri"] == f"/api/app/v1/{namespace}/service/{document['uuid']}/"


# -- the table ----------------------------------------------------------------------------------

# Paths: the list of the module's namespace, and the target service (formatted per request).
LIST = "{list}"
ONE = "{service}"


@dataclass(frozen=True)
class Bad:
    """A request wrong in one way, and the answer it must get: the status code, and a regular
    expression the `error` must match, which names the field, parameter or rule at fault."""

    method: str
    path: str
    status: int
    error: str
    body: bytes | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more of the JSON answer, as is


def bad(
    case: str,
    method: str,
    path: str,
    status: int,
    error: str,
    *,
    json_body: Any = None,
    data: bytes | None = None,
    headers: Mapping[str, str | None] | None = None,
    extra: dict[str, Any] | None = None,
    bug: str | None = None,
) -> Any:
    """One row of the table, `case` its id; `bug`: why the server answers otherwise today."""
    body = data
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    row = Bad(method, path, status, error, body, headers, extra or {})
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(row, id=case, marks=marks)


def created(**fields: Any) -> dict[str, Any]:
    """A create body: a valid image, and the fields given."""
    return {"image": "nginx", **fields}


def port(**fields: Any) -> dict[str, Any]:
    return {"protocol": "tcp", "inner_port": 80, **fields}


OVER_ONE_MIB = b'{"image": "' + b"a" * ONE_MIB + b'"}'
DEEP_AFTER_A_PYTHON_LITERAL = b'{"privileged": True, "labels": ' + b"[" * 1000 + b"]" * 1000 + b"}"
NOT_RUNNING_ALLOWS = {"state": "Not running", "allowed_actions": ["scale", "start", "terminate"]}

BAD_REQUESTS = [
    # -- the body: one JSON object, UTF-8, at most 1 MiB
    bad("malformed JSON", "POST", LIST, 400, r"not valid JSON", data=b'{"image": '),
    bad("body is an array", "POST", LIST, 400, r"must be a JSON object, not an array",
        json_body=[{"image": "nginx"}]),
    bad("body is a string", "PATCH", ONE, 400, r"must be a JSON object, not a string",
        json_body="nginx"),
    bad("body is a number", "POST", LIST, 400, r"must be a JSON object, not a number", data=b"42"),
    bad("body is null", "PATCH", ONE, 400, r"must be a JSON object, not null", data=b"null"),
    bad("empty body on POST", "POST", LIST, 400, r"no body: send a JSON object", data=b""),
    bad("empty body on PATCH", "PATCH", ONE, 400, r"no body: send a JSON object", data=b""),
    bad("blank body on PATCH", "PATCH", ONE, 400, r"no body", data=b" \n\t "),
    bad("non-UTF-8 bytes", "POST", LIST, 400, r"not UTF-8", data=b'{"image": "ngin\xff"}'),
    bad("NaN is not JSON", "POST", LIST, 400, r"NaN is not a JSON number",
        data=b'{"image": "nginx", "memory": NaN}'),
    bad("a lone surrogate", "POST", LIST, 400, r"not Unicode",
        data=b'{"image": "nginx", "nickname": "\\ud800"}'),
    bad("body over 1 MiB on POST", "POST", LIST, 413, r"larger than 1048576 bytes \(1 MiB\)",
        data=OVER_ONE_MIB),
    bad("body over 1 MiB on PATCH", "PATCH", ONE, 413, r"larger than 1048576 bytes",
        data=OVER_ONE_MIB),
    bad("deep nesting after a Python literal", "POST", LIST, 400,
        r"nested more than 64 levels deep", data=DEEP_AFTER_A_PYTHON_LITERAL),
    bad("a number beyond a double", "POST", LIST, 400, r"1e400 is too large a number",
        data=b'{"image": "nginx", "name": "huge-memory", "memory": 1e400}'),
    # -- the fields a request may send
    bad("unknown field on create", "POST", LIST, 400, r'unknown field "colour"',
        json_body=created(colour="blue")),
    bad("unknown field on update", "PATCH", ONE, 400, r'unknown field "replicas"',
        json_body={"replicas": 2}),
    bad("read-only uuid", "POST", LIST, 400, r'"uuid" is read-only',
        json_body=created(uuid=MISSING_UUID)),
    bad("read-only containers", "POST", LIST, 400, r'"containers" is read-only',
        json_body=created(containers=[])),
    bad("read-only state", "PATCH", ONE, 400, r'"state" is read-only',
        json_body={"state": "Running"}),
    bad("read-only resource_uri", "PATCH", ONE, 400, r'"resource_uri" is read-only',
        json_body={"resource_uri": f"/api/app/v1/service/{MISSING_UUID}/"}),
    bad("action field running", "POST", LIST, 400,
        r'"running" is not a create parameter: use the start, stop and redeploy endpoints',
        json_body=created(running=True)),
    bad("action field redeploy", "PATCH", ONE, 400, r'"redeploy" is not an update parameter',
        json_body={"redeploy": {"token": "now"}}),
    # -- image and name
    bad("missing image", "POST", LIST, 400, r'"image" is required', json_body={"name": "web"}),
    bad("image is a number", "POST", LIST, 400, r'"image" must be a string, not a number',
        json_body={"image": 42}),
    bad("image is removed", "PATCH", ONE, 400, r"spec\.image: Required value",
        json_body={"image": None}),
    bad("invalid image reference", "POST", LIST, 400,
        r"spec\.image: .*must be a Docker image reference", json_body={"image": "Not An Image"}),
    bad("invalid name", "POST", LIST, 400, r'"name" "Bad_Name" is not a valid service name',
        json_body=created(name="Bad_Name")),
    bad("name too long", "POST", LIST, 400, r"not a valid service name: .*at most 52 characters",
        json_body=created(name="a" * 53)),
    bad("name is a number", "POST", LIST, 400, r'"name" must be a string, not a number',
        json_body=created(name=7)),
    bad("name change on PATCH", "PATCH", ONE, 400, r'"name" cannot be changed',
        json_body={"name": "renamed"}),
    # -- types and ranges (the CRD's schema, in the API server's words)
    bad("target_num_containers is a string", "POST", LIST, 400,
        r"target_num_containers in body must be of type integer",
        json_body=created(target_num_containers="2")),
    bad("target_num_containers is a string on PATCH", "PATCH", ONE, 400,
        r"target_num_containers in body must be of type integer",
        json_body={"target_num_containers": "3"}),
    bad("negative target_num_containers", "POST", LIST, 400,
        r"target_num_containers in body should be greater than or equal to 0",
        json_body=created(target_num_containers=-1)),
    bad("privileged is a string", "POST", LIST, 400, r"privileged in body must be of type boolean",
        json_body=created(privileged="yes")),
    bad("container_ports is a string", "POST", LIST, 400,
        r'"container_ports" must be a list \(a JSON array\), not a string',
        json_body=created(container_ports="80")),
    bad("container_ports is an object", "POST", LIST, 400, r"container_ports\b.*(array|list)",
        json_body=created(container_ports=port())),
    bad("container_ports is an object on PATCH", "PATCH", ONE, 400,
        r"container_ports\b.*(array|list)", json_body={"container_ports": port()}),
    bad("labels is a list", "PATCH", ONE, 400, r'"labels" must be a JSON object, not an array',
        json_body={"labels": ["a=b"]}),
    bad("inner_port 0", "POST", LIST, 400,
        r"container_ports\[0\]\.inner_port in body should be greater than or equal to 1",
        json_body=created(container_ports=[port(inner_port=0)])),
    bad("inner_port 70000", "POST", LIST, 400,
        r"container_ports\[0\]\.inner_port in body should be less than or equal to 65535",
        json_body=created(container_ports=[port(inner_port=70000)])),
    bad("bad protocol", "POST", LIST, 400,
        r'container_ports\[0\]\.protocol: Unsupported value: "sctp"',
        json_body=created(container_ports=[port(protocol="sctp")])),
    bad("duplicate ports", "POST", LIST, 400, r"container_ports\[1\]: Duplicate value",
        json_body=created(container_ports=[port(), port()])),
    bad("unknown field in a port", "POST", LIST, 400,
        r'unknown field "spec\.container_ports\[0\]\.colour"',
        json_body=created(container_ports=[port(colour="red")])),
    bad("outer_port of an unpublished port", "POST", LIST, 400,
        r"outer_port is the port on the nodes' public interface: it needs published: true",
        json_body=created(container_ports=[port(outer_port=8080, published=False)])),
    bad("env key with a dash", "POST", LIST, 400,
        r"container_envvars\[0\]\.key: .*must be letters, digits and _",
        json_body=created(container_envvars=[{"key": "DB-PASS", "value": "x"}])),
    bad("bad autorestart", "POST", LIST, 400, r'autorestart: Unsupported value: "SOMETIMES"',
        json_body=created(autorestart="SOMETIMES")),
    bad("bad autodestroy", "PATCH", ONE, 400, r'autodestroy: Unsupported value: "NEVER"',
        json_body={"autodestroy": "NEVER"}),
    bad("bad deployment_strategy", "POST", LIST, 400,
        r'deployment_strategy: Unsupported value: "RANDOM"',
        json_body=created(deployment_strategy="RANDOM")),
    bad("bad net", "POST", LIST, 400, r'net: Unsupported value: "overlay"',
        json_body=created(net="overlay")),
    bad("bad pid", "PATCH", ONE, 400, r'pid: Unsupported value: "container"',
        json_body={"pid": "container"}),
    bad("bad tag name", "POST", LIST, 400, r"tags\[0\]\.name: .*must be 1-63 letters",
        json_body=created(tags=[{"name": "no spaces!"}])),
    bad("tag name too long", "PATCH", ONE, 400, r"tags\[0\]\.name: Too long",
        json_body={"tags": [{"name": "t" * 64}]}),
    bad("roles not global", "POST", LIST, 400, r'roles\[0\]: Unsupported value: "admin"',
        json_body=created(roles=["admin"])),
    bad("memory_swap without memory", "POST", LIST, 400, r"memory_swap .*needs memory",
        json_body=created(memory_swap=1024)),
    bad("update to EVERY_NODE", "PATCH", ONE, 400,
        r"cannot be updated to or from a deployment_strategy of EVERY_NODE",
        json_body={"deployment_strategy": "EVERY_NODE"}),
    # -- paths and methods
    bad("unknown path", "GET", "/api/app/v1/nothing/", 404,
        r"no such endpoint: /api/app/v1/nothing/"),
    bad("unknown API version", "GET", "/api/app/v2/service/", 404, r"no such endpoint"),
    bad("unknown action", "POST", ONE + "restart/", 404, r"no such endpoint: .*/restart/"),
    bad("namespace that is not a DNS label", "GET", "/api/app/v1/Not_A_Namespace/service/", 404,
        r"no such endpoint"),
    bad("PUT on a service", "PUT", ONE, 405, r"PUT is not allowed on .*: use DELETE, GET, PATCH",
        json_body={"image": "nginx"}),
    bad("DELETE on the list", "DELETE", LIST, 405, r"DELETE is not allowed on .*: use GET, POST"),
    bad("PATCH on the list", "PATCH", LIST, 405, r"PATCH is not allowed on .*: use GET, POST",
        json_body={}),
    bad("GET on start", "GET", ONE + "start/", 405, r"GET is not allowed on .*/start/: use POST"),
    bad("uuid that is not a uuid", "GET", LIST + "not-a-uuid/", 404,
        r'"not-a-uuid" is not a service uuid \(8-4-4-4-12 hexadecimal digits\)'),
    bad("uuid in capitals", "PATCH", LIST + MISSING_UUID.upper() + "/", 404,
        r"is not a service uuid", json_body={}),
    bad("uuid that does not exist", "GET", LIST + MISSING_UUID + "/", 404,
        rf'no service with uuid "{MISSING_UUID}" in namespace'),
    bad("start a uuid that does not exist", "POST", LIST + MISSING_UUID + "/start/", 404,
        rf'no service with uuid "{MISSING_UUID}"'),
    # -- query parameters
    bad("unknown list parameter", "GET", LIST + "?colour=red", 400,
        r'unknown query parameter "colour": the list takes limit, name, offset'),
    bad("limit not a number", "GET", LIST + "?limit=abc", 400,
        r"limit=abc: must be a whole number from 0 to 1000"),
    bad("limit too large", "GET", LIST + "?limit=5000", 400, r"limit=5000: must be at most 1000"),
    bad("negative offset", "GET", LIST + "?offset=-1", 400, r"offset=-1: must be a whole number"),
    bad("offset a fraction", "GET", LIST + "?offset=1.5", 400, r"offset=1\.5: must be a whole"),
    bad("bad state filter", "GET", LIST + "?state=Sleeping", 400,
        r"state=Sleeping: must be one of Not running, Starting, Running"),
    bad("name filter too long", "GET", LIST + "?name=" + "a" * 254, 400,
        r"name: must be at most 253 characters"),
    bad("bad reuse_volumes", "POST", ONE + "redeploy/?reuse_volumes=maybe", 400,
        r"reuse_volumes=maybe: must be true or false"),
    bad("unknown action parameter", "POST", ONE + "start/?force=1", 400,
        r'unknown query parameter "force" \(this endpoint takes: none\)'),
    bad("unknown get parameter", "GET", ONE + "?force=1", 400,
        r'unknown query parameter "force" \(this endpoint takes: none\)'),
    bad("unknown terminate parameter", "DELETE", ONE + "?force=1", 400,
        r'unknown query parameter "force"'),
    bad("tail not a number", "GET", ONE + "logs/?tail=lots", 400,
        r"tail=lots: must be a whole number from 0 to 100000"),
    bad("tail too large", "GET", ONE + "logs/?tail=1000000", 400,
        r"tail=1000000: must be at most 100000"),
    bad("bad follow", "GET", ONE + "logs/?follow=perhaps", 400,
        r"follow=perhaps: must be true or false"),
    bad("unknown logs parameter", "GET", ONE + "logs/?lines=3", 400,
        r'unknown query parameter "lines" \(this endpoint takes: follow, tail\)'),
    bad("logs without a websocket", "GET", ONE + "logs/", 400,
        r"logs endpoint is a websocket .*Upgrade: websocket"),
    # -- credentials
    bad("no Authorization header", "GET", LIST, 401, r"authentication required: send",
        headers={"Authorization": None}),
    bad("Basic that is not base64", "GET", LIST, 401, r"Basic credentials must be base64",
        headers={"Authorization": "Basic !!not-base64!!"}),
    bad("Basic without an API key", "GET", LIST, 401, r"hold no API key or token",
        headers=basic("")),
    bad("a token with a space", "GET", LIST, 401, r"printable ASCII without spaces",
        headers={"Authorization": "Bearer two words"}),
    bad("bad Bearer token", "GET", LIST, 401, r"the credentials were not accepted",
        headers=bearer("not-a-token")),
    bad("bad API key", "POST", LIST, 401, r"the credentials were not accepted",
        headers=basic("not-a-token"), json_body=created()),
    bad("unknown auth scheme", "GET", LIST, 401, r'unknown authorization scheme "Digest"',
        headers={"Authorization": "Digest username=user"}),
    # -- the documented state table
    bad("stop while Not running", "POST", ONE + "stop/", 409,
        r"cannot stop service \"target\": stop is not allowed while it is Not running",
        extra=NOT_RUNNING_ALLOWS),
    bad("redeploy while Not running", "POST", ONE + "redeploy/", 409,
        r"redeploy is not allowed while it is Not running", extra=NOT_RUNNING_ALLOWS),
]  # fmt: skip


@pytest.mark.parametrize("request_", BAD_REQUESTS)
def test_a_bad_request_is_refused_with_words_that_name_the_fault(
    editor: Client, target: dict[str, Any], request_: Bad
) -> None:
    path = request_.path.format(list=editor.base, service=editor.service(target["uuid"]))
    answer = editor.call(request_.method, path, data=request_.body, headers=request_.headers)
    document = checked_answer(answer)
    assert answer.status_code == request_.status, answer.text[:1000]
    assert re.search(request_.error, document["error"]), document["error"][:1000]
    assert "managedFields" not in document["error"]  # never the stored object's internals
    for key, value in request_.extra.items():
        assert document.get(key) == value, document
    if answer.status_code == 401:
        assert "Basic" in answer.headers["WWW-Authenticate"]
    if answer.status_code == 405:
        assert answer.headers["Allow"], answer.headers


def test_the_table_covers_every_kind_of_bad_input() -> None:
    statuses = {param.values[0].status for param in BAD_REQUESTS}
    assert {400, 401, 404, 405, 409, 413} <= statuses
    assert len(BAD_REQUESTS) >= 40


def test_a_body_nested_near_the_parsers_limit_is_refused_never_a_failure(
    editor: Client, target: dict[str, Any]
) -> None:
    def nested(depth: int, **fields: Any) -> bytes:
        head = json.dumps(fields)[:-1] + (", " if fields else "")
        return (head + '"labels": ' + "[" * depth + "]" * depth + "}").encode()

    def send(method: str, path: str, body: bytes) -> requests.Response:
        return editor.call(method, path, data=body, headers={"Content-Type": "application/json"})

    # The first depth refused as too deep, found in steps; then every depth just below it.
    limit = next(
        depth
        for depth in range(1, 5000, 5)
        if "levels deep" in send("POST", editor.base, nested(depth, image="nginx")).text
    )
    failures = {}
    for depth in range(limit - 40, limit + 1):
        for method, path, body in (
            ("POST", editor.base, nested(depth, image="nginx")),
            ("PATCH", editor.service(target["uuid"]), nested(depth)),
        ):
            answer = send(method, path, body)
            if answer.status_code >= 500:
                failures[(method, depth)] = answer.text
    assert not failures, failures


# -- fuzzing ------------------------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# What a create or update may set, and the other names a client may send: the read-only
# attributes, the actions' fields and the resource's own.
WRITABLE_NAMES = sorted(WRITABLE)
OTHER_NAMES = sorted((set(DOCUMENTED_ATTRIBUTES) | set(ServiceSpec.model_fields)) - WRITABLE)
IMAGES = st.one_of(
    st.sampled_from(["nginx", "redis:7", "tutum/hello-world", "registry.local:5000/team/app:1.0"]),
    st.from_regex(r"[a-z][a-z0-9]{0,12}(:[a-z0-9.]{1,8})?", fullmatch=True),
)
# Of the documented type and range, for the fields the chaos suite's strategies do not cover.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "image": IMAGES,
    "name": st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
    "target_num_containers": st.integers(0, 5),
    "memory": st.integers(1, 2**31 - 1),
    "memory_swap": st.integers(-1, 2**31 - 1),
}


def values_of(name: str) -> st.SearchStrategy[Any]:
    """Values of a field's documented type and range (the server may still refuse some: the
    rules across fields), else any JSON value."""
    if name in PLAUSIBLE:
        return PLAUSIBLE[name]
    try:
        return field_values(name)
    except KeyError:
        return JSON_VALUES


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about one time in `one_in` (the largest draw: hypothesis draws the smallest far
    more often than the others)."""
    return draw(st.integers(1, one_in)) == one_in


@st.composite
def documented_bodies(draw: st.DrawFn, with_image: bool) -> dict[str, Any]:
    """A JSON object of writable fields with values of their types; now and then one of them
    of any other value, a field that is not writable, or an unknown one."""
    names = draw(st.lists(st.sampled_from(WRITABLE_NAMES), max_size=4, unique=True))
    if with_image and not rarely(draw, 8):
        names += ["image", "name"] if draw(st.booleans()) else ["image"]
    body = {name: draw(values_of(name)) for name in names}
    if names and rarely(draw, 3):
        body[draw(st.sampled_from(names))] = draw(JSON_VALUES)
    if rarely(draw, 8):
        body[draw(st.sampled_from(OTHER_NAMES))] = draw(JSON_VALUES)
    if rarely(draw, 8):
        body[draw(st.text(max_size=12))] = draw(JSON_VALUES)
    return body


def bodies(with_image: bool) -> st.SearchStrategy[bytes]:
    """Request bodies: mostly documented objects, else any JSON value, else any bytes."""
    documented = documented_bodies(with_image).map(lambda body: json.dumps(body).encode())
    return st.one_of(
        documented,
        documented,
        documented,
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=64),
    )


STATES = [str(state) for state in State]
QUERY_VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(-5, 2000).map(str),
    st.sampled_from(["true", "", " 7 ", "+3", "1e3", "0x10", "\u0663", "a=b", "a\\", "a,b"]),
)
# Of the parameter's documented kind.
PLAUSIBLE_QUERY_VALUES: dict[str, st.SearchStrategy[str]] = {
    "limit": st.integers(0, 1000).map(str),
    "offset": st.integers(0, 50).map(str),
    "state": st.sampled_from(STATES),
    "uuid": st.uuids().map(str),
    "uuid__startswith": st.text(alphabet="0123456789abcdef-", max_size=8),
    "name": PLAUSIBLE["name"],
    "stack": st.uuids().map(lambda u: f"/api/app/v1/stack/{u}/"),
    "stack__name": PLAUSIBLE["name"],
}


@st.composite
def list_queries(draw: st.DrawFn) -> dict[str, str]:
    """The list's parameters with values of their kind; now and then one of them of any
    other value, or an unknown parameter."""
    names = draw(st.lists(st.sampled_from(sorted(LIST_PARAMETERS)), max_size=4, unique=True))
    query = {name: draw(PLAUSIBLE_QUERY_VALUES[name]) for name in names}
    if names and rarely(draw, 3):
        query[draw(st.sampled_from(names))] = draw(QUERY_VALUES)
    if rarely(draw, 6):
        query[draw(st.text(min_size=1, max_size=10))] = draw(QUERY_VALUES)
    return query


def send_json(caller: Client, method: str, path: str, body: bytes) -> requests.Response:
    return caller.call(method, path, data=body, headers={"Content-Type": "application/json"})


@FUZZ
@given(body=bodies(with_image=True))
def test_no_create_body_makes_the_server_fail(
    editor: Client, api: client.ApiClient, module_namespace: str, body: bytes
) -> None:
    answer = send_json(editor, "POST", editor.base, body)
    document = checked_answer(answer)
    event(f"answered {answer.status_code}")  # in hypothesis' statistics: what was reached
    if answer.ok:
        assert answer.status_code == 201
        assert_documented_service(document, module_namespace)
        assert document["state"] == "Not running"  # created without starting it
        # Terminated at once, so that the next body may take the same name.
        # (Once in a CI run this answered 409 "it is Terminating" for a service just created;
        # not diagnosed. A refusal must still come from the state table, never a 5xx.)
        terminated = editor.call("DELETE", editor.service(document["uuid"]))
        assert terminated.status_code in (202, 409), terminated.text
        assert terminated.status_code == 202 or terminated.json()["allowed_actions"] == []
        release(api, module_namespace, document["name"])


@FUZZ
@given(body=bodies(with_image=False))
def test_no_update_body_makes_the_server_fail(
    editor: Client, module_namespace: str, fuzz_target: dict[str, Any], body: bytes
) -> None:
    answer = send_json(editor, "PATCH", editor.service(fuzz_target["uuid"]), body)
    document = checked_answer(answer)
    event(f"answered {answer.status_code}")  # in hypothesis' statistics: what was reached
    if answer.ok:
        assert answer.status_code == 200
        assert_documented_service(document, module_namespace)
        assert document["uuid"] == fuzz_target["uuid"]


@FUZZ
@given(query=list_queries())
def test_no_list_query_makes_the_server_fail(editor: Client, query: dict[str, str]) -> None:
    answer = editor.call("GET", editor.base, params=query)
    document = checked_answer(answer)
    event(f"answered {answer.status_code}")  # in hypothesis' statistics: what was reached
    if answer.ok:
        assert sorted(document) == ["meta", "objects"]
        assert isinstance(document["objects"], list)
        assert document["meta"]["total_count"] >= len(document["objects"])
