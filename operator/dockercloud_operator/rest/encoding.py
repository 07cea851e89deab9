"""JSON answers of the REST API (the codec itself is `schema/encoding.py`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from dockercloud_operator.schema.encoding import dumps as dumps
from dockercloud_operator.schema.encoding import loads as loads


def answer(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer."""
    return web.Response(
        body=dumps(value), status=status, content_type="application/json", headers=headers
    )
