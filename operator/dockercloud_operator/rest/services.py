"""The documented service endpoints: each request becomes a few Kubernetes requests on Service
resources, made with the caller's token, and answers with the documented object.

A service is named by its uuid (the resource's metadata.uid). It is found in one request by
the field selector on `status.uuid`; a service the operator has not reported on yet (just
created) is found in the namespace's list instead: two requests at the most, whatever the
number of services.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dockercloud_operator.documented.lifecycle import (
    ALLOWED_ACTIONS,
    TRANSITIONS,
    Action,
    redeploy_patch,
    start_patch,
)
from dockercloud_operator.documented.requests import (
    LIST_PARAMETERS,
    BadRequest,
    ListQuery,
    create_manifest,
    is_uuid,
    list_query,
    page_meta,
    parse_body,
    parse_bool,
    update_patch,
)
from dockercloud_operator.documented.view import documented_view
from dockercloud_operator.rest import encoding
from dockercloud_operator.rest.errors import ApiError, from_kube
from dockercloud_operator.rest.kube import Kube, KubeError, services_path
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]
FIELD_MANAGER = "dockercloud-operator-api"
CONFLICT_RETRIES = 3
SMALL_LIST = 100  # services a list may hold and still be translated without waiting its turn
LARGE_LISTS_AT_ONCE = 2
WHOLE_LIST = 500  # services from which a list is fetched whole


@dataclass(frozen=True)
class Caller:
    """Who asks (their Kubernetes token) and where (the namespace of the path)."""

    token: str
    namespace: str


class ServiceResources:
    """The caller's Service resources in one namespace."""

    def __init__(
        self, kube: Kube, caller: Caller, large_lists: asyncio.Semaphore | None = None
    ) -> None:
        self.kube = kube
        self.caller = caller
        # whole lists are read a few at a time: each holds the namespace in memory
        self.large_lists = large_lists or asyncio.Semaphore(LARGE_LISTS_AT_ONCE)

    async def _call(self, method: str, path: str, **options: Any) -> Object:
        try:
            return await self.kube.request(method, path, self.caller.token, **options)
        except KubeError as error:
            raise from_kube(error, self.caller.namespace) from None

    async def list(self, field_selector: str = "", limit: int | None = None) -> Object:
        params = {}
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit is not None:
            params["limit"] = str(limit)
        return await self._call("GET", services_path(self.caller.namespace), params=params)

    async def get(self, name: str) -> Object:
        return await self._call("GET", services_path(self.caller.namespace, name))

    async def find(self, uuid: str) -> Object:
        """The service of this uuid; 404 when the namespace has none."""
        if not is_uuid(uuid):
            raise ApiError(404, f'"{uuid}" is not a service uuid (8-4-4-4-12 hexadecimal digits)')
        found = await self.list(f"status.uuid={uuid}")
        items = found.get("items") or []
        if not items:  # not reported on yet: its uuid is only in its metadata
            async with self.large_lists:
                everything = await self.list()
                items = [s for s in everything.get("items") or [] if _uid(s) == uuid]
                del everything
        if not items:
            raise ApiError(
                404, f'no service with uuid "{uuid}" in namespace "{self.caller.namespace}"'
            )
        service: Object = items[0]
        return service

    async def create(self, manifest: Object) -> Object:
        return await self._call(
            "POST",
            services_path(self.caller.namespace),
            params={"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"},
            body=manifest,
        )

    async def patch(self, service: Object, patch: Object, guarded: bool = False) -> Object:
        """A JSON merge patch; `guarded`: only if the service is still as it was read."""
        if guarded:
            version = service["metadata"]["resourceVersion"]
            patch = {**patch, "metadata": {**patch.get("metadata", {}), "resourceVersion": version}}
        return await self._call(
            "PATCH",
            services_path(self.caller.namespace, _name(service)),
            params={"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict"},
            body=patch,
            content_type="application/merge-patch+json",
        )

    async def delete(self, service: Object) -> Object:
        return await self._call(
            "DELETE",
            services_path(self.caller.namespace, _name(service)),
            body={"preconditions": {"uid": _uid(service)}},
        )


def _uid(service: Object) -> str:
    return str(service.get("metadata", {}).get("uid", ""))


def _name(service: Object) -> str:
    return str(service["metadata"]["name"])


def answer(service: Object, status: int = 200, moving: Action | None = None) -> web.Response:
    """The documented object; after an accepted action, in the state the action leads through
    (the operator reports it a moment later)."""
    view = documented_view(service)
    if moving is not None:
        view["state"] = str(TRANSITIONS[moving])
    return encoding.answer(view, status)


def state_of_view(service: Object) -> State:
    return State(documented_view(service)["state"])


def refuse_unless_allowed(service: Object, action: Action) -> None:
    """The documented "Service states" table decides: an action it does not allow in the
    service's current state is refused, naming the state and the actions it allows."""
    state = state_of_view(service)
    allowed = ALLOWED_ACTIONS[state]
    if action in allowed:
        return
    if action is Action.SCALE and state is State.SCALING:
        # An update of target_num_containers already scales: the documented clients' save()
        # then scale() finds the service Scaling to the very number it asks for.
        return
    names = sorted(str(a) for a in allowed)
    if names:
        because = f"{action} is not allowed while it is {state}; allowed: {', '.join(names)}"
    else:
        because = f"no action is allowed while it is {state}"
    raise ApiError(
        409,
        f'cannot {action} service "{_name(service)}": {because}',
        state=str(state),
        allowed_actions=names,
    )


# -- handlers -----------------------------------------------------------------------------------


def resources(request: web.Request, takes: frozenset[str] = frozenset()) -> ServiceResources:
    """The caller's services; a query parameter the endpoint does not take is refused."""
    unknown = sorted(set(request.query) - takes)
    if unknown:
        allowed = ", ".join(sorted(takes)) or "none"
        raise BadRequest(f'unknown query parameter "{unknown[0]}" (this endpoint takes: {allowed})')
    return ServiceResources(request.app["kube"], request["caller"], request.app["large_lists"])


async def list_services(request: web.Request) -> web.StreamResponse:
    query = list_query(request.query)
    services = resources(request, LIST_PARAMETERS)
    small = not query.filters and query.offset + query.limit <= SMALL_LIST
    if small:
        return web.Response(body=await _list_body(request, query, services),
                            content_type="application/json")  # fmt: skip
    # A large list is megabytes while it is translated and until the caller has read it: a
    # few at a time keep the server's memory bounded whatever the number of callers (two cores
    # would translate no faster).
    async with request.app["large_lists"]:
        body = await _list_body(request, query, services)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        try:
            await response.write(body)
            await response.write_eof()
        except ConnectionResetError:  # the caller went away: its slot is free again
            pass
    return response


async def _list_body(request: web.Request, query: ListQuery, services: ServiceResources) -> bytes:
    if not query.filters:
        # The API server pages and counts the list: only the services up to this page travel.
        # (Most of a namespace is cheaper whole: a list without a limit comes from the API
        # server's cache, a paged one from etcd.)
        wanted = query.offset + query.limit
        found = await services.list(limit=wanted if wanted < WHOLE_LIST else None)
        items = found.get("items") or []
        remaining = (found.get("metadata") or {}).get("remainingItemCount")
        total = len(items) + int(remaining or 0)
    else:
        found = await services.list(query.field_selector())
        items = [s for s in found.get("items") or [] if query.matches(s)]
        if not items and "uuid" in query.filters:  # not reported on yet: a uuid in metadata only
            found = await services.list(query.field_selector(by_uuid=False))
            items = [s for s in found.get("items") or [] if query.matches(s)]
        total = len(items)
    page = items[query.offset : query.offset + query.limit]
    del found, items  # only the page is kept while it is translated
    meta = page_meta(request.path, query, total)
    return encoding.dumps({"meta": meta, "objects": [documented_view(s) for s in page]})


async def create_service(request: web.Request) -> web.Response:
    manifest = create_manifest(parse_body(await request.read()))
    created = await resources(request).create(manifest)
    return answer(created, 201)


async def get_service(request: web.Request) -> web.Response:
    return answer(await resources(request).find(request.match_info["uuid"]))


async def update_service(request: web.Request) -> web.Response:
    body = parse_body(await request.read())
    services = resources(request)
    service = await services.find(request.match_info["uuid"])
    patched = await services.patch(service, update_patch(body, _name(service)))
    return answer(patched)


async def terminate_service(request: web.Request) -> web.Response:
    services = resources(request)
    service = await services.find(request.match_info["uuid"])
    refuse_unless_allowed(service, Action.TERMINATE)
    deleted = await services.delete(service)
    if deleted.get("kind") != service.get("kind"):  # a Status: it is gone already
        deleted = service
    return answer(deleted, 202, Action.TERMINATE)


def _action_patch(action: Action, request: web.Request) -> Object | None:
    if action is Action.START:
        return start_patch()
    if action is Action.STOP:
        return {"spec": {"running": False}}
    if action is Action.REDEPLOY:
        reuse = parse_bool(request.query.get("reuse_volumes"), "reuse_volumes", True)
        return redeploy_patch(reuse)
    return None  # scale: the operator already scales to target_num_containers


async def act(request: web.Request) -> web.Response:
    action = Action(request.match_info["action"])
    takes = frozenset({"reuse_volumes"} if action is Action.REDEPLOY else ())
    services = resources(request, takes)
    patch = _action_patch(action, request)
    uuid = request.match_info["uuid"]
    for attempt in range(CONFLICT_RETRIES):
        service = await services.find(uuid)
        refuse_unless_allowed(service, action)
        if patch is None:
            return answer(service, 202)
        try:
            patched = await services.patch(service, patch, guarded=True)
            changed = patched["metadata"].get("generation") != service["metadata"].get("generation")
            return answer(patched, 202, action if changed else None)
        except ApiError as error:
            # Changed since it was read: read it again, and check its state again.
            if error.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")
