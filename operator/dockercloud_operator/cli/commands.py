"""The `kubectl dcs` commands: each resolves the named services, checks the documented state
table, changes the Service resource, and with `--sync` waits for the state it leads to."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

from dockercloud_operator.cli.cluster import Cluster, api_error_message
from dockercloud_operator.cli.errors import CliError
from dockercloud_operator.cli.manifest import service_manifest
from dockercloud_operator.cli.printing import (
    PS_HEADERS,
    progress,
    ps_row,
    refusal,
    say,
    table,
    warn,
)
from dockercloud_operator.documented.lifecycle import (
    Action,
    redeploy_patch,
    resting_state,
    settled,
    start_patch,
    state_of,
)
from dockercloud_operator.documented.logs import (
    LogLine,
    container_sources,
    log_message,
    merge_logs,
    natural_order,
    parse_log_line,
)
from dockercloud_operator.documented.naming import valid_name
from dockercloud_operator.documented.view import documented_view
from dockercloud_operator.schema.fields import (
    SERVICE_NAME_MAX,
)
from dockercloud_operator.schema.parts import (
    State,
)

Object = dict[str, Any]
POLL_INTERVAL = 0.5


def wait_until(
    cluster: Cluster, name: str, expected: State | None, generation: int, timeout: float
) -> bool:
    """Waits until the service reports `expected` for `generation` or later (None: until it is
    gone), printing its state and running/target containers on stderr as they change."""
    deadline = time.monotonic() + timeout
    shown = ""
    what = f"to be {expected}" if expected else "to be gone"
    while True:
        service = cluster.get_or_none(name)
        if service is None:
            if expected is None:
                say(f"{name}: terminated", sys.stderr)
                return True
            current = "gone"
        else:
            current = progress(service)
            if expected is not None and settled(service, expected, generation):
                if current != shown:
                    say(f"{name}: {current}", sys.stderr)
                return True
        if current != shown:
            say(f"{name}: {current}", sys.stderr)
            shown = current
        if time.monotonic() >= deadline:
            warn(
                f'timed out after {timeout:g}s waiting for service "{name}" {what}; it is {current}'
            )
            return False
        time.sleep(POLL_INTERVAL)


@dataclass
class _Done:
    name: str
    expected: State | None
    generation: int


def _act(
    args: argparse.Namespace,
    cluster: Cluster,
    action: Action,
    change: Callable[[Object], _Done],
) -> int:
    """Applies `change` to every named service whose state allows `action` (or with --force),
    then with --sync waits for each. Goes on past a failing service; exit code 1 if any did."""
    failed = False
    done: list[_Done] = []
    for identifier in args.names:
        try:
            service = cluster.resolve(identifier)
            name = service["metadata"]["name"]
            refused = refusal(action, state_of(service), name)
            if refused and not args.force:
                raise CliError(refused)
            done.append(change(service))
            say(name)
        except CliError as error:
            warn(str(error))
            failed = True
    if args.sync:
        deadline = time.monotonic() + args.timeout
        for item in done:
            left = max(deadline - time.monotonic(), 0.0)
            if not wait_until(cluster, item.name, item.expected, item.generation, left):
                failed = True
    return 1 if failed else 0


def _generation(service: Object) -> int:
    return int(service.get("metadata", {}).get("generation") or 0)


def cmd_start(args: argparse.Namespace, cluster: Cluster) -> int:
    def start(service: Object) -> _Done:
        patched = cluster.patch(service["metadata"]["name"], start_patch())
        return _Done(patched["metadata"]["name"], State.RUNNING, _generation(patched))

    return _act(args, cluster, Action.START, start)


def cmd_stop(args: argparse.Namespace, cluster: Cluster) -> int:
    def stop(service: Object) -> _Done:
        patched = cluster.patch(service["metadata"]["name"], {"spec": {"running": False}})
        expected = resting_state(False, state_of(service))
        return _Done(patched["metadata"]["name"], expected, _generation(patched))

    return _act(args, cluster, Action.STOP, stop)


def cmd_scale(args: argparse.Namespace, cluster: Cluster) -> int:
    if args.target_num_containers < 0:
        raise CliError("the number of containers cannot be negative")

    def scale(service: Object) -> _Done:
        name = service["metadata"]["name"]
        cluster.scale(name, args.target_num_containers)
        scaled = cluster.get(name)
        expected = resting_state(bool(scaled["spec"].get("running", True)), state_of(service))
        return _Done(name, expected, _generation(scaled))

    return _act(args, cluster, Action.SCALE, scale)


def cmd_redeploy(args: argparse.Namespace, cluster: Cluster) -> int:
    def redeploy(service: Object) -> _Done:
        patched = cluster.patch(
            service["metadata"]["name"], redeploy_patch(not args.not_reuse_volumes)
        )
        expected = resting_state(bool(patched["spec"].get("running", True)), state_of(service))
        return _Done(patched["metadata"]["name"], expected, _generation(patched))

    return _act(args, cluster, Action.REDEPLOY, redeploy)


def cmd_terminate(args: argparse.Namespace, cluster: Cluster) -> int:
    def terminate(service: Object) -> _Done:
        name = service["metadata"]["name"]
        cluster.delete(name)
        return _Done(name, None, 0)

    return _act(args, cluster, Action.TERMINATE, terminate)


def _create(args: argparse.Namespace, cluster: Cluster, running: bool) -> int:
    manifest = service_manifest(args, running)
    name = manifest["metadata"]["name"]
    if not valid_name(name):
        raise CliError(
            f'"{name}" is not a valid service name: lowercase letters, digits and "-", '
            f"starting with a letter, at most {SERVICE_NAME_MAX} characters"
        )
    try:
        created = cluster.create(manifest)
    except CliError as error:
        if "already exists" in str(error) and not args.name:
            raise CliError(f"{error} (the name comes from the image: pass --name)") from None
        raise
    say(name)
    if args.sync:
        expected = resting_state(running, None)
        if not wait_until(cluster, name, expected, _generation(created), args.timeout):
            return 1
    return 0


def cmd_create(args: argparse.Namespace, cluster: Cluster) -> int:
    return _create(args, cluster, running=False)


def cmd_run(args: argparse.Namespace, cluster: Cluster) -> int:
    return _create(args, cluster, running=True)


def cmd_ps(args: argparse.Namespace, cluster: Cluster) -> int:
    selectors = []
    if args.state:
        selectors.append(f"status.state={args.state}")
    if args.name:
        selectors.append(f"metadata.name={args.name}")
    try:
        services = cluster.list_services(args.all_namespaces, ",".join(selectors) or None)
    except CliError as error:
        if args.state and "field label not supported" in str(error):
            raise CliError(
                f"{error}: this API server cannot filter services by state (field selectors on "
                "custom resources need Kubernetes 1.32+ and the current CRD)"
            ) from None
        raise
    services.sort(key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"]))
    if args.quiet:
        for service in services:
            say(service.get("status", {}).get("uuid") or service["metadata"].get("uid", ""))
        return 0
    now = datetime.now(UTC)
    headers = ["NAMESPACE", *PS_HEADERS] if args.all_namespaces else PS_HEADERS
    rows = [ps_row(s, now, args.all_namespaces) for s in services]
    say(table(headers, rows))
    return 0


def cmd_inspect(args: argparse.Namespace, cluster: Cluster) -> int:
    failed = False
    views = []
    for identifier in args.names:
        try:
            views.append(documented_view(cluster.resolve(identifier)))
        except CliError as error:
            warn(str(error))
            failed = True
    if views:
        say(json.dumps(views[0] if len(args.names) == 1 else views, indent=2))
    return 1 if failed else 0


class _LogPrinter:
    """Writes documented log lines from several threads, a whole line at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def write(self, line: LogLine) -> None:
        with self.lock:
            sys.stdout.write(log_message(line) + "\n")
            sys.stdout.flush()


def _follow_pod(
    cluster: Cluster, pod: Any, source: str, tail: int | None, printer: _LogPrinter
) -> None:
    """Streams one container's log until it ends; waits while the container is not started."""
    while True:
        try:
            stream = cluster.follow_pod_log(pod, tail)
        except ApiException as error:
            if error.status == 400 and cluster.pod_exists(pod.metadata.name):
                time.sleep(1)  # the container has not started yet: try again
                continue
            if error.status != 404:
                warn(f"{source}: {api_error_message(error.status, error.body, error.reason, '')}")
            return
        except (TransportError, CliError) as error:
            warn(f"{source}: {error}")
            return
        try:
            for raw in stream:
                text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
                printer.write(parse_log_line(source, text, int(time.time())))
        except (TransportError, OSError) as error:
            warn(f"{source}: the log stream ended: {error}")
        finally:
            stream.release_conn()
        return


def cmd_logs(args: argparse.Namespace, cluster: Cluster) -> int:
    if args.tail < 0:
        raise CliError("--tail cannot be negative")
    service = cluster.resolve(args.name)
    name = service["metadata"]["name"]
    pods = {pod.metadata.name: pod for pod in cluster.pods(name)}
    sources = container_sources(name, pods)
    if not args.follow:
        lines: list[LogLine] = []
        failed = 0
        for pod_name, source in sources.items():
            try:
                text = cluster.pod_log(pods[pod_name], args.tail)
            except CliError as error:
                warn(f"{source} ({pod_name}): no logs: {error}")
                failed += 1
                continue
            lines += [parse_log_line(source, raw) for raw in text.splitlines() if raw]
        for line in merge_logs(lines):
            sys.stdout.write(log_message(line) + "\n")
        sys.stdout.flush()
        return 1 if failed and failed == len(sources) else 0
    printer = _LogPrinter()
    followed: set[str] = set()
    try:
        while True:
            for pod_name in sorted(pods, key=natural_order):
                if pod_name in followed:
                    continue
                if pod_name not in sources:  # a container that came later: the next number
                    sources[pod_name] = f"{name}-{len(sources) + 1}"
                followed.add(pod_name)
                threading.Thread(
                    target=_follow_pod,
                    args=(cluster, pods[pod_name], sources[pod_name], args.tail, printer),
                    daemon=True,
                ).start()
            time.sleep(2)
            pods = {pod.metadata.name: pod for pod in cluster.pods(name)}
    except KeyboardInterrupt:
        return 130
