"""The caller's Kubernetes token, from the Authorization header the documented clients send.

- `Basic base64(user:apikey)`: the API key is a Kubernetes bearer token (the user name is not
  checked: Kubernetes knows who the token belongs to);
- `Bearer <token>`;
- what the clients send from `DOCKERCLOUD_AUTH` as it is: one of the above, Tutum's
  `ApiKey user:apikey`, or a bare token.
"""

from __future__ import annotations

import base64
import binascii
import re

SCHEMES_WITH_USER = ("basic",)
PRINTABLE = re.compile(r"[!-~]+")  # printable ASCII, no spaces


class BadCredentials(ValueError):
    """An Authorization header that holds no usable token; the message says why."""


def token_from_header(value: str | None) -> str | None:
    """The bearer token in an Authorization header; None when there is no header."""
    if value is None or not value.strip():
        return None
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    lowered = scheme.lower()
    if lowered == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadCredentials("Basic credentials must be base64 of user:apikey") from None
        return _api_key(decoded)
    if lowered in ("bearer", "jwt", "token"):
        return _token(credentials)
    if lowered == "apikey":
        return _api_key(credentials)
    if not credentials:  # a bare token, as DOCKERCLOUD_AUTH may hold one
        return _token(scheme)
    raise BadCredentials(
        f'unknown authorization scheme "{scheme}": send Basic base64(user:apikey) or Bearer '
        "<token>, where the API key or token is a Kubernetes bearer token"
    )


def _api_key(user_and_key: str) -> str:
    _, colon, key = user_and_key.partition(":")
    return _token(key if colon else user_and_key)


def _token(token: str) -> str:
    token = token.strip()
    if not token:
        raise BadCredentials("the credentials hold no API key or token")
    if not PRINTABLE.fullmatch(token):
        raise BadCredentials("a token is printable ASCII without spaces")
    return token
