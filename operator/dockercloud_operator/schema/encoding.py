"""JSON in and out, by orjson, for every part that reads or writes Kubernetes objects: the
operator decodes every watch event and API answer and keeps its children as JSON text, and the
REST API moves lists of thousands of services each way. The standard library's (de)serialisation
was most of what the REST API added to the Kubernetes list it translates (`bench/rest_api.py`),
and 17% of the operator's CPU at 1,000 services (py-spy)."""

from __future__ import annotations

import gc
import json
from typing import Any

import orjson


def loads(text: bytes | str) -> Any:
    """Parsed with the cyclic garbage collector paused: parsing makes no cycles, and the
    hundred thousand containers of a large list would otherwise set off a hundred collections
    (measured: 60 ms of a 1.6 MB list's 66)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return orjson.loads(text)
    finally:
        if collecting:
            gc.enable()


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 (a character outside the Basic Multilingual Plane as itself, not
    as the surrogate pair the standard library escapes it to, which the API server's YAML
    decoder refuses)."""
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson does not take (an integer past 64 bits, say)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
