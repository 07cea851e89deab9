"""kopf handlers: the only layer that talks to the API server.

Every handler registers on `registry`, so the operator (and tests) run exactly this set.
"""

from __future__ import annotations

from typing import Any

import kopf

registry = kopf.OperatorRegistry()


@kopf.on.startup(registry=registry)
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Operator-wide settings."""
    # Watch streams that go silent are reconnected instead of waiting forever.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the current kubeconfig (as kubectl would)."""
    return kopf.login_via_client(**kwargs)
