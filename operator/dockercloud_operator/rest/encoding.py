"""JSON in and out of the REST API, by orjson: a list of 1,000 services is several MB of JSON
each way, and the standard library's (de)serialisation was most of what the API added to the
Kubernetes list it translates (`bench/rest_api.py`)."""

from __future__ import annotations

import gc
import json
from typing import Any

import orjson
from aiohttp import web


def loads(text: bytes) -> Any:
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
    try:
        return orjson.dumps(value)
    except TypeError:  # what orjson does not take (an integer past 64 bits, say)
        return json.dumps(value, ensure_ascii=False).encode()


def answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer."""
    return web.Response(
        body=dumps(value), status=status, content_type="application/json", headers=headers
    )
