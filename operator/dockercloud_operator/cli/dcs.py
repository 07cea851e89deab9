"""`kubectl dcs`: the Docker Cloud CLI's `service` commands, for Service resources.

People used to `docker-cloud service ps|inspect|create|run|start|stop|scale|redeploy|terminate|
logs` get the same commands, options and output on Kubernetes: `kubectl dcs ...` (a kubectl
plugin: the console script `kubectl-dcs` on PATH) talks to the cluster of the current kubeconfig
through the official Kubernetes client.

- A service is named by its name, or by its uuid (long or short, as `ps` shows it), as with
  `docker-cloud`.
- The documented actions become spec changes the operator carries out: start and stop set
  `spec.running`, scale goes through the scale subresource, redeploy sets a new
  `spec.redeploy.token`, terminate deletes the resource.
- An action the documentation does not allow in the service's current state (the "Service
  states" table, `ALLOWED_ACTIONS`) is refused, unless `--force` is given.
- `--sync` waits until the operator reports the state the action leads to.
- `logs` prints the documented log lines (`{"type": "log", "source": ..., ...}`).

This module is the command line; `commands` carries the commands out, `cluster` holds every API
call, `manifest` turns options into a spec, `printing` prints. The documented object, states,
names and log lines come from `dockercloud_operator.documented`, shared with the REST API.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from dockercloud_operator.cli.cluster import Cluster
from dockercloud_operator.cli.commands import (
    cmd_create,
    cmd_inspect,
    cmd_logs,
    cmd_ps,
    cmd_redeploy,
    cmd_run,
    cmd_scale,
    cmd_start,
    cmd_stop,
    cmd_terminate,
)
from dockercloud_operator.cli.errors import CliError
from dockercloud_operator.cli.printing import PROG, warn
from dockercloud_operator.cli.stacks import add_stack_commands
from dockercloud_operator.schema import constants
from dockercloud_operator.schema.parts import (
    State,
)

DEFAULT_TAIL = 300  # documented: "Number of lines to show from the end of the logs (default: 300)"
DEFAULT_TIMEOUT = 300.0


def _connection_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """kubectl's options; accepted before and after the command (`kubectl dcs -n x ps`)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--kubeconfig",
        default=default,
        help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)",
    )
    parser.add_argument("--context", default=default, help="the kubeconfig context to use")
    parser.add_argument(
        "-n",
        "--namespace",
        default=default,
        help="the namespace (default: the context's namespace, else default)",
    )


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Docker Cloud's `service` commands for Service resources "
        f"({constants.PLURAL}.{constants.GROUP}), on the cluster of the current kubeconfig.",
    )
    _connection_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _connection_options(common, suppress=True)
    sync = argparse.ArgumentParser(add_help=False)
    sync.add_argument(
        "--sync",
        action="store_true",
        help="wait until the operator reports the resulting state (progress on stderr)",
    )
    sync.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"with --sync, give up after this many seconds (default: {DEFAULT_TIMEOUT:g})",
    )
    force = argparse.ArgumentParser(add_help=False)
    force.add_argument(
        "--force",
        action="store_true",
        help="act even when the documentation does not allow it in the service's state",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, handler: Callable[[argparse.Namespace, Cluster], int], help: str,
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:  # fmt: skip
        sub = commands.add_parser(name, help=help, description=help, parents=[common, *parents])
        sub.set_defaults(handler=handler)
        return sub

    ps = command("ps", cmd_ps, "List services")
    ps.add_argument(
        "-s",
        "--state",
        "--status",
        choices=[str(s) for s in State],
        metavar="STATE",
        help="only services in this state (" + ", ".join(State) + ")",
    )
    ps.add_argument("--name", help="only the service of this name")
    ps.add_argument(
        "-A", "--all-namespaces", action="store_true", help="services of every namespace"
    )
    ps.add_argument("-q", "--quiet", action="store_true", help="print only the services' uuids")

    inspect = command("inspect", cmd_inspect, "Get all details of services (documented JSON)")
    inspect.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")

    for name, handler, help in (
        ("create", cmd_create, "Create a new service without starting it"),
        ("run", cmd_run, "Create and run a new service"),
    ):
        sub = command(name, handler, help, sync)
        _create_options(sub)

    for name, handler, help in (
        ("start", cmd_start, "Start a stopped service"),
        ("stop", cmd_stop, "Stop a running service"),
        ("terminate", cmd_terminate, "Terminate a service (its containers and data go too)"),
    ):
        sub = command(name, handler, help, sync, force)
        sub.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")

    scale = command("scale", cmd_scale, "Scale a service", sync, force)
    scale.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")
    scale.add_argument(
        "target_num_containers", type=int, metavar="N", help="the number of containers"
    )

    redeploy = command(
        "redeploy", cmd_redeploy, "Redeploy a service with its current configuration", sync, force
    )
    redeploy.add_argument("names", nargs="+", metavar="NAME", help="a service's name or uuid")
    redeploy.add_argument(
        "--not-reuse-volumes",
        action="store_true",
        help="give the new containers fresh volumes instead of the old ones' data",
    )

    stack = commands.add_parser(
        "stack", help="Docker Cloud's stack commands, for Stack resources",
        description="Docker Cloud's stack commands, for Stack resources (docs/stacks.md)",
    )  # fmt: skip
    add_stack_commands(stack, common, sync, force)

    logs = command("logs", cmd_logs, "Get the aggregated logs of a service's containers")
    logs.add_argument("name", metavar="NAME", help="a service's name or uuid")
    logs.add_argument("-f", "--follow", action="store_true", help="follow the log output")
    logs.add_argument(
        "-t",
        "--tail",
        type=int,
        default=DEFAULT_TAIL,
        help=f"the last lines of each container to show (default: {DEFAULT_TAIL})",
    )
    return parser


def _create_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("image", help="the image to deploy, i.e. tutum/hello-world or nginx:1.27")
    add("--name", help="the service's name (default: the image without namespace nor tag)")
    add("--nickname", help="a user-friendly name (default: the name)")
    add("-t", "--target-num-containers", type=int, help="the number of containers (default: 1)")
    add("-r", "--run-command", help="the command the containers run (default: the image's)")
    add("--entrypoint", help="the command prefix of the containers (default: the image's)")
    add(
        "-p",
        "--publish",
        action="append",
        metavar="[OUTER:]INNER[/PROTO]",
        help="publish a container port on the nodes, i.e. 8080:80/tcp (repeatable)",
    )
    add(
        "--expose",
        action="append",
        metavar="INNER[/PROTO]",
        help="a port reachable through links, not published (repeatable)",
    )
    add("-e", "--env", action="append", metavar="KEY=VALUE", help="an environment variable")
    add("--env-file", action="append", metavar="FILE", help="a file of KEY=VALUE lines")
    add(
        "--link-service",
        action="append",
        metavar="SERVICE:ALIAS",
        help="link to another service (name or uuid), i.e. mysql:db (repeatable)",
    )
    add(
        "-v",
        "--volume",
        action="append",
        metavar="[HOST:]CONTAINER[:ro]",
        help="a volume: /container_path, or /host_path:/container_path (repeatable)",
    )
    add("--volumes-from", action="append", metavar="SERVICE", help="mount a service's volumes")
    add("--autorestart", choices=["OFF", "ON_FAILURE", "ALWAYS"], help="default: OFF")
    add("--autodestroy", choices=["OFF", "ON_SUCCESS", "ALWAYS"], help="default: OFF")
    add("--autoredeploy", action="store_true", help="redeploy when the image is updated")
    add(
        "--deployment-strategy",
        choices=["EMPTIEST_NODE", "HIGH_AVAILABILITY", "EVERY_NODE"],
        help="container distribution among nodes (default: EMPTIEST_NODE)",
    )
    add("--tag", action="append", help="deploy only to nodes with this tag (repeatable)")
    add("--role", action="append", choices=["global"], help="an API role to grant the service")
    add("--sequential", action="store_true", help="launch and scale containers in sequence")
    add("--privileged", action="store_true", help="give the containers extended privileges")
    add("--net", choices=["bridge", "host"], help="the network mode (default: bridge)")
    add("--pid", choices=["none", "host"], help="the PID namespace mode (default: none)")
    add("--cpushares", type=int, help="relative CPU weight (1024 = one CPU)")
    add("--memory", type=int, help="memory limit in MB")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cluster = Cluster.connect(args.kubeconfig, args.context, args.namespace)
        return int(args.handler(args, cluster))
    except CliError as error:
        warn(str(error))
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
