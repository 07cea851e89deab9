"""The operator's settings: `dockercloud-operator run` flags, each with an environment variable.

A flag wins over its variable, and the variable over the default. `docs/operations.md` lists
them all. Nothing here talks to the cluster; `from_args` only reads the process environment
(and, for the lease's namespace, the service account's namespace file of a pod)."""

from __future__ import annotations

import argparse
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "DOCKERCLOUD_"
LOG_FORMATS = ("full", "plain", "json")
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class SettingsError(ValueError):
    """A flag or variable with a value the operator cannot use; the message names it."""


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = ()  # none: every namespace
    verbose: bool = False
    log_format: str = "full"
    metrics_port: int = 8080  # 0: no metrics server
    health_port: int = 0  # 0: no kopf liveness endpoint
    leader_election: bool = False
    lease_name: str = "dockercloud-operator"
    lease_namespace: str = "default"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    status_hold: float = 1.0
    status_refresh: float = 5.0

    @property
    def liveness_endpoint(self) -> str | None:
        """kopf's health endpoint (`kopf run --liveness`), when a port is set."""
        return f"http://0.0.0.0:{self.health_port}/healthz" if self.health_port else None


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The `run` flags. Their defaults are None, so that `from_args` can tell a flag from an
    absent one and fall back to the environment."""
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NAMESPACE",
        help="watch only this namespace (repeatable; env DOCKERCLOUD_NAMESPACES, comma-separated;"
        " default: all namespaces)",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log at debug level (env DOCKERCLOUD_VERBOSE)",
    )
    run.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="full (default), plain, or json: one JSON object a line (env DOCKERCLOUD_LOG_FORMAT)",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics at :PORT/metrics and a health check at :PORT/healthz;"
        " 0 disables (env DOCKERCLOUD_METRICS_PORT; default 8080)",
    )
    run.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve kopf's liveness endpoint at :PORT/healthz; 0 disables"
        " (env DOCKERCLOUD_HEALTH_PORT; default 0)",
    )
    run.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        help="reconcile only while holding the Lease, so that replicas stand by"
        " (env DOCKERCLOUD_LEADER_ELECTION; default off)",
    )
    run.add_argument(
        "--lease-name",
        metavar="NAME",
        help="the Lease's name (env DOCKERCLOUD_LEASE_NAME; default dockercloud-operator)",
    )
    run.add_argument(
        "--lease-namespace",
        metavar="NAMESPACE",
        help="the Lease's namespace (env DOCKERCLOUD_LEASE_NAMESPACE; default: the pod's"
        " namespace, else default)",
    )
    run.add_argument(
        "--status-hold",
        type=float,
        metavar="SECONDS",
        help="how long a transitional state (Starting, Scaling, Redeploying, Stopping) lasts"
        " before it is written to the status; shorter ones are folded into the next state"
        " (env DOCKERCLOUD_STATUS_HOLD; default 1; 0 writes every state)",
    )
    run.add_argument(
        "--status-refresh",
        type=float,
        metavar="SECONDS",
        help="once a transitional state is written, how often its progress (the counts of"
        " containers) is written while it lasts; its end is written at once"
        " (env DOCKERCLOUD_STATUS_REFRESH; default 5; 0 writes every change)",
    )
    for flag, default, what in (
        ("--lease-duration", 15, "how long a standby waits on a leader that stopped renewing"),
        ("--renew-deadline", 10, "how long a leader tries to renew before it stops"),
        ("--retry-period", 2, "how often the Lease is renewed, or tried"),
    ):
        variable = ENV_PREFIX + flag[2:].upper().replace("-", "_")
        run.add_argument(
            flag, type=float, metavar="SECONDS", help=f"{what} (env {variable}; default {default})"
        )


def from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from parsed `run` flags, else from the environment, else the defaults."""
    env = os.environ if environ is None else environ
    defaults = Settings()

    def pick(flag: object, name: str) -> str | None:
        if flag is not None:
            return str(flag)
        return env.get(ENV_PREFIX + name)

    def number(flag: float | None, name: str, default: float) -> float:
        value = pick(flag, name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise SettingsError(f"{ENV_PREFIX}{name}={value!r} is not a number") from None

    def port(flag: int | None, name: str, default: int) -> int:
        value = number(flag, name, default)
        if value != int(value) or not 0 <= value <= 65535:
            raise SettingsError(f"{name.lower().replace('_', '-')} {value:g} is not a port number")
        return int(value)

    def boolean(flag: bool | None, name: str, default: bool) -> bool:
        if flag is not None:
            return flag
        value = env.get(ENV_PREFIX + name)
        if value is None:
            return default
        if value.strip().lower() in TRUE:
            return True
        if value.strip().lower() in FALSE:
            return False
        raise SettingsError(f"{ENV_PREFIX}{name}={value!r} is not true or false")

    if args.namespace:
        namespaces = tuple(args.namespace)
    else:
        listed = env.get(ENV_PREFIX + "NAMESPACES", "")
        namespaces = tuple(name.strip() for name in listed.split(",") if name.strip())
    log_format = pick(args.log_format, "LOG_FORMAT") or defaults.log_format
    if log_format not in LOG_FORMATS:
        raise SettingsError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")

    settings = Settings(
        namespaces=tuple(dict.fromkeys(namespaces)),
        verbose=boolean(args.verbose or None, "VERBOSE", defaults.verbose),  # a flag only sets
        log_format=log_format,
        metrics_port=port(args.metrics_port, "METRICS_PORT", defaults.metrics_port),
        health_port=port(args.health_port, "HEALTH_PORT", defaults.health_port),
        leader_election=boolean(args.leader_election, "LEADER_ELECTION", False),
        lease_name=pick(args.lease_name, "LEASE_NAME") or defaults.lease_name,
        lease_namespace=pick(args.lease_namespace, "LEASE_NAMESPACE") or own_namespace(env),
        lease_duration=number(args.lease_duration, "LEASE_DURATION", defaults.lease_duration),
        renew_deadline=number(args.renew_deadline, "RENEW_DEADLINE", defaults.renew_deadline),
        retry_period=number(args.retry_period, "RETRY_PERIOD", defaults.retry_period),
        identity=identity(env),
        status_hold=number(args.status_hold, "STATUS_HOLD", defaults.status_hold),
        status_refresh=number(args.status_refresh, "STATUS_REFRESH", defaults.status_refresh),
    )
    if settings.status_hold < 0:
        raise SettingsError(f"status hold {settings.status_hold:g} is negative")
    if settings.status_refresh < 0:
        raise SettingsError(f"status refresh {settings.status_refresh:g} is negative")
    if settings.health_port and settings.health_port == settings.metrics_port:
        raise SettingsError(f"the health and metrics ports are both {settings.health_port}")
    timings = (settings.retry_period, settings.renew_deadline, settings.lease_duration)
    if settings.leader_election and not 0 < timings[0] < timings[1] < timings[2]:
        raise SettingsError(
            "leader election needs 0 < retry period < renew deadline < lease duration, not "
            f"{settings.retry_period:g} < {settings.renew_deadline:g} < "
            f"{settings.lease_duration:g}"
        )
    return settings


def own_namespace(env: Mapping[str, str]) -> str:
    """The namespace the operator runs in: POD_NAMESPACE, else the pod's service account
    namespace, else `default` (a run outside the cluster)."""
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def identity(env: Mapping[str, str]) -> str:
    """Who holds the Lease: the pod (POD_NAME) or host, and a suffix unique to this process, so
    that a restarted container is a new candidate (as client-go names them)."""
    who = env.get("POD_NAME") or socket.gethostname()
    return f"{who}_{uuid.uuid4().hex[:8]}"
