"""`make chaos`: the fault suite on a local control plane of its own.

    .venv/bin/python -m chaos.run                         # the default sizes (long)
    .venv/bin/python -m chaos.run --services 60 --rounds 8 --examples 400
    .venv/bin/python -m chaos.run --only kills,fuzz --seed 7

Prints the report and writes it as JSON (`--report`, default chaos/results/report.json); the
operator's and the control plane's logs are copied next to it (`chaos/results/logs/`). Exits
1 when a check failed. KUBECONFIG is ignored: the faults stop the control plane's processes,
so the suite always starts its own (on loopback ports)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos import rest_load, scenarios, specs
from chaos.bed import Bed
from chaos.report import RESULTS, Report, ScenarioResult
from testbed.controlplane import signals_raise

SCENARIOS = (
    "kills", "ha", "stacks", "outage", "conflicts", "fuzz", "rest", "deletions", "findings",
)  # fmt: skip


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    add("--seed", type=int, default=None, help="random seed (default: from the clock)")
    add("--services", type=int, default=200, help="kills: services rolling out (200)")
    add("--rounds", type=int, default=20, help="kills: SIGKILL rounds (20)")
    add("--max-delay", type=float, default=4.0, help="kills: longest wait before a kill (4s)")
    add("--verify-every", type=int, default=0, help="kills: full check every N rounds (0: end)")
    add("--ha-services", type=int, default=60, help="ha: services of the two replicas (60)")
    add("--ha-rounds", type=int, default=10, help="ha: SIGKILLs of the leader (10)")
    add("--stack-services", type=int, default=20, help="stacks: services in the stack (20)")
    add("--outage-services", type=int, default=40, help="outage: services (40)")
    add("--down", type=float, default=5.0, help="outage: seconds each outage lasts (5)")
    add(
        "--outages",
        default=",".join(scenarios.DEFAULT_OUTAGES),
        help=f"outage: which, in order, of {', '.join(scenarios.OUTAGES)}",
    )
    add("--conflict-services", type=int, default=20, help="conflicts: services (20)")
    add("--conflict-seconds", type=float, default=30.0, help="conflicts: writers run (30s)")
    add("--examples", type=int, default=10000, help="fuzz: hypothesis examples (10000)")
    add("--batch", type=int, default=25, help="fuzz: accepted specs checked at a time (25)")
    add(
        "--big-target",
        type=int,
        default=specs.BIG_TARGET,
        help=f"fuzz: largest target_num_containers of a stopped service ({specs.BIG_TARGET})",
    )
    add("--rest-services", type=int, default=40, help="rest: services written through it (40)")
    add("--rest-seconds", type=float, default=60.0, help="rest: the load runs (60s)")
    add("--deletion-services", type=int, default=40, help="deletions: services (40)")
    add("--bound", type=float, default=60.0, help="deletions: seconds a deletion may take (60)")
    add("--timeout", type=float, default=600.0, help="seconds to converge after faults (600)")
    add(
        "--skip-mutations",
        default="",
        metavar="KINDS",
        help=f"roll-out changes to leave out, comma-separated, of {', '.join(specs.MUTATIONS)}",
    )
    add(
        "--keep-controllers",
        action="store_true",
        help="outage: leave kube-controller-manager, kube-scheduler and kwok running through an "
        "API server restart (by default they are started afresh once it is back)",
    )
    add("--report", type=Path, default=RESULTS / "report.json", help="where the JSON goes")
    add("--workdir", type=Path, help="the control plane's folder (default: a temporary one)")
    add("--keep", action="store_true", help="keep the workdir")
    add(
        "--keep-bed",
        action="store_true",
        help="when a check fails, keep the control plane and the operator running, print the "
        "kubeconfig, and wait for Ctrl-C (to look at what failed with kubectl)",
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if set(args.outages.split(",")) - set(scenarios.OUTAGES):
        parser.error(f"unknown outages in {args.outages!r}")
    skipped = {kind for kind in args.skip_mutations.split(",") if kind}
    if skipped - set(specs.MUTATIONS):
        parser.error(f"unknown mutations: {', '.join(sorted(skipped - set(specs.MUTATIONS)))}")
    specs.SKIPPED_MUTATIONS.update(skipped)
    if not 0 <= args.big_target <= specs.BIG_TARGET:
        parser.error(f"--big-target must be from 0 to {specs.BIG_TARGET}")
    specs.BIG_TARGET = args.big_target
    return args


Run = tuple[str, Callable[..., None], dict[str, Any]]


def plan(args: argparse.Namespace, rng: random.Random, seed: int) -> list[Run]:
    """(title, scenario function of (bed, result, **sizes), sizes) for each one asked for."""
    runs: dict[str, Run] = {
        "kills": ("operator SIGKILL", scenarios.operator_kills, dict(
            services=args.services, rounds=args.rounds, rng=rng, timeout=args.timeout,
            max_delay=args.max_delay, verify_every=args.verify_every)),
        "ha": ("leader SIGKILL", scenarios.leader_kills, dict(
            services=args.ha_services, rounds=args.ha_rounds, rng=rng, timeout=args.timeout)),
        "stacks": ("stacks under SIGKILL", scenarios.stack_kills, dict(
            services=args.stack_services, rng=rng, timeout=args.timeout)),
        "outage": ("control plane outage", scenarios.control_plane_outage, dict(
            services=args.outage_services, rng=rng, down=args.down, timeout=args.timeout,
            phases=args.outages.split(","))),
        "conflicts": ("conflicting writers", scenarios.conflicting_writers, dict(
            services=args.conflict_services, seconds=args.conflict_seconds, rng=rng,
            timeout=args.timeout)),
        "fuzz": ("spec fuzzing", scenarios.spec_fuzz, dict(
            examples=args.examples, seed=seed, batch=args.batch)),
        "rest": ("REST API under load", rest_load.rest_under_load, dict(
            services=args.rest_services, seconds=args.rest_seconds, rng=rng,
            timeout=args.timeout)),
        "deletions": ("deletions", scenarios.deletions, dict(
            services=args.deletion_services, rng=rng, bound=args.bound, timeout=args.timeout)),
        "findings": ("known findings", scenarios.known_findings, dict(timeout=90.0)),
    }  # fmt: skip
    chosen = args.only.split(",")
    return [runs[name] for name in SCENARIOS if name in chosen]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.pop("KUBECONFIG", None)
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    rng = random.Random(seed)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    report = Report(seed=seed, options=options)
    started = time.monotonic()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dockercloud-chaos-"))
    say = _printer(started)
    try:
        with Bed(workdir, say=say, restart_controllers=not args.keep_controllers) as bed:
            bed.op.start()
            for title, run, sizes in plan(args, rng, seed):
                result = ScenarioResult(title, sizes={k: v for k, v in sizes.items()
                                                      if k != "rng"})  # fmt: skip
                report.scenarios.append(result)
                say(f"-- {title} {result.sizes}")
                began = time.monotonic()
                try:
                    run(bed, result, **sizes)
                except Exception as error:
                    scenarios.crashed(result, error)
                    if bed.operator is not None and not bed.op.alive():
                        bed.op.start()
                result.seconds = time.monotonic() - began
                say(f"   {len(result.failures)} failures, {result.objects_checked} objects "
                    f"checked, {result.seconds:.0f}s")  # fmt: skip
                report.seconds = time.monotonic() - started
                report.write(args.report)  # as it goes: a long run leaves what it found
            report.scenarios.append(_bed_health(bed))
            _keep_logs(bed, args.report.parent / "logs")
            if args.keep_bed and report.failures:
                report.write(args.report)
                _hold(bed, say)
    finally:
        if not (args.keep or args.keep_bed) and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    report.seconds = time.monotonic() - started
    report.write(args.report)
    print(report.text())
    print(f"report: {args.report}")
    return 1 if report.failures else 0


def _printer(started: float) -> Callable[[str], None]:
    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:6.0f}s] {line}", flush=True)

    return say


def _bed_health(bed: Bed) -> ScenarioResult:
    """Whether the bed's nodes stayed Ready through the faults (they run with
    kube-controller-manager's default node grace period, 50 s), and how often kwok had to be
    restarted for its leases."""
    result = ScenarioResult("test bed")
    events = bed.client.call_api(*bed.client.param_serialize(
        method="GET", resource_path="/api/v1/events", auth_settings=["BearerToken"],
        query_params=[("fieldSelector", "reason=NodeNotReady")]))  # fmt: skip
    events.read()
    not_ready = sum(int(e.get("count") or 1) for e in json.loads(events.data)["items"])
    watchdog = bed.plane.workdir / "logs" / "kwok-watchdog.log" if bed.plane.workdir else None
    restarts = watchdog.read_text().count("restarting it") if watchdog and watchdog.exists() else 0
    result.note(f"kwok restarted by the lease watchdog {restarts} times")
    if not_ready:
        result.fail("nodes", f"nodes went NotReady {not_ready} times: pods lost Ready, and the "
                    "figures of the scenarios are suspect")  # fmt: skip
    return result


def _hold(bed: Bed, say: Callable[[str], None]) -> None:
    """Keeps the bed as the failure left it until Ctrl-C (or SIGTERM)."""
    say(f"a check failed; the bed is kept as it is: export KUBECONFIG={bed.plane.kubeconfig}")
    say(f"   (its logs: {bed.plane.workdir}; the report: see above) Ctrl-C ends it")
    with signals_raise():
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            say("the bed is stopped")


def _keep_logs(bed: Bed, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if bed.operator is not None and bed.op.log.exists():
        shutil.copy(bed.op.log, folder / "operator.log")
    for component in bed.plane.components:
        if component.log.exists():
            shutil.copy(component.log, folder / component.log.name)


if __name__ == "__main__":
    sys.exit(main())
