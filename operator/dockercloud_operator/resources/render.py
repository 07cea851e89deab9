"""`dockercloud-operator render FILE`: the objects the operator would create for the Service
manifests in FILE, offline and deterministically (for GitOps diffs and review in CI)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import replace
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import StringConstraints, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from dockercloud_operator.resources import build
from dockercloud_operator.resources.context import Services, resolve
from dockercloud_operator.schema import constants, model
from dockercloud_operator.schema.fields import (
    SAYS,
)
from dockercloud_operator.schema.model import (
    Service,
)


class RenderError(ValueError):
    """A manifest that is not a valid Service; the message names the document and the field."""


@functools.cache
def _pattern_words() -> dict[str, str]:
    """Each constrained string type's pattern -> the words the API server says for it."""
    words: dict[str, str] = {}
    for value in vars(model).values():
        if get_origin(value) is not Annotated:
            continue
        metadata = get_args(value)[1:]
        patterns = [m.pattern for m in metadata if isinstance(m, StringConstraints)]
        says = [
            m.json_schema_extra[SAYS]
            for m in metadata
            if isinstance(m, FieldInfo) and isinstance(m.json_schema_extra, dict)
        ]
        if patterns and says and isinstance(patterns[0], str):
            words[patterns[0]] = str(says[0])
    return words


def _describe(problem: ErrorDetails) -> str:
    location = ".".join(str(part) for part in problem["loc"])
    pattern = str((problem.get("ctx") or {}).get("pattern"))
    return f"{location}: {_pattern_words().get(pattern, problem['msg'])}"


def parse_services(documents: Iterable[Any], namespace: str | None = None) -> list[Service]:
    services = []
    for number, document in enumerate(documents, start=1):
        if not document:
            continue
        if document.get("kind") != constants.KIND or not str(
            document.get("apiVersion", "")
        ).startswith(f"{constants.GROUP}/"):
            continue  # other objects in the same file are not ours to render
        if namespace:
            document.setdefault("metadata", {})["namespace"] = namespace
        try:
            services.append(Service.model_validate(document))
        except ValidationError as error:
            problems = "; ".join(_describe(problem) for problem in error.errors())
            raise RenderError(f"document {number}: {problems}") from None
    return services


def render(
    text: str, namespace: str | None = None, restart_rules: bool = False
) -> tuple[str, list[str]]:
    """(the objects as a YAML stream, the unsupported attributes as notes), as the operator
    makes them on a cluster that does (`restart_rules`) or does not offer a container's own
    restartPolicy."""
    services = parse_services(yaml.safe_load_all(text), namespace)
    index = Services(services)
    objects: list[Any] = []
    notes: list[str] = []
    for service in services:
        context = replace(resolve(service, index), restart_rules=restart_rules)
        built = build(service, context)
        objects.extend(built.objects)
        notes.extend(f"{service.name}: {problem}" for problem in context.unresolved)
        notes.extend(f"{service.name}: unsupported {finding}" for finding in built.unsupported)
    return yaml.safe_dump_all(objects, sort_keys=False, width=100), notes
