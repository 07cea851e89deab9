"""The documented REST requests as changes of Service resources, and the documented list's
filters and paging: pure translations the REST API and its tests share.

- A create body (the documented JSON parameters) becomes a Service manifest created without
  starting it (`running: false`, so the service is `Not running`); the documented defaults are
  the CRD's, applied by the API server, except the name (the image without namespace and tag).
- An update body becomes a JSON merge patch of the spec: only the fields sent change, and a
  list sent replaces the list (the documented "This operation replaces the tag list").
- Query parameters are read as the documented clients send them (`true`, `True`, `false`, ...).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import urlencode

from dockercloud_operator.documented.naming import default_name, valid_name
from dockercloud_operator.documented.view import DOCUMENTED_ATTRIBUTES, current_state
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.fields import (
    SERVICE_NAME_MAX,
)
from dockercloud_operator.schema.model import (
    ServiceSpec,
)
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]

# What a request may set: every spec field but the two the actions own.
ACTION_FIELDS = {"running", "redeploy"}
WRITABLE = frozenset(set(ServiceSpec.model_fields) - ACTION_FIELDS - {"name"})
READ_ONLY = frozenset(set(DOCUMENTED_ATTRIBUTES) - WRITABLE - {"name"})
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
MAX_TAIL = 100_000
# The documented list filters, and those the documented clients send when they resolve a name
# or a short uuid.
FILTERS = ("uuid", "uuid__startswith", "state", "name", "stack", "stack__name")
LIST_PARAMETERS = frozenset({*FILTERS, "limit", "offset"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PYTHON_LITERALS = re.compile(r'"(?:[^"\\]|\\.)*"|\b(True|False|None)\b')
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
_PORT_NUMBERS = ("inner_port", "outer_port")
_DIGITS = re.compile(r"[0-9]{1,5}")
MAX_DEPTH = 64  # a service's attributes nest 4 deep; deeper is no service, and costs a stack


class BadRequest(ValueError):
    """A request the API refuses with 400; the message names the field and what is allowed."""


def is_uuid(text: str) -> bool:
    return _UUID.match(text) is not None


# -- bodies -------------------------------------------------------------------------------------


def parse_body(raw: bytes) -> Object:
    """A request body: one JSON object. Python's `True`, `False` and `None` (as the documented
    PATCH example spells them) are read as JSON's `true`, `false` and `null`."""
    if not raw.strip():
        raise BadRequest("the request has no body: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the body is not UTF-8: {error.reason} at byte {error.start}") from None
    if _depth(text) > MAX_DEPTH:
        raise BadRequest(f"the body is nested more than {MAX_DEPTH} levels deep")
    try:
        body = _loads(text)
    except ValueError as error:
        try:
            body = _loads(_PYTHON_LITERALS.sub(_json_literal, text))
        except ValueError:
            raise BadRequest(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object, not {_json_type(body)}")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise BadRequest(f"the body holds text that is not Unicode: {error.reason}") from None
    return body


def _depth(text: str) -> int:
    """How deep the body's arrays and objects nest (brackets in strings not counted)."""
    deepest = depth = 0
    for token in _BRACKETS.findall(text):
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text[:20]} is too large a number")
    return number


def _json_literal(match: re.Match[str]) -> str:
    literal = match[1]
    return {"True": "true", "False": "false", "None": "null"}[literal] if literal else match[0]


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def _json_kind(annotation: Any) -> str | None:
    """ "array" or "object" for a list or mapping attribute (optional or not), else None."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType, Annotated):
        kinds = {_json_kind(a) for a in get_args(annotation) if a is not type(None)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    return {list: "array", dict: "object"}.get(origin)


# Attributes that are lists or mappings: a merge patch would take any other JSON for a nested
# patch, and the API server would answer in words about the patch, not about the attribute.
SHAPES = {
    name: kind
    for name, field in ServiceSpec.model_fields.items()
    if (kind := _json_kind(field.annotation))
}


def _check_fields(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    for key in body:
        if key in allowed:
            shape = SHAPES.get(key)
            value = body[key]
            if shape and value is not None and _json_type(value) != f"an {shape}":
                what_it_is = "a list (a JSON array)" if shape == "array" else "a JSON object"
                raise BadRequest(f'"{key}" must be {what_it_is}, not {_json_type(value)}')
            continue
        if key in READ_ONLY:
            raise BadRequest(f'"{key}" is read-only: the service reports it, it cannot be set')
        if key in ACTION_FIELDS:
            raise BadRequest(
                f'"{key}" is not {what} parameter: use the start, stop and redeploy endpoints'
            )
        raise BadRequest(f'unknown field "{key}": not {what} parameter of the documented API')


def _spec_values(body: Mapping[str, Any]) -> Object:
    """The spec fields of a body, as the documented clients send them: an outer_port means a
    published port (the documented examples give one without `published`, whose default is
    false), and port numbers may come as strings (the docker-cloud CLI sends "80")."""
    spec = dict(body)
    ports = spec.get("container_ports")
    if isinstance(ports, list):
        spec["container_ports"] = [
            _port(port) if isinstance(port, dict) else port for port in ports
        ]
    return spec


def _port(port: Mapping[str, Any]) -> Object:
    port = {
        key: int(value) if key in _PORT_NUMBERS and _DIGITS.fullmatch(str(value)) else value
        for key, value in port.items()
    }
    if port.get("outer_port") is not None and "published" not in port:
        port["published"] = True
    return port


def create_manifest(body: Mapping[str, Any]) -> Object:
    """The Service a create body asks for, created without starting it."""
    _check_fields(body, WRITABLE | {"name"}, "a create")
    image = body.get("image")
    if image is None:
        raise BadRequest('"image" is required: the image to deploy, i.e. tutum/hello-world')
    if not isinstance(image, str):
        raise BadRequest(f'"image" must be a string, not {_json_type(image)}')
    name = body.get("name")
    if name is None:
        name = default_name(image)
    elif not isinstance(name, str):
        raise BadRequest(f'"name" must be a string, not {_json_type(name)}')
    elif not valid_name(name):
        raise BadRequest(
            f'"name" {json.dumps(name)} is not a valid service name: lowercase letters, digits '
            f'and "-", starting with a letter and not ending with "-", at most '
            f"{SERVICE_NAME_MAX} characters"
        )
    spec = {k: v for k, v in _spec_values(body).items() if k != "name" and v is not None}
    spec["running"] = False  # documented: "Creates a new service without starting it."
    return {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}",
        "kind": constants.KIND,
        "metadata": {"name": name},
        "spec": spec,
    }


def update_patch(body: Mapping[str, Any], name: str) -> Object:
    """The merge patch an update body asks for: only the fields sent (null restores the
    default). The name is not an update parameter; sent unchanged, it is accepted."""
    if "name" in body and body["name"] != name:
        raise BadRequest(f'"name" cannot be changed (the service is "{name}")')
    fields = {k: v for k, v in body.items() if k != "name"}
    _check_fields(fields, WRITABLE, "an update")
    return {"spec": _spec_values(fields)}


# -- query parameters ---------------------------------------------------------------------------


def parse_bool(value: str | None, parameter: str, default: bool) -> bool:
    """`true`/`false` in any case (`True`, as Python clients send it), `1`/`0`."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise BadRequest(f"{parameter}={_shown(value)}: must be true or false")


def parse_count(value: str | None, parameter: str, default: int, maximum: int) -> int:
    """A whole number from 0 to `maximum`."""
    if value is None or value == "":
        return default
    if not re.fullmatch(r"\s*\+?[0-9]{1,12}\s*", value):
        raise BadRequest(f"{parameter}={_shown(value)}: must be a whole number from 0 to {maximum}")
    number = int(value)
    if number > maximum:
        raise BadRequest(f"{parameter}={_shown(value)}: must be at most {maximum}")
    return number


def _shown(value: str, most: int = 40) -> str:
    """A value as an error message quotes it: long ones cut short."""
    return value if len(value) <= most else value[:most] + "..."


# -- the list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    """A list request: its filters (those given) and its page."""

    filters: dict[str, str]
    limit: int
    offset: int

    def field_selector(self, by_uuid: bool = True) -> str:
        """The filters the API server can apply itself, as a field selector (the uuid by the
        status the operator writes, unless `by_uuid` is false)."""
        fields = {"name": "metadata.name", "stack": "spec.stack"}
        if by_uuid:
            fields["uuid"] = "status.uuid"
        return ",".join(
            f"{field}={_selector_value(self.filters[key])}"
            for key, field in fields.items()
            if key in self.filters
        )

    def matches(self, service: Object) -> bool:
        """The filters the API server cannot apply: the uuid (metadata.uid, known before the
        operator reports it), its prefix, the stack's name, and the state (the documented
        state, which shows an action the operator has not reported on yet: not always the
        status' own)."""
        uid = service.get("metadata", {}).get("uid", "")
        if "state" in self.filters and str(current_state(service)) != self.filters["state"]:
            return False
        if "uuid" in self.filters and uid != self.filters["uuid"]:
            return False
        if "uuid__startswith" in self.filters and not uid.startswith(
            self.filters["uuid__startswith"]
        ):
            return False
        if "stack__name" in self.filters:
            stack = service.get("spec", {}).get("stack") or ""
            wanted = self.filters["stack__name"]
            labels = service.get("metadata", {}).get("labels") or {}
            named = labels.get(constants.STACK_LABEL) == wanted  # a Stack resource's service
            if not named and stack != wanted and not stack.rstrip("/").endswith(f"/{wanted}"):
                return False
        return True


def _selector_value(value: str) -> str:
    """A value in a field selector, its `\\`, `,` and `=` escaped as the API server reads them."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def list_query(query: Mapping[str, str]) -> ListQuery:
    """A list request's query parameters, checked: unknown ones and bad values are refused."""
    for key in query:
        if key not in LIST_PARAMETERS:
            raise BadRequest(
                f'unknown query parameter "{key}": the list takes '
                + ", ".join(sorted(LIST_PARAMETERS))
            )
    filters = {key: query[key] for key in FILTERS if key in query}
    if "state" in filters and filters["state"] not in {str(s) for s in State}:
        raise BadRequest(
            f"state={_shown(filters['state'])}: must be one of " + ", ".join(str(s) for s in State)
        )
    for key in ("name", "stack", "stack__name", "uuid", "uuid__startswith"):
        if key in filters and len(filters[key]) > 253:
            raise BadRequest(f"{key}: must be at most 253 characters")
    return ListQuery(
        filters=filters,
        limit=parse_count(query.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT) or MAX_LIMIT,
        offset=parse_count(query.get("offset"), "offset", 0, 10**9),
    )


def page_meta(path: str, query: ListQuery, total: int) -> Object:
    """The documented list's `meta`: `next` and `previous` are the URLs of the pages beside
    this one (with the same filters), or null."""

    def url(offset: int) -> str:
        return f"{path}?" + urlencode({**query.filters, "limit": query.limit, "offset": offset})

    following = query.offset + query.limit
    return {
        "limit": query.limit,
        "offset": query.offset,
        "total_count": total,
        "next": url(following) if following < total else None,
        "previous": url(max(query.offset - query.limit, 0)) if query.offset > 0 else None,
    }
