"""Registry push notifications, and which images they update: the pure part of `autoredeploy`.

Two payloads are read:
- the CNCF distribution registry's notification envelope, `{"events": [...]}`: each event of
  `action: push` whose `target` has a `tag` is a push of `<request.host>/<repository>:<tag>`
  (blob pushes and pushes by digest carry no tag and update no tag);
- the Docker Hub webhook, `{"push_data": {"tag": ...}, "repository": {"repo_name": ...}}`: a
  push of `docker.io/<repo_name>:<tag>`.

Image references are compared as the Docker CLI reads them: no registry means Docker Hub
(`docker.io`, also spelled `index.docker.io` or `registry-1.docker.io`), a Hub name without a
slash is an official image (`library/<name>`), no tag means `latest`, and an image pinned by
digest is never updated by a tag push.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockercloud_operator.documented.requests import BadRequest

Object = dict[str, Any]

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")


@dataclass(frozen=True)
class Image:
    """A tagged image: registry host (lower case, `docker.io` for the Hub), repository, tag."""

    registry: str
    repository: str
    tag: str

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


@dataclass(frozen=True)
class Push:
    """A tag pushed to a registry, and how the notification described it (for the Event)."""

    image: Image
    source: str  # "registry notification" or "Docker Hub webhook"
    digest: str | None = None

    def describe(self) -> str:
        digest = f" ({self.digest})" if self.digest else ""
        return f"{self.image}{digest} pushed (by a {self.source})"


def _registry(host: str) -> str:
    host = host.lower()
    return DOCKER_HUB if host in HUB_ALIASES else host


def _repository(registry: str, path: str) -> str:
    return f"library/{path}" if registry == DOCKER_HUB and "/" not in path else path


def parse_image(reference: str) -> Image | None:
    """The tagged image a service's `image` names; None when it is pinned by digest (a tag
    push never changes it) or is not a reference at all."""
    if "@" in reference:
        return None
    first, slash, rest = reference.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, remainder = _registry(first), rest
    else:
        registry, remainder = DOCKER_HUB, reference
    path, colon, tag = remainder.rpartition(":")
    if not colon or "/" in tag:
        path, tag = remainder, DEFAULT_TAG
    if not _REPOSITORY.fullmatch(path) or not _TAG.fullmatch(tag):
        return None
    return Image(registry, _repository(registry, path), tag)


def _text(value: Any, where: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where} must be a non-empty string")
    return value


def _object(value: Any, where: str) -> Object:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object")
    return value


def _pushed_image(registry: str, repository: str, tag: str, where: str) -> Image:
    registry = _registry(registry)
    if not _REPOSITORY.fullmatch(repository):
        raise BadRequest(f'{where}.repository "{repository}" is not a repository name')
    if not _TAG.fullmatch(tag):
        raise BadRequest(f'{where}.tag "{tag}" is not a tag')
    return Image(registry, _repository(registry, repository), tag)


def _distribution_pushes(events: Any) -> list[Push]:
    if not isinstance(events, list):
        raise BadRequest('"events" must be a list of registry events')
    pushes = []
    for index, raw in enumerate(events):
        where = f"events[{index}]"
        event = _object(raw, where)
        if event.get("action") != "push":
            continue  # pulls, deletes, mounts: nothing to redeploy
        target = _object(event.get("target"), f"{where}.target")
        repository = _text(target.get("repository"), f"{where}.target.repository")
        tag = _text(target.get("tag"), f"{where}.target.tag", required=False)
        if tag is None:
            continue  # a blob, or a manifest pushed by digest: no tag changed
        request = event.get("request")
        host = _object(request, f"{where}.request").get("host") if request is not None else None
        if host is None and isinstance(target.get("url"), str):
            host = re.sub(r"^[a-z]+://", "", target["url"]).split("/", 1)[0]
        host = _text(host, f"{where}.request.host")
        assert repository is not None and host is not None
        image = _pushed_image(host, repository, tag, f"{where}.target")
        digest = target.get("digest") if isinstance(target.get("digest"), str) else None
        pushes.append(Push(image, "registry notification", digest))
    return pushes


def _hub_push(body: Object) -> Push:
    push_data = _object(body.get("push_data"), '"push_data"')
    repository = _object(body.get("repository"), '"repository"')
    name = _text(repository.get("repo_name"), '"repository.repo_name"')
    tag = _text(push_data.get("tag"), '"push_data.tag"', required=False) or DEFAULT_TAG
    assert name is not None
    return Push(_pushed_image(DOCKER_HUB, name, tag, '"repository"'), "Docker Hub webhook")


def parse_notification(body: Any) -> list[Push]:
    """The tag pushes a notification tells of (none for one of pulls only); BadRequest, naming
    the field, for a payload that is neither kind or is malformed."""
    if not isinstance(body, dict):
        raise BadRequest("a registry notification is a JSON object")
    if "events" in body:
        return _distribution_pushes(body["events"])
    if "push_data" in body or "repository" in body:
        return [_hub_push(body)]
    raise BadRequest(
        'not a registry notification: expected "events" (a distribution registry envelope) '
        'or "push_data" and "repository" (a Docker Hub webhook)'
    )


def updates(image: str, pushes: list[Push]) -> Push | None:
    """The push that updates a service's `image`, if any."""
    wanted = parse_image(image)
    return next((push for push in pushes if push.image == wanted), None)
