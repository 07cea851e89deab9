"""The documented stack endpoints over Stack resources, each request on the caller's token:
list (filters `uuid`, `name`, `state`), create (not started: `Not Running`), get, update
(`services`, `nickname`), `start/`, `stop/`, `redeploy/`, terminate (DELETE) and `export/` (the
stackfile). A request's `services` are each an object with a `name` and either stackfile keys
(as the documented clients send a stackfile's services) or the documented service attributes.
"""

from __future__ import annotations

import uuid as uuids
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dockercloud_operator.documented.lifecycle import STACK_ALLOWED_ACTIONS, STACK_TRANSITIONS
from dockercloud_operator.documented.requests import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadRequest,
    parse_body,
    parse_bool,
)
from dockercloud_operator.documented.stackfile import (
    StackfileError,
    members_from_request,
    stackfile_of,
    to_stackfile,
)
from dockercloud_operator.documented.view import stack_view
from dockercloud_operator.rest import encoding
from dockercloud_operator.rest.errors import ApiError, from_kube
from dockercloud_operator.rest.kube import Kube, KubeError
from dockercloud_operator.rest.services import CONFLICT_RETRIES, Caller
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.stack import StackState

Object = dict[str, Any]
FILTERS = ("uuid", "name", "state")
FIELD_MANAGER = "dockercloud-operator-api"


def stacks_path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/{constants.GROUP}/{constants.VERSION}/namespaces/{namespace}/stacks"
    return f"{path}/{name}" if name else path


class StackResources:
    """The caller's Stack resources in one namespace."""

    def __init__(self, kube: Kube, caller: Caller) -> None:
        self.kube, self.caller = kube, caller

    async def _call(self, method: str, path: str, **options: Any) -> Object:
        try:
            return await self.kube.request(method, path, self.caller.token, **options)
        except KubeError as error:
            raise from_kube(error, self.caller.namespace, what="stack") from None

    async def list(self) -> list[Object]:
        found = await self._call("GET", stacks_path(self.caller.namespace))
        return list(found.get("items") or [])

    async def find(self, uid: str) -> Object:
        for stack in await self.list():
            if stack.get("metadata", {}).get("uid") == uid:
                return stack
        raise ApiError(404, f'no stack with uuid "{uid}" in namespace "{self.caller.namespace}"')

    async def create(self, manifest: Object) -> Object:
        return await self._call(
            "POST", stacks_path(self.caller.namespace),
            params={"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"}, body=manifest,
        )  # fmt: skip

    async def patch(self, stack: Object, patch: Object, guarded: bool = False) -> Object:
        if guarded:
            version = stack["metadata"]["resourceVersion"]
            patch = {**patch, "metadata": {"resourceVersion": version}}
        return await self._call(
            "PATCH", stacks_path(self.caller.namespace, stack["metadata"]["name"]),
            params={"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"}, body=patch,
            content_type="application/merge-patch+json",
        )  # fmt: skip

    async def delete(self, stack: Object) -> Object:
        return await self._call(
            "DELETE", stacks_path(self.caller.namespace, stack["metadata"]["name"]),
            body={"preconditions": {"uid": stack["metadata"]["uid"]}},
        )  # fmt: skip


def _stacks(request: web.Request, takes: frozenset[str] = frozenset()) -> StackResources:
    unknown = sorted(set(request.query) - takes)
    if unknown:
        allowed = ", ".join(sorted(takes)) or "none"
        raise BadRequest(f'unknown query parameter "{unknown[0]}" (this endpoint takes: {allowed})')
    return StackResources(request.app["kube"], request["caller"])


def _members(services: Any) -> list[Object]:
    try:
        return members_from_request(services)
    except StackfileError as error:
        raise BadRequest(str(error)) from None


def _answer(stack: Object, status: int = 200, moving: str | None = None) -> web.Response:
    view = stack_view(stack)
    if moving is not None:
        view["state"] = str(STACK_TRANSITIONS[moving])
    return encoding.answer(view, status)


def _whole_number(query: Any, key: str, default: int, most: int) -> int:
    text = query.get(key)
    if text is None:
        return default
    if not text.isdigit() or int(text) > most:
        raise BadRequest(f"{key}={text}: must be a whole number from 0 to {most}")
    return int(text)


async def list_stacks(request: web.Request) -> web.Response:
    stacks = _stacks(request, frozenset({*FILTERS, "limit", "offset"}))
    limit = _whole_number(request.query, "limit", DEFAULT_LIMIT, MAX_LIMIT) or MAX_LIMIT
    offset = _whole_number(request.query, "offset", 0, 10**9)
    filters = {key: request.query[key] for key in FILTERS if key in request.query}
    if "state" in filters and filters["state"] not in {str(s) for s in StackState}:
        raise BadRequest(f"state={filters['state']}: must be one of "
                         + ", ".join(str(s) for s in StackState))  # fmt: skip
    views = [stack_view(stack) for stack in await stacks.list()]
    views = [v for v in views if all(str(v[key]) == value for key, value in filters.items())]
    views.sort(key=lambda view: str(view["name"]))
    page = views[offset : offset + limit]

    def url(at: int) -> str:
        return f"{request.path}?" + urlencode({**filters, "limit": limit, "offset": at})

    meta = {
        "limit": limit, "offset": offset, "total_count": len(views),
        "next": url(offset + limit) if offset + limit < len(views) else None,
        "previous": url(max(0, offset - limit)) if offset > 0 else None,
    }  # fmt: skip
    return encoding.answer({"meta": meta, "objects": page})


async def create_stack(request: web.Request) -> web.Response:
    body = parse_body(await request.read())
    unknown = sorted(set(body) - {"name", "nickname", "services"})
    if unknown:
        raise BadRequest(f'"{unknown[0]}" is not a stack parameter (name, nickname, services)')
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest("name: required, the stack's name")
    spec: Object = {"services": _members(body.get("services", [])), "running": False}
    if body.get("nickname") is not None:
        spec["nickname"] = body["nickname"]
    manifest = {
        "apiVersion": f"{constants.GROUP}/{constants.VERSION}", "kind": "Stack",
        "metadata": {"name": name}, "spec": spec,
    }  # fmt: skip
    return _answer(await _stacks(request).create(manifest), 201)


async def get_stack(request: web.Request) -> web.Response:
    return _answer(await _stacks(request).find(request.match_info["uuid"]))


async def update_stack(request: web.Request) -> web.Response:
    body = parse_body(await request.read())
    unknown = sorted(set(body) - {"services", "nickname"})
    if unknown:
        raise BadRequest(f'"{unknown[0]}" is not a stack parameter to update (nickname, services)')
    spec: Object = {}
    if "services" in body:
        spec["services"] = _members(body["services"])
    if "nickname" in body:
        spec["nickname"] = body["nickname"]
    stacks = _stacks(request)
    stack = await stacks.find(request.match_info["uuid"])
    return _answer(await stacks.patch(stack, {"spec": spec}) if spec else stack)


def _refuse_unless_allowed(stack: Object, action: str) -> None:
    state = StackState(stack_view(stack)["state"])
    allowed = STACK_ALLOWED_ACTIONS[state]
    if action not in allowed:
        names = sorted(allowed)
        because = (f"{action} is not allowed while it is {state}; allowed: {', '.join(names)}"
                   if names else f"no action is allowed while it is {state}")  # fmt: skip
        raise ApiError(409, f'cannot {action} stack "{stack["metadata"]["name"]}": {because}',
                       state=str(state), allowed_actions=names)  # fmt: skip


async def act_on_stack(request: web.Request) -> web.Response:
    action = request.match_info["action"]
    stacks = _stacks(request, frozenset({"reuse_volumes"} if action == "redeploy" else ()))
    if action == "redeploy":
        reuse = parse_bool(request.query.get("reuse_volumes"), "reuse_volumes", True)
        patch: Object = {"spec": {"redeploy": {"token": uuids.uuid4().hex, "reuse_volumes": reuse}}}
    else:
        patch = {"spec": {"running": action == "start"}}
    for attempt in range(CONFLICT_RETRIES):
        stack = await stacks.find(request.match_info["uuid"])
        _refuse_unless_allowed(stack, action)
        try:
            return _answer(await stacks.patch(stack, patch, guarded=True), 202, action)
        except ApiError as error:
            if error.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def terminate_stack(request: web.Request) -> web.Response:
    stacks = _stacks(request)
    stack = await stacks.find(request.match_info["uuid"])
    _refuse_unless_allowed(stack, "terminate")
    await stacks.delete(stack)
    return _answer(stack, 202, "terminate")


async def export_stack(request: web.Request) -> web.Response:
    """The stackfile: JSON, as the documented clients read it (they print it as YAML), or YAML
    for a caller that accepts it."""
    stack = await _stacks(request).find(request.match_info["uuid"])
    spec = stack.get("spec") or {}
    if "yaml" in request.headers.get("Accept", ""):
        return web.Response(text=to_stackfile(spec), content_type="application/x-yaml")
    return encoding.answer(stackfile_of(spec))
