"""`kubectl dcs stack ...`: Docker Cloud's stack commands for Stack resources: `up`, `create`,
`update` (from a stackfile), `ls`, `inspect`, `start`, `stop`, `redeploy`, `terminate` and
`export`; with `--sync`, each waits for the state its action comes to rest in."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid as uuids
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockercloud_operator.cli.cluster import Cluster
from dockercloud_operator.cli.errors import CliError, NotFound
from dockercloud_operator.cli.printing import age, say, short_uuid, table, warn
from dockercloud_operator.documented.lifecycle import (
    STACK_ALLOWED_ACTIONS,
    STACK_RESTING,
)
from dockercloud_operator.documented.stackfile import (
    StackfileError,
    stack_manifest,
    stack_name,
    to_spec,
    to_stackfile,
)
from dockercloud_operator.documented.view import stack_view
from dockercloud_operator.schema.stack import StackState

Object = dict[str, Any]
POLL_INTERVAL = 0.5
LS_HEADERS = ["NAME", "UUID", "STATE", "#SERVICES", "AGE"]


def _stackfile(args: argparse.Namespace) -> tuple[str, Object]:
    """(the stack's name, its spec) from `-f FILE` and `--name`."""
    path = Path(args.file)
    try:
        text = sys.stdin.read() if args.file == "-" else path.read_text()
        folder = Path.cwd().name if args.file == "-" else path.resolve().parent.name
        return stack_name(getattr(args, "name", None) or folder), to_spec(text, os.environ)
    except OSError as error:
        raise CliError(f"cannot read {args.file}: {error}") from None
    except StackfileError as error:
        raise CliError(f"{args.file}: {error}") from None


def _resolve(cluster: Cluster, identifier: str) -> Object:
    try:
        return cluster.get_stack(identifier)
    except NotFound:
        matches = [s for s in cluster.list_stacks()
                   if (s["metadata"].get("uid") or "").startswith(identifier)]  # fmt: skip
        if len(matches) == 1:
            return matches[0]
        if matches:
            names = ", ".join(s["metadata"]["name"] for s in matches)
            raise CliError(
                f'"{identifier}" is the uuid prefix of several stacks: {names}'
            ) from None
        raise NotFound(
            f'stack "{identifier}" not found in namespace "{cluster.namespace}" (by name or uuid)'
        ) from None


def _wait(cluster: Cluster, name: str, resting: StackState | None, generation: int,
          timeout: float) -> bool:  # fmt: skip
    """Until the stack is `resting` at `generation` or later, every service settled (None:
    until it is gone); its state on stderr as it changes."""
    deadline, shown = time.monotonic() + timeout, ""
    while True:
        try:
            stack: Object | None = cluster.get_stack(name)
        except NotFound:
            stack = None
        if stack is None:
            current = "gone"
            if resting is None:
                say(f"{name}: terminated", sys.stderr)
                return True
        else:
            status = stack.get("status") or {}
            current = str(status.get("state") or "(no status yet)")
            seen = int(status.get("observedGeneration") or 0) >= generation
            if (
                resting is not None
                and seen
                and status.get("synchronized")
                and (current == str(resting))
            ):
                say(f"{name}: {current}", sys.stderr)
                return True
        if current != shown:
            say(f"{name}: {current}", sys.stderr)
            shown = current
        if time.monotonic() >= deadline:
            what = f"to be {resting}" if resting else "to be gone"
            warn(f'timed out after {timeout:g}s waiting for stack "{name}" {what}; it is {current}')
            return False
        time.sleep(POLL_INTERVAL)


def _generation(stack: Object) -> int:
    return int(stack.get("metadata", {}).get("generation") or 0)


def _finish(args: argparse.Namespace, cluster: Cluster, stack: Object,
            resting: StackState | None) -> int:  # fmt: skip
    say(stack["metadata"]["name"])
    if args.sync and not _wait(cluster, stack["metadata"]["name"], resting, _generation(stack),
                               args.timeout):  # fmt: skip
        return 1
    return 0


def cmd_stack_up(args: argparse.Namespace, cluster: Cluster) -> int:
    name, spec = _stackfile(args)
    spec["running"] = True
    try:
        existing = cluster.get_stack(name)
    except NotFound:
        created = cluster.create_stack(stack_manifest(name, spec))
        return _finish(args, cluster, created, StackState.RUNNING)
    patched = cluster.patch_stack(existing["metadata"]["name"], {"spec": spec})
    return _finish(args, cluster, patched, StackState.RUNNING)


def cmd_stack_create(args: argparse.Namespace, cluster: Cluster) -> int:
    name, spec = _stackfile(args)
    spec["running"] = False
    created = cluster.create_stack(stack_manifest(name, spec))
    return _finish(args, cluster, created, StackState.NOT_RUNNING)


def cmd_stack_update(args: argparse.Namespace, cluster: Cluster) -> int:
    stack = _resolve(cluster, args.stack)
    args.name = stack["metadata"]["name"]
    _, spec = _stackfile(args)
    patched = cluster.patch_stack(args.name, {"spec": {"services": spec["services"]}})
    state = StackState(stack_view(stack)["state"])
    resting = state if state in (StackState.NOT_RUNNING, StackState.STOPPED) else None
    return _finish(args, cluster, patched, resting or StackState.RUNNING)


def cmd_stack_ls(args: argparse.Namespace, cluster: Cluster) -> int:
    stacks = sorted(cluster.list_stacks(), key=lambda s: s["metadata"]["name"])
    if args.quiet:
        for stack in stacks:
            say(stack["metadata"].get("uid", ""))
        return 0
    now = datetime.now(UTC)
    rows = []
    for stack in stacks:
        view = stack_view(stack)
        count = len((stack.get("spec") or {}).get("services") or [])
        rows.append([view["name"], short_uuid(view["uuid"]), view["state"], str(count),
                     age(stack["metadata"].get("creationTimestamp"), now)])  # fmt: skip
    say(table(LS_HEADERS, rows))
    return 0


def cmd_stack_inspect(args: argparse.Namespace, cluster: Cluster) -> int:
    failed, views = False, []
    for identifier in args.stacks:
        try:
            views.append(stack_view(_resolve(cluster, identifier)))
        except CliError as error:
            warn(str(error))
            failed = True
    if views:
        say(json.dumps(views[0] if len(args.stacks) == 1 else views, indent=2))
    return 1 if failed else 0


def cmd_stack_export(args: argparse.Namespace, cluster: Cluster) -> int:
    stack = _resolve(cluster, args.stack)
    sys.stdout.write(to_stackfile(stack.get("spec") or {}))
    return 0


def _act(args: argparse.Namespace, cluster: Cluster, action: str) -> int:
    failed = False
    for identifier in args.stacks:
        try:
            stack = _resolve(cluster, identifier)
            name = stack["metadata"]["name"]
            state = StackState(stack_view(stack)["state"])
            allowed = STACK_ALLOWED_ACTIONS[state]
            if action not in allowed and not args.force:
                raise CliError(
                    f'cannot {action} stack "{name}": it is {state}; allowed: '
                    f"{', '.join(sorted(allowed)) or 'no action'} (pass --force to {action} it "
                    "anyway)"
                )
            if action == "terminate":
                cluster.delete_stack(name)
                stack["metadata"]["generation"] = 0
            elif action == "redeploy":
                token = {"token": uuids.uuid4().hex, "reuse_volumes": not args.not_reuse_volumes}
                stack = cluster.patch_stack(name, {"spec": {"redeploy": token}})
            else:
                stack = cluster.patch_stack(name, {"spec": {"running": action == "start"}})
            if _finish(args, cluster, stack, STACK_RESTING[action]):
                failed = True
        except CliError as error:
            warn(str(error))
            failed = True
    return 1 if failed else 0


def cmd_stack_start(args: argparse.Namespace, cluster: Cluster) -> int:
    return _act(args, cluster, "start")


def cmd_stack_stop(args: argparse.Namespace, cluster: Cluster) -> int:
    return _act(args, cluster, "stop")


def cmd_stack_redeploy(args: argparse.Namespace, cluster: Cluster) -> int:
    return _act(args, cluster, "redeploy")


def cmd_stack_terminate(args: argparse.Namespace, cluster: Cluster) -> int:
    return _act(args, cluster, "terminate")


def add_stack_commands(stack: argparse.ArgumentParser, *parents: argparse.ArgumentParser) -> None:
    """The `stack` subcommands; `parents`: the connection options, --sync/--timeout, --force."""
    common, sync, force = parents
    commands = stack.add_subparsers(dest="stack_command", required=True, metavar="COMMAND")

    def command(name: str, handler: Any, help: str,
                *extra: argparse.ArgumentParser) -> argparse.ArgumentParser:  # fmt: skip
        sub = commands.add_parser(name, help=help, description=help, parents=[common, *extra])
        sub.set_defaults(handler=handler)
        return sub

    for name, handler, help in (
        ("up", cmd_stack_up, "Create a stack from a stackfile, or update it, and start it"),
        ("create", cmd_stack_create, "Create a stack from a stackfile without starting it"),
    ):
        sub = command(name, handler, help, sync)
        sub.add_argument("-f", "--file", default="docker-cloud.yml",
                         help="the stackfile (default: docker-cloud.yml; - for stdin)")  # fmt: skip
        sub.add_argument("--name", help="the stack's name (default: the stackfile's folder)")
    update = command("update", cmd_stack_update, "Update a stack's services from a stackfile", sync)
    update.add_argument("-f", "--file", default="docker-cloud.yml", help="the stackfile")
    update.add_argument("stack", metavar="STACK", help="a stack's name or uuid")
    ls = command("ls", cmd_stack_ls, "List stacks")
    ls.add_argument("-q", "--quiet", action="store_true", help="print only the stacks' uuids")
    inspect = command("inspect", cmd_stack_inspect, "Get all details of stacks (documented JSON)")
    inspect.add_argument("stacks", nargs="+", metavar="STACK", help="a stack's name or uuid")
    export = command("export", cmd_stack_export, "Print a stack's stackfile")
    export.add_argument("stack", metavar="STACK", help="a stack's name or uuid")
    for name, handler, help in (
        ("start", cmd_stack_start, "Start a stack"),
        ("stop", cmd_stack_stop, "Stop a stack"),
        ("redeploy", cmd_stack_redeploy, "Redeploy a stack's services"),
        ("terminate", cmd_stack_terminate, "Terminate a stack and its services"),
    ):
        sub = command(name, handler, help, sync, force)
        sub.add_argument("stacks", nargs="+", metavar="STACK", help="a stack's name or uuid")
        if name == "redeploy":
            sub.add_argument("--not-reuse-volumes", action="store_true",
                             help="give the new containers fresh volumes")  # fmt: skip
