"""The `dockercloud-operator` command."""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dockercloud_operator import __version__
from dockercloud_operator.controller.settings import add_run_arguments

M_ARENA_MAX = -8  # glibc's mallopt parameter
GC_THRESHOLD = 10_000  # allocations between young-generation collections (Python's: 700)


def _few_malloc_arenas() -> None:
    """glibc gives threads that allocate at once arenas of their own, up to eight a core, and
    an arena keeps what was freed in it: the API threads would hold tens of MiB between them.
    Two arenas are plenty for threads that mostly wait on the network. (Elsewhere than glibc,
    nothing to do.)"""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 2)


def _collect_less() -> None:
    """What is loaded by now lives as long as the process: no collection need scan it again.
    And young objects are collected less often: the operator makes many (each watch event
    decoded, each status computed), few of them in cycles. Creating 1,000 services, the
    collector took 1.4 of the operator's 10.9 CPU-seconds; with this, 0.5 of 10.1, for 2 MiB
    more at the peak (bench/README.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def _run(args: argparse.Namespace) -> int:
    _few_malloc_arenas()  # before any thread starts
    # Imported here: kopf and the Kubernetes client are heavy, and other commands do not need them.
    import asyncio

    import kopf

    from dockercloud_operator.controller import handlers
    from dockercloud_operator.controller.settings import SettingsError, from_args

    try:
        settings = from_args(args)
    except SettingsError as error:
        print(f"dockercloud-operator run: {error}", file=sys.stderr)
        return 2
    kopf.configure(verbose=settings.verbose, log_format=kopf.LogFormat[settings.log_format.upper()])
    if not settings.verbose:  # a line for every handled watch event is noise
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    namespaces = list(settings.namespaces)
    _collect_less()
    memo = kopf.Memo(namespaces=namespaces or None, settings=settings, stop_flag=asyncio.Event())
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True,  # replicas take turns by a Lease (leader.py), not kopf's peering
        registry=handlers.registry,
        memo=memo,
        stop_flag=memo.stop_flag,
        liveness_endpoint=settings.liveness_endpoint,
    )
    return 1 if memo.get("leadership") and memo.leadership.lost else 0


def _crd(args: argparse.Namespace) -> int:
    if args.kind == "stack":
        from dockercloud_operator.schema.stack_crd import render_yaml
    else:
        from dockercloud_operator.schema.crd import render_yaml

    sys.stdout.write(render_yaml())
    return 0


def _finalizer_policy(args: argparse.Namespace) -> int:
    from dockercloud_operator.schema.admission import GROUP, render_yaml

    sys.stdout.write(render_yaml(f"{GROUP}/{args.api_version}"))
    return 0


def _render(args: argparse.Namespace) -> int:
    from dockercloud_operator.resources.render import RenderError, render

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        output, notes = render(text, args.namespace, args.container_restart_rules)
    except (OSError, RenderError) as error:
        print(f"dockercloud-operator render: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(output)
    for note in notes:
        print(f"# {note}", file=sys.stderr)
    return 0


def _convert(args: argparse.Namespace) -> int:
    import os

    import yaml

    from dockercloud_operator.documented.stackfile import (
        StackfileError,
        stack_manifest,
        stack_name,
        to_spec,
    )

    try:
        if args.file == "-":
            text, folder = sys.stdin.read(), Path.cwd().name
        else:
            path = Path(args.file)
            text, folder = path.read_text(), path.resolve().parent.name
        name = stack_name(args.name or folder)
        spec = to_spec(text, os.environ)
    except (OSError, StackfileError) as error:
        print(f"dockercloud-operator convert: {error}", file=sys.stderr)
        return 1
    manifest = stack_manifest(name, spec, args.namespace)
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False, width=100, allow_unicode=True))
    return 0


def _api(args: argparse.Namespace) -> int:
    from dockercloud_operator.rest.server import Options, listen_address, run, tls_context

    try:
        listen_address(args.listen)
        tls = tls_context(args.tls_cert, args.tls_key)
    except (ValueError, OSError) as error:
        print(f"dockercloud-operator api: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        run(Options(args.namespace, args.kubeconfig, args.request_timeout), args.listen, tls)
    except (OSError, ValueError) as error:  # the port is taken, no cluster CA, no kubeconfig
        print(f"dockercloud-operator api: {error}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockercloud-operator",
        description="Runs Docker Cloud style services on Kubernetes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="run the operator against the cluster of the current kubeconfig"
    )
    add_run_arguments(run)
    run.set_defaults(handler=_run)

    crd = commands.add_parser("crd", help="print a CustomResourceDefinition (kubectl apply -f -)")
    crd.add_argument(
        "--kind", choices=["service", "stack"], default="service", help="default: service"
    )
    crd.set_defaults(handler=_crd)

    policy = commands.add_parser(
        "finalizer-policy",
        help="print the MutatingAdmissionPolicy that gives new Services their finalizer "
        "(saves the operator a write a service; kubectl apply -f -)",
    )
    policy.add_argument(
        "--api-version",
        choices=["v1", "v1beta1"],
        default="v1",
        help="v1 for Kubernetes 1.36+, v1beta1 for 1.34 and 1.35 (with the feature gate on)",
    )
    policy.set_defaults(handler=_finalizer_policy)

    render = commands.add_parser(
        "render", help="print the objects the operator makes for Service manifests, offline"
    )
    render.add_argument("file", help="a YAML file of Service manifests (- for standard input)")
    render.add_argument("-n", "--namespace", help="the namespace to render into")
    render.add_argument(
        "--container-restart-rules",
        action="store_true",
        help="as on a cluster where a container may have its own restartPolicy (Kubernetes' "
        "ContainerRestartRules), which the operator checks at start: autorestart OFF and "
        "ON_FAILURE keep stopped containers stopped",
    )
    render.set_defaults(handler=_render)

    convert = commands.add_parser(
        "convert",
        help="print the Stack resource of a Docker Cloud stackfile (docker-cloud.yml), offline",
    )
    convert.add_argument("file", help="the stackfile (- for standard input)")
    convert.add_argument(
        "--name", help="the stack's name (default: the stackfile's folder, as Docker Cloud did)"
    )
    convert.add_argument("-n", "--namespace", help="the namespace to put in the resource")
    convert.set_defaults(handler=_convert)

    api = commands.add_parser(
        "api",
        help="serve the documented Docker Cloud service REST API over Service resources "
        "(each request made with the caller's own Kubernetes token)",
    )
    api.add_argument(
        "--listen",
        default="127.0.0.1:8080",
        metavar="HOST:PORT",
        help="where to listen (default: 127.0.0.1:8080, loopback only)",
    )
    api.add_argument(
        "-n",
        "--namespace",
        default="default",
        help="the namespace of the un-namespaced paths, /api/app/v1/service/... (default: "
        "default); /api/app/v1/<namespace>/service/... act in <namespace>",
    )
    api.add_argument("--kubeconfig", help="the cluster's kubeconfig (default: in-cluster, else "
                     "$KUBECONFIG or ~/.kube/config); only its server and CA are used")  # fmt: skip
    api.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    api.add_argument("--tls-key", help="the certificate's private key (PEM)")
    api.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds a Kubernetes request may take (default: 30)",
    )
    api.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    api.set_defaults(handler=_api)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
