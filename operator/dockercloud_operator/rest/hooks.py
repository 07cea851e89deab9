"""`POST /api/app/v1/[<namespace>/]hooks/registry/`: a registry's push notification redeploys,
on the caller's own token, every service with `autoredeploy: true` whose image was pushed.

Which services: under a namespace, that namespace's; without one, every namespace the caller
may list services in (cluster-wide when allowed, else in each namespace the caller may list,
else in the API's default namespace and the namespace of the caller's ServiceAccount).
A service is redeployed as the documented redeploy does
(`reuse_volumes: true`), only where the caller may patch it and where its state allows a
redeploy; what was skipped is answered with the reason. Each redeploy gets an Event saying which
push caused it (where the caller may create Events).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from dockercloud_operator.documented.lifecycle import Action, redeploy_patch
from dockercloud_operator.documented.registry import Push, parse_notification, updates
from dockercloud_operator.documented.requests import parse_body
from dockercloud_operator.resources.events import event
from dockercloud_operator.rest import encoding
from dockercloud_operator.rest.errors import ApiError, from_kube
from dockercloud_operator.rest.kube import Kube, KubeError
from dockercloud_operator.rest.services import (
    CONFLICT_RETRIES,
    Caller,
    ServiceResources,
    refuse_unless_allowed,
)
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.names import resource_uri

logger = logging.getLogger(__name__)
Object = dict[str, Any]
COMPONENT = "dockercloud-operator-api"
ALL_SERVICES = f"/apis/{constants.GROUP}/{constants.VERSION}/{constants.PLURAL}"


async def _namespaces(kube: Kube, caller: Caller) -> list[str]:
    """The namespaces the caller may list; when they may not, the API's default namespace and,
    for a ServiceAccount's token, the ServiceAccount's own namespace."""
    try:
        found = await kube.request("GET", "/api/v1/namespaces", caller.token)
        return sorted(n["metadata"]["name"] for n in found.get("items") or [])
    except KubeError as error:
        if error.status not in (401, 403):
            raise from_kube(error, caller.namespace) from None
    namespaces = [caller.namespace]
    review = await kube.request(
        "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", caller.token,
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )  # fmt: skip
    user = str(((review.get("status") or {}).get("userInfo") or {}).get("username", ""))
    prefix, _, rest = user.partition("system:serviceaccount:")
    if not prefix and rest.count(":") == 1:
        namespaces.append(rest.split(":")[0])
    return sorted(set(namespaces))


async def _candidates(request: web.Request) -> list[Object]:
    """The services the caller can see where the hook looks."""
    kube: Kube = request.app["kube"]
    caller: Caller = request["caller"]
    if "namespace" in request.match_info:
        listed = await ServiceResources(kube, caller).list()
        return list(listed.get("items") or [])
    try:
        listed = await kube.request("GET", ALL_SERVICES, caller.token)
        return list(listed.get("items") or [])
    except KubeError as error:
        if error.status not in (401, 403):
            raise from_kube(error, caller.namespace) from None
    found: list[Object] = []
    for namespace in await _namespaces(kube, caller):
        try:
            listed = await ServiceResources(kube, Caller(caller.token, namespace)).list()
        except ApiError as error:
            if error.status in (401, 403, 404):
                continue  # not the caller's namespace
            raise
        found += listed.get("items") or []
    return found


def _described(service: Object) -> Object:
    meta = service["metadata"]
    uuid = (service.get("status") or {}).get("uuid") or meta.get("uid")
    return {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uuid": uuid,
        "resource_uri": resource_uri(str(uuid), meta["namespace"]),
    }


async def _redeploy(kube: Kube, token: str, service: Object) -> Object:
    """The documented redeploy, reusing volumes; re-read and checked again on a conflict."""
    namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
    services = ServiceResources(kube, Caller(token, namespace))
    for attempt in range(CONFLICT_RETRIES):
        refuse_unless_allowed(service, Action.REDEPLOY)
        try:
            return await services.patch(service, redeploy_patch(True), guarded=True)
        except ApiError as error:
            if error.status != 409 or attempt == CONFLICT_RETRIES - 1:
                raise
        service = await services.get(name)
    raise AssertionError("unreachable")


async def _record(kube: Kube, token: str, service: Object, push: Push) -> None:
    namespace = service["metadata"]["namespace"]
    body = event(service, "Autoredeploy", f"redeploying: {push.describe()}", "Normal", COMPONENT)
    try:
        await kube.request("POST", f"/api/v1/namespaces/{namespace}/events", token, body=body)
    except KubeError as error:  # news, not state: the redeploy stands without it
        logger.info("No Event for the redeploy of %s/%s: %s", namespace,
                    service["metadata"]["name"], error.message)  # fmt: skip


async def registry_hook(request: web.Request) -> web.Response:
    pushes = parse_notification(parse_body(await request.read()))
    kube: Kube = request.app["kube"]
    token = request["caller"].token
    redeployed, skipped = [], []
    for service in await _candidates(request) if pushes else []:
        spec = service.get("spec") or {}
        push = updates(str(spec.get("image", "")), pushes) if spec.get("autoredeploy") else None
        if push is None or service["metadata"].get("deletionTimestamp"):
            continue
        try:
            await _redeploy(kube, token, service)
        except ApiError as error:
            skipped.append({**_described(service), "image": str(push.image),
                            "reason": error.message})  # fmt: skip
            continue
        await _record(kube, token, service, push)
        redeployed.append({**_described(service), "image": str(push.image)})
    return encoding.answer(
        {
            "pushed": sorted({str(push.image) for push in pushes}),
            "redeployed": redeployed,
            "skipped": skipped,
        }
    )
