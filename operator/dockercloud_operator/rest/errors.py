"""Errors as the REST API answers them: a status code and a JSON body `{"error": "..."}` whose
words name what is wrong (the Kubernetes API server's own words where it refused)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dockercloud_operator.rest.encoding import answer
from dockercloud_operator.rest.kube import KubeError
from dockercloud_operator.schema import constants

Object = dict[str, Any]


class ApiError(Exception):
    """An answer other than success, with extra fields for the JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return error_response(self.status, self.message, headers=headers, **self.extra)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return answer({"error": message, **extra}, status, headers)


def from_kube(error: KubeError, namespace: str, what: str = "service") -> ApiError:
    """The answer for a refusal of the Kubernetes API server."""
    details: Object = error.body.get("details") or {}
    if error.status == 401:
        return ApiError(401, f"the credentials were not accepted: {error.message}")
    if error.status == 403:  # its words name the user, the verb, the resource and namespace
        return ApiError(403, error.message)
    if error.status == 404:
        if details.get("kind") == "namespaces":
            return ApiError(404, f'namespace "{details.get("name", namespace)}" not found')
        if details.get("name"):
            return ApiError(404, f'{what} "{details["name"]}" not found in namespace '
                            f'"{namespace}"')  # fmt: skip
        return ApiError(
            503,
            f"the Service resource ({constants.PLURAL}.{constants.GROUP}) is not installed in "
            "this cluster",
        )
    if error.status == 409 and error.reason == "AlreadyExists":
        return ApiError(
            409, f'a service named "{details.get("name", "")}" already exists in namespace '
            f'"{namespace}"'
        )  # fmt: skip
    if error.status in (400, 409, 422):
        causes = [
            {"field": _field(cause.get("field", "")), "message": cause.get("message", "")}
            for cause in details.get("causes") or []
            if isinstance(cause, dict)
        ]
        extra = {"errors": causes} if causes else {}
        return ApiError(400 if error.status == 422 else error.status, error.message, **extra)
    if error.status == 429 or error.status >= 500:
        return ApiError(503, f"the Kubernetes API server is unavailable: {error.message}")
    return ApiError(error.status, error.message)


def _field(path: str) -> str:
    """A cause's field as the documented attribute: `spec.container_ports[0].inner_port` is
    `container_ports[0].inner_port`."""
    return path.lstrip(".").removeprefix("spec.").removeprefix("<nil>")
