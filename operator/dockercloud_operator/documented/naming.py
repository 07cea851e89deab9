"""Names as the documented clients give them: the default service name, uuids (long or short)
and service references."""

from __future__ import annotations

import re

from dockercloud_operator.schema.fields import (
    SERVICE_NAME,
    SERVICE_NAME_MAX,
)

_SERVICE_NAME = re.compile(SERVICE_NAME)


def default_name(image: str) -> str:
    """The documented default name: the image without namespace (nor registry, tag or digest),
    made a valid service name (lowercase letters, digits and '-', starting with a letter, at
    most SERVICE_NAME_MAX characters)."""
    reference = image.split("@", 1)[0]
    last = reference.rsplit("/", 1)[-1]
    last = last.split(":", 1)[0]
    name = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")
    if not name:
        return "service"
    if not name[0].isalpha():
        name = f"svc-{name}"
    return name[:SERVICE_NAME_MAX].rstrip("-")


def valid_name(name: str) -> bool:
    return len(name) <= SERVICE_NAME_MAX and _SERVICE_NAME.match(name) is not None


def looks_like_uuid_prefix(identifier: str) -> bool:
    return (
        re.fullmatch(r"[0-9a-f]{4,8}(-[0-9a-f]{0,4}){0,3}(-[0-9a-f]{0,12})?", identifier)
        is not None
    )


def service_reference(identifier: str) -> str:
    """A link or volumes_from target as the spec takes it: a full uuid becomes the service's
    resource URI; a name (or a resource URI) is kept."""
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", identifier):
        return f"/api/app/v1/service/{identifier}/"
    return identifier


def image_name(image: str) -> str:
    """The image with its tag: Docker's `latest` when none is given."""
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last or "@" in last else f"{image}:latest"
