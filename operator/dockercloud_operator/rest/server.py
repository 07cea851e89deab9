"""`dockercloud-operator api`: the documented Docker Cloud service API over Service resources.

Routes (each also under `/api/app/v1/<namespace>/...`, which acts in that namespace; the
un-namespaced ones act in `--namespace`; the trailing slash is optional):

    GET    /auth                                     are these credentials good?
    GET    /api/app/v1/service/                      list (filters, limit/offset paging)
    POST   /api/app/v1/service/                      create (not started)
    GET    /api/app/v1/service/(uuid)/               get
    PATCH  /api/app/v1/service/(uuid)/               update
    DELETE /api/app/v1/service/(uuid)/               terminate
    POST   /api/app/v1/service/(uuid)/(start|stop|scale|redeploy)/
    GET    /api/app/v1/service/(uuid)/logs/          the stream API (a websocket)
    GET    /healthz, /metrics

The server is a stateless translator: every Kubernetes request it makes carries the caller's
token, so Kubernetes RBAC decides what each caller may do.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from dockercloud_operator.documented.requests import BadRequest
from dockercloud_operator.rest import encoding, hooks, logs, metrics, services, stacks
from dockercloud_operator.rest.auth import BadCredentials, token_from_header
from dockercloud_operator.rest.errors import ApiError, error_response, from_kube
from dockercloud_operator.rest.kube import Cluster, Kube, KubeError, Unreachable
from dockercloud_operator.rest.services import Caller

logger = logging.getLogger(__name__)
GC_THRESHOLD = 20_000  # allocations between young-generation collections (Python's: 700)
MAX_BODY = 1024 * 1024  # 1 MiB: larger bodies are answered 413
NAMESPACE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
UUID = r"[^/]+"
REALM = 'Basic realm="dockercloud-operator", Bearer'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Options:
    namespace: str = "default"
    kubeconfig: str | None = None
    request_timeout: float = 30.0


def _routes(prefix: str) -> list[tuple[str, str, Handler, str]]:
    """(method, path, handler, endpoint name for metrics) under one path prefix."""
    service = f"{prefix}/service"
    one = f"{service}/{{uuid:{UUID}}}"
    stack = f"{prefix}/stack"
    one_stack = f"{stack}/{{uuid:{UUID}}}"
    return [
        ("GET", f"{service}{{slash:/?}}", services.list_services, "list"),
        ("POST", f"{service}{{slash:/?}}", services.create_service, "create"),
        ("GET", f"{one}{{slash:/?}}", services.get_service, "get"),
        ("PATCH", f"{one}{{slash:/?}}", services.update_service, "update"),
        ("DELETE", f"{one}{{slash:/?}}", services.terminate_service, "terminate"),
        ("POST", f"{one}/{{action:start|stop|scale|redeploy}}{{slash:/?}}", services.act, "action"),
        ("GET", f"{one}/logs{{slash:/?}}", logs.stream_logs, "logs"),
        ("POST", f"{prefix}/hooks/registry{{slash:/?}}", hooks.registry_hook, "registry_hook"),
        ("GET", f"{stack}{{slash:/?}}", stacks.list_stacks, "stack_list"),
        ("POST", f"{stack}{{slash:/?}}", stacks.create_stack, "stack_create"),
        ("GET", f"{one_stack}{{slash:/?}}", stacks.get_stack, "stack_get"),
        ("PATCH", f"{one_stack}{{slash:/?}}", stacks.update_stack, "stack_update"),
        ("DELETE", f"{one_stack}{{slash:/?}}", stacks.terminate_stack, "stack_terminate"),
        (
            "POST",
            f"{one_stack}/{{action:start|stop|redeploy}}{{slash:/?}}",
            stacks.act_on_stack,
            "stack_action",
        ),
        ("GET", f"{one_stack}/export{{slash:/?}}", stacks.export_stack, "stack_export"),
    ]


async def check_auth(request: web.Request) -> web.Response:
    """`GET /auth`: 200 with who the token is, or 401."""
    caller: Caller = request["caller"]
    try:
        review = await request.app["kube"].request(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            caller.token,
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
    except KubeError as error:
        raise from_kube(error, caller.namespace) from None
    user = (review.get("status") or {}).get("userInfo") or {}
    return encoding.answer(
        {"user": user.get("username"), "groups": user.get("groups") or [], "authenticated": True}
    )


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def serve_metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def _named(handler: Handler, endpoint: str) -> Handler:
    """`handler`, counted in the metrics as `endpoint`."""

    async def with_name(request: web.Request) -> web.StreamResponse:
        request["endpoint"] = endpoint
        return await handler(request)

    return with_name


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer is counted and timed, and every failure answered as JSON: no traceback
    ever reaches a client."""
    started = time.perf_counter()
    endpoint = request.get("endpoint", "unknown")
    try:
        response = await handler(request)
        status = response.status
    except ApiError as error:
        headers = {"WWW-Authenticate": REALM} if error.status == 401 else None
        response, status = error.response(headers), error.status
    except BadRequest as error:
        response, status = error_response(400, str(error)), 400
    except Unreachable as error:
        response = error_response(503, f"cannot reach the Kubernetes API server: {error}")
        status = 503
    except web.HTTPRequestEntityTooLarge:
        message = f"the body is larger than {MAX_BODY} bytes (1 MiB)"
        response, status = error_response(413, message), 413
    except web.HTTPMethodNotAllowed as error:
        allowed = ", ".join(sorted(error.allowed_methods))
        response = error_response(
            405, f"{request.method} is not allowed on {request.path}: use {allowed}",
            headers={"Allow": allowed},
        )  # fmt: skip
        status = 405
    except web.HTTPNotFound:
        response, status = error_response(404, f"no such endpoint: {request.path}"), 404
    except web.HTTPException as error:
        response = error_response(error.status, error.reason)
        status = error.status
    except Exception:  # a bug: said once in the log, never to the client
        logger.exception("Failed to answer %s %s", request.method, request.path)
        response, status = error_response(500, "internal error (logged by the API server)"), 500
    endpoint = request.get("endpoint", endpoint)
    answered = request.get("answered_at", time.perf_counter())  # a log stream: when it opened
    metrics.REQUESTS.labels(endpoint, request.method, str(status)).inc()
    metrics.LATENCY.labels(endpoint).observe(answered - started)
    return response


def application(options: Options, kube: Kube | None = None) -> web.Application:
    """The API's aiohttp application; `kube` talks to the cluster (made from `options` when
    not given, and started and closed with the application)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[observe])
    app["options"] = options
    app["large_lists"] = asyncio.Semaphore(services.LARGE_LISTS_AT_ONCE)
    app["kube"] = kube or Kube(
        Cluster.from_environment(options.kubeconfig), timeout=options.request_timeout
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        # What is loaded by now lives as long as the process: no collection need scan it
        # again; and young objects are collected less often (lists make many, few in cycles).
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        await app["kube"].start()
        yield
        await app["kube"].close()

    app.cleanup_ctx.append(lifecycle)

    def authenticated(handler: Handler, endpoint: str) -> Handler:
        async def with_caller(request: web.Request) -> web.StreamResponse:
            try:
                token = token_from_header(request.headers.get("Authorization"))
            except BadCredentials as error:
                raise ApiError(401, str(error)) from None
            if token is None:
                raise ApiError(
                    401,
                    "authentication required: send Authorization: Basic base64(user:apikey) or "
                    "Bearer <token>, where the API key or token is a Kubernetes bearer token",
                )
            namespace = request.match_info.get("namespace") or options.namespace
            request["caller"] = Caller(token, namespace)
            return await handler(request)

        return _named(with_caller, endpoint)

    app.router.add_get("/healthz", _named(healthz, "healthz"))
    app.router.add_get("/metrics", _named(serve_metrics, "metrics"))
    app.router.add_get("/auth{slash:/?}", authenticated(check_auth, "auth"))
    for prefix in ("/api/app/v1", f"/api/app/v1/{{namespace:{NAMESPACE}}}"):
        for method, path, handler, endpoint in _routes(prefix):
            app.router.add_route(method, path, authenticated(handler, endpoint))
    return app


def listen_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {text}: must be HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]") or "0.0.0.0", int(port)


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def run(options: Options, listen: str, tls: ssl.SSLContext | None = None) -> None:
    host, port = listen_address(listen)
    app = application(options)
    url = f"{'https' if tls else 'http'}://{host}:{port}"

    logger.info("Starting the REST API at %s (namespace %s)", url, options.namespace)
    web.run_app(
        app, host=host, port=port, ssl_context=tls, access_log=None, print=None,
        handle_signals=True, shutdown_timeout=5,
    )  # fmt: skip
