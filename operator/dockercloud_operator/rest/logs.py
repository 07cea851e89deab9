"""The stream API: `GET .../service/(uuid)/logs/?tail=N&follow=true|false`, a websocket of
the documented log messages of every container of the service.

First the last `tail` lines of the service (each container's last `tail`, merged in time
order, the last `tail` of those); then, when following, each container's new lines as they
come, and the lines of containers that start later (numbered after the others), until the
client closes the socket. Every pod log is read with the caller's token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from dockercloud_operator.documented.logs import (
    LogLine,
    container_sources,
    has_started,
    log_message,
    merge_logs,
    natural_order,
    parse_log_line,
    service_container,
)
from dockercloud_operator.documented.requests import MAX_TAIL, parse_bool, parse_count
from dockercloud_operator.rest import metrics
from dockercloud_operator.rest.errors import ApiError, from_kube
from dockercloud_operator.rest.kube import Kube, KubeError, Unreachable, pods_path
from dockercloud_operator.rest.services import Caller, resources
from dockercloud_operator.schema import names

logger = logging.getLogger(__name__)
Object = dict[str, Any]
DEFAULT_TAIL = 300  # documented: "Number of lines to show from the end of the logs (default: 300)"
POD_POLL = 2.0  # how often a followed service's pods are listed, for containers that start later
NOT_STARTED_RETRY = 1.0


class LogStream:
    """One client's socket, and the containers followed for it."""

    def __init__(self, kube: Kube, caller: Caller, service: str, socket: web.WebSocketResponse):
        self.kube = kube
        self.caller = caller
        self.service = service
        self.socket = socket
        self.sources: dict[str, str] = {}  # pod name -> the documented source name
        self.last_seen: dict[str, tuple[int, int]] = {}  # pod name -> its last line's time
        self.followers: dict[str, asyncio.Task[None]] = {}
        self._sending = asyncio.Lock()

    async def pods(self) -> list[Object]:
        found = await self.kube.request(
            "GET",
            pods_path(self.caller.namespace),
            self.caller.token,
            params={"labelSelector": names.selector(self.service)},
        )
        return [p for p in found.get("items") or [] if not p["metadata"].get("deletionTimestamp")]

    def _options(self, pod: Object, **extra: str) -> dict[str, str]:
        containers = [c["name"] for c in pod["spec"]["containers"]]
        return {
            "container": service_container(names.workload(self.service), containers),
            "timestamps": "true",
            **extra,
        }

    async def send(self, line: LogLine) -> None:
        async with self._sending:
            await self.socket.send_str(log_message(line))

    async def tail(self, pods: list[Object], tail: int) -> None:
        """The last `tail` lines of the service, oldest first. The containers already running
        are numbered in the order of their pods' names; a pod still starting (one the client's
        own scale-up made while the socket opened, say) gets the next number when it starts."""
        pods = [pod for pod in pods if has_started(pod)]
        self.sources = container_sources(self.service, [p["metadata"]["name"] for p in pods])
        if tail == 0:
            return
        texts = await asyncio.gather(*(self._read(pod, tail) for pod in pods))
        lines: list[LogLine] = []
        for pod, text in zip(pods, texts, strict=True):
            source = self.sources[pod["metadata"]["name"]]
            own = [parse_log_line(source, raw) for raw in text.splitlines() if raw]
            if own:
                self.last_seen[pod["metadata"]["name"]] = own[-1].sort_key()
            lines += own
        for line in merge_logs(lines)[-tail:]:
            await self.send(line)

    async def _read(self, pod: Object, tail: int) -> str:
        try:
            path = pods_path(self.caller.namespace, pod["metadata"]["name"], "log")
            async with self.kube.session.get(
                path,
                params=self._options(pod, tailLines=str(tail)),
                headers={"Authorization": f"Bearer {self.caller.token}"},
            ) as response:
                if response.status >= 400:  # not started yet, or gone: no lines
                    return ""
                return await response.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError):
            return ""

    async def follow(self, since: datetime) -> None:
        """Follows every container, and each new one, until the client goes."""
        while not self.socket.closed:
            try:
                pods = await self.pods()
            except (KubeError, Unreachable) as error:
                logger.info("Log stream of %s: cannot list its pods: %s", self.service, error)
                pods = []
            for pod in sorted(pods, key=lambda p: natural_order(p["metadata"]["name"])):
                name = pod["metadata"]["name"]
                follower = self.followers.get(name)
                if follower is not None and not follower.done():
                    continue
                # A container not followed yet, or whose stream ended while its pod is still
                # here (a log not served yet, a broken stream): followed (again); lines already
                # sent are skipped by their time.
                if name not in self.sources:  # started later: the next number
                    self.sources[name] = f"{self.service}-{len(self.sources) + 1}"
                    start = None
                else:
                    start = since if follower is None else None
                self.followers[name] = asyncio.create_task(self._follow(pod, start))
            await asyncio.sleep(POD_POLL)

    async def _follow(self, pod: Object, since: datetime | None) -> None:
        name = pod["metadata"]["name"]
        source = self.sources[name]
        options = {"follow": "true"}
        if since is not None:  # what the tail sent is skipped below; nothing is missed
            options["sinceTime"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        while not self.socket.closed:
            try:
                response = await self.kube.open_stream(
                    pods_path(self.caller.namespace, name, "log"),
                    self.caller.token,
                    self._options(pod, **options),
                )
            except KubeError as error:
                if error.status == 400:  # the container has not started yet
                    await asyncio.sleep(NOT_STARTED_RETRY)
                    continue
                return
            except Unreachable:
                return
            try:
                async for raw in response.content:
                    line = parse_log_line(source, raw.decode("utf-8", errors="replace"))
                    if line.sort_key() <= self.last_seen.get(name, (-1, -1)):
                        continue
                    self.last_seen[name] = line.sort_key()
                    await self.send(line)
            except (aiohttp.ClientError, ConnectionResetError, TimeoutError, ValueError):
                pass  # the stream broke (a line too long to read, say): this container ends
            finally:
                response.release()
            return

    async def close(self) -> None:
        for task in self.followers.values():
            task.cancel()
        for task in self.followers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def stream_logs(request: web.Request) -> web.StreamResponse:
    services = resources(request, frozenset({"tail", "follow"}))
    tail = parse_count(request.query.get("tail"), "tail", DEFAULT_TAIL, MAX_TAIL)
    follow = parse_bool(request.query.get("follow"), "follow", True)
    service = await services.find(request.match_info["uuid"])
    socket = web.WebSocketResponse(heartbeat=30)
    if not socket.can_prepare(request).ok:
        raise ApiError(
            400,
            "the logs endpoint is a websocket (the stream API): connect with Upgrade: websocket",
        )
    caller: Caller = request["caller"]
    name = service["metadata"]["name"]
    await socket.prepare(request)
    request["answered_at"] = time.perf_counter()
    metrics.LOG_STREAMS.inc()
    stream = LogStream(request.app["kube"], caller, name, socket)
    following: asyncio.Task[None] | None = None
    try:
        since = datetime.now(UTC) - timedelta(seconds=1)
        try:
            await stream.tail(await stream.pods(), tail)
        except KubeError as error:
            refused = from_kube(error, caller.namespace, "pod")
            await socket.send_json({"type": "error", "error": refused.message})
            return socket
        except Unreachable as error:
            message = f"cannot reach the Kubernetes API server: {error}"
            await socket.send_json({"type": "error", "error": message})
            return socket
        if not follow:
            return socket
        following = asyncio.create_task(stream.follow(since))
        async for _ in socket:  # until the client closes; what it sends is not read
            pass
        return socket
    except ConnectionResetError:  # the client went away mid-send
        return socket
    finally:
        if following is not None:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
        await stream.close()
        await socket.close()
        metrics.LOG_STREAMS.dec()
