"""The watches of the many objects a service makes (its children and their pods), on the
Kubernetes client itself: a list, then a watch from the list's version, in a thread.

kopf delivers every event through its own machinery (about four times the CPU of decoding it)
and, when a watch breaks, lists the world again without saying what disappeared meanwhile: a
pod deleted while the API server was away stayed in the store for good. Here a broken watch is
resumed from the last version it saw, so no event is lost; only when the API server no longer
has that version (410 Gone) is the kind listed again, and what the new list lacks is delivered
as deleted.

Events reach the asyncio loop through `call_soon_threadsafe`: the store and the queue are
only ever touched from the loop."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dockercloud_operator.controller import metrics
from dockercloud_operator.controller.kube import path
from dockercloud_operator.schema import encoding

logger = logging.getLogger(__name__)
Object = dict[str, Any]
Identity = tuple[str, str]  # (namespace, name)
Deliver = Callable[[str, Object], None]  # (an event's type, the object)
LISTED = "LISTED"  # in the first list (what the watch says afterwards is ADDED or MODIFIED)
DELETED = "DELETED"

# A watch the API server ends after about this long (with jitter, so that they do not all
# end at once), and one silent for longer than READ_TIMEOUT is taken as broken.
WATCH_SECONDS = 300
READ_TIMEOUT = 360
CONNECT_TIMEOUT = 5
# Seconds between tries once the API server stops answering: soon at first, then every 2 s
# (it is back within a second or two of its restart).
BACKOFFS = (0.25, 0.5, 1.0, 2.0)
PAGE = 500  # objects a list request brings: a list of 10,000 pods at once is ~50 MiB of JSON


def identity(body: Object) -> Identity:
    metadata = body.get("metadata", {})
    return (metadata.get("namespace", ""), metadata.get("name", ""))


@dataclass
class Mirror:
    """What a watch has delivered, as the least that says which object it was (its name,
    and the one label that says whose it is): what a new list lacks was deleted meanwhile,
    and is delivered as such."""

    owner_label: str = ""
    known: dict[Identity, str | None] = field(default_factory=dict)  # -> the owner label

    def seen(self, kind: str, body: Object) -> str:
        """Records a watched object; returns the event to deliver."""
        if kind == DELETED:
            self.known.pop(identity(body), None)
        else:
            labels = body.get("metadata", {}).get("labels") or {}
            self.known[identity(body)] = labels.get(self.owner_label)
        return kind

    def forget_unlisted(self, listed: set[Identity]) -> list[tuple[str, Object]]:
        """Once a new list is complete: every known object it lacks, as deleted."""
        gone = [identity for identity in self.known if identity not in listed]
        events = [(DELETED, self._stub(identity)) for identity in gone]
        for identity in gone:
            del self.known[identity]
        return events

    def _stub(self, identity: Identity) -> Object:
        owner = self.known[identity]
        labels = {self.owner_label: owner} if owner is not None else {}
        return {"metadata": {"namespace": identity[0], "name": identity[1], "labels": labels}}


class Informer:
    """Lists, then watches, one kind carrying `selector`, in a namespace or all of them, and
    hands every change to `deliver` on `loop`."""

    def __init__(
        self,
        api: client.ApiClient,
        api_version: str,
        kind: str,
        namespace: str | None,
        selector: str,
        deliver: Deliver,
        loop: asyncio.AbstractEventLoop,
        owner_label: str = "",
        page: int = PAGE,
    ) -> None:
        self.api = api
        self.api_version, self.kind = api_version, kind
        self.url = path(api_version, kind, namespace)
        self.selector = selector
        self.deliver = deliver
        self.loop = loop
        self.mirror = Mirror(owner_label)
        self.page = page
        self.listed = asyncio.Event()  # set (on the loop) once the first list is delivered
        self.lists = 0  # how often the kind was listed (1 unless a version was too old)
        self.version: str | None = None  # the last resource version seen, to watch on from
        self._stop = threading.Event()
        self._response: Any = None
        # Events handed over by the thread, not yet delivered on the loop (`_hand_over`).
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Object]] = []
        self._first_listed = False
        self._wake_pending = False
        self._thread = threading.Thread(
            target=self._run, name=f"watch-{kind.lower()}-{namespace or 'all'}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            try:
                response.shutdown()  # unblocks the read in the thread
            except Exception:
                logger.debug("Closing the %s watch", self.kind, exc_info=True)

    # -- in the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                if self.version is None:
                    self.version = self._list()
                self._watch()
                failures = 0
            except ApiException as error:
                if error.status == 410:  # the version is gone: list again
                    self.version = None
                    continue
                failures += 1
                self._pause(failures, error)
            except Exception as error:  # a broken connection: watch on from the last version
                if self._stop.is_set():
                    return
                failures += 1
                self._pause(failures, error)

    def _pause(self, failures: int, error: BaseException) -> None:
        wait = BACKOFFS[min(failures, len(BACKOFFS)) - 1]
        log = logger.warning if failures % 30 == 1 else logger.debug  # the first, then each minute
        log("The %s watch failed (%s); again in %.2f s.", self.kind, _short(error), wait)
        self._stop.wait(wait)

    def _request(self, query: list[tuple[str, str]], timeout: tuple[float, float]) -> Any:
        params = self.api.param_serialize(
            method="GET",
            resource_path=self.url,
            query_params=[("labelSelector", self.selector), *query],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(*params, _request_timeout=timeout)
        watching = ("watch", "true") in query
        metrics.api_request("WATCH" if watching else "GET", self.url, response.status)
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            raise ApiException(http_resp=response)
        return response

    def _list(self) -> str:
        """Lists the kind a page at a time (a page's bodies are in the store, trimmed, before
        the next is read), then delivers what the list lacks as deleted; returns the list's
        version, to watch from."""
        first = self.lists == 0
        listed: set[Identity] = set()
        page: str | None = None
        while True:
            query = [("limit", str(self.page)), *([("continue", page)] if page else [])]
            response = self._request(query, (CONNECT_TIMEOUT, READ_TIMEOUT))
            response.read()
            body = encoding.loads(response.data)
            items = body.get("items") or []
            listed.update(identity(item) for item in items)
            kind = LISTED if first else "MODIFIED"  # LISTED: the store's start-up listing
            self._hand_over([(self.mirror.seen(kind, item), item) for item in items])
            page = body["metadata"].get("continue")
            if not page:
                break
        self.lists += 1
        self._hand_over(self.mirror.forget_unlisted(listed), first=first)
        return str(body["metadata"]["resourceVersion"])

    def _watch(self) -> None:
        """Watches from the last version seen until the API server ends the watch."""
        seconds = WATCH_SECONDS + random.randint(0, 60)
        query = [
            ("watch", "true"),
            ("resourceVersion", str(self.version)),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(seconds)),
        ]
        response = self._request(query, (CONNECT_TIMEOUT, READ_TIMEOUT))
        self._response = response.response
        try:
            for line in response.response:
                if self._stop.is_set():
                    break
                if not line.strip():
                    continue
                event = encoding.loads(line)
                kind, body = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    raise ApiException(status=body.get("code") or 500, reason=body.get("message"))
                self.version = body.get("metadata", {}).get("resourceVersion") or self.version
                if kind != "BOOKMARK":
                    self._hand_over([(self.mirror.seen(kind, body), body)])
        finally:
            self._response = None
            response.response.release_conn()

    def _hand_over(self, events: list[tuple[str, Object]], first: bool = False) -> None:
        """Queues events for the loop, and wakes it unless a wake-up is on its way already:
        while the loop is busy, events gather and are delivered together (a wake-up is a
        write to the loop's self-pipe and a turn of its selector)."""
        for _, body in events:  # a list's items name neither
            body.setdefault("apiVersion", self.api_version)
            body.setdefault("kind", self.kind)
        with self._lock:
            self._pending.extend(events)
            self._first_listed |= first
            if self._wake_pending:
                return
            self._wake_pending = True
        try:
            self.loop.call_soon_threadsafe(self._delivered)
        except RuntimeError:  # the loop is closed: the operator is gone
            self._stop.set()

    # -- on the loop --------------------------------------------------------------------------

    def _delivered(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            first, self._first_listed = self._first_listed, False
            self._wake_pending = False
        verbose = logger.isEnabledFor(logging.DEBUG)  # (--verbose: a line an event)
        for kind, body in events:
            if verbose:
                metadata = body["metadata"]
                logger.debug("%s %s %s/%s", kind, self.kind, metadata.get("namespace"),
                             metadata.get("name"))  # fmt: skip
            try:
                self.deliver(kind, body)
            except Exception:  # one bad object must not stop the others' events
                logger.exception("Handling a %s event of %s", kind, self.kind)
        if first:
            self.listed.set()


def _short(error: BaseException) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return type(error).__name__
