"""The `dockercloud-operator` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dockercloud_operator import __version__


def _run(args: argparse.Namespace) -> int:
    # Imported here: kopf and the Kubernetes client are heavy, and other commands do not need them.
    import kopf

    from dockercloud_operator import handlers

    kopf.configure(verbose=args.verbose)
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        standalone=True,
        registry=handlers.registry,
    )
    return 0


def _crd(args: argparse.Namespace) -> int:
    from dockercloud_operator.crd import render_yaml

    sys.stdout.write(render_yaml())
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
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NAMESPACE",
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    run.set_defaults(handler=_run)

    crd = commands.add_parser(
        "crd", help="print the Service CustomResourceDefinition (kubectl apply -f -)"
    )
    crd.set_defaults(handler=_crd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
