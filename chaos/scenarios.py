"""The fault scenarios. Each takes the bed, a `ScenarioResult` to fill and its sizes; it records
failures (with evidence) instead of raising, so that one run finds as many as it can.

The operator is expected to be running when a scenario starts, and is left running."""

from __future__ import annotations

import functools
import json
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from chaos import checks
from chaos.bed import Bed, LogRecord, Operator, describe, retrying
from chaos.cluster import (
    create_service,
    delete_namespace,
    delete_service,
    ensure_namespace,
    get_service,
    list_services,
    namespace_exists,
    patch_spec,
)
from chaos.findings import FINDINGS, Finding
from chaos.report import ScenarioResult
from chaos.specs import FuzzCase, fuzz_case, mutation, rollout_spec
from dockercloud_operator.schema.model import (
    Service,
)

Object = dict[str, Any]
Key = tuple[str, str]
INTRUDER = "chaos-intruder"  # the other client's field manager
INTRUDER_KEY = "chaos.dockercloud.dev/intruder"
# kube-apiserver SIGTERM + restart, etcd SIGSTOP, kube-apiserver SIGSTOP, SIGKILL + restart.
OUTAGES = ("restart", "etcd", "freeze", "kill")
# The default run: five outages of kube-apiserver (and etcd frozen once).
DEFAULT_OUTAGES = ("restart", "etcd", "freeze", "kill", "restart", "kill")


# -- helpers ------------------------------------------------------------------------------------


def _new_client(bed: Bed) -> client.ApiClient:
    """A client of its own, for a thread."""
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(bed.plane.kubeconfig)
    )
    return api


def _create_all(bed: Bed, specs: dict[Key, Object]) -> None:
    for (namespace, name), spec in specs.items():
        retrying(functools.partial(_create_once, bed.client, namespace, name, spec), "create")


def _create_once(api: client.ApiClient, namespace: str, name: str, spec: Object) -> None:
    """Creates the service; one that exists already is one a retried request made."""
    try:
        create_service(api, namespace, name, spec)
    except ApiException as error:
        if error.status != 409:
            raise


def _check_converged(
    bed: Bed,
    result: ScenarioResult,
    namespaces: list[str],
    timeout: float,
    what: str,
    **kwargs: Any,
) -> checks.Verdict:
    verdict = checks.converge(bed.client, namespaces, timeout, **kwargs)
    result.objects_checked += verdict.objects
    if verdict.ok:
        cleared = ", ".join(f"{kind} {seconds:.1f}s" for kind, seconds in verdict.cleared().items())
        result.note(f"{what}: converged in {verdict.seconds:.0f}s ({verdict.objects} objects)"
                    + (f"; problems last seen: {cleared}" if cleared else ""))  # fmt: skip
    else:
        result.fail(
            "convergence",
            f"{what}: {len(verdict.problems)} problems after {timeout:.0f}s",
            verdict.summary(40) + "\n\n" + _diagnose(bed, verdict),
        )
    return verdict


# Problems of a service the operator should have put right by itself.
DIAGNOSED = ("state", "stale status", "replicas", "drifted", "pods", "image", "service account")


def _diagnose(bed: Bed, verdict: checks.Verdict, limit: int = 5) -> str:
    """Evidence for services in the wrong state or with a wrong workload: their status (and
    its conditions) against their live workload and pods; then a no-op edit of the workload
    (a fresh watch event), and the state after it. A service that the edit puts right was
    waiting for an event: the operator's cached view was stale, or it had not looked again."""
    lines: list[str] = []
    stuck = sorted({p.where for p in verdict.problems if p.check in DIAGNOSED})
    apps, core = client.AppsV1Api(bed.client), client.CoreV1Api(bed.client)
    nudged: list[tuple[str, str]] = []
    for where in stuck[:limit]:
        namespace, name = where.split("/", 1)
        body = get_service(bed.client, namespace, name) or {}
        status = body.get("status") or {}
        lines.append(
            f"{where}: generation {body.get('metadata', {}).get('generation')}, spec "
            f"target_num_containers {body.get('spec', {}).get('target_num_containers')}, status "
            f"{ {k: status.get(k) for k in ('state', 'running_of_target', 'observedGeneration')} }"
        )
        for condition in status.get("conditions") or []:
            lines.append(f"  condition {condition.get('type')}={condition.get('status')}: "
                         f"{condition.get('message')}")  # fmt: skip
        for kind, read in (
            ("Deployment", apps.read_namespaced_deployment),
            ("StatefulSet", apps.read_namespaced_stateful_set),
            ("DaemonSet", apps.read_namespaced_daemon_set),
        ):
            try:
                workload: Any = read(name, namespace)
            except ApiException:
                continue
            s = workload.status
            lines.append(
                f"  live {kind}: generation {workload.metadata.generation}, observedGeneration "
                f"{s.observed_generation}, spec.replicas "
                f"{getattr(workload.spec, 'replicas', None)}, replicas "
                f"{getattr(s, 'replicas', None)}, updated "
                f"{getattr(s, 'updated_replicas', None)}, ready "
                f"{getattr(s, 'ready_replicas', getattr(s, 'number_ready', None))}"
            )
            nudged.append((namespace, name))
            body_patch = {"metadata": {"annotations": {"chaos.dockercloud.dev/nudge": "1"}}}
            {
                "Deployment": apps.patch_namespaced_deployment,
                "StatefulSet": apps.patch_namespaced_stateful_set,
                "DaemonSet": apps.patch_namespaced_daemon_set,
            }[kind](name, namespace, body_patch, field_manager="chaos-nudge")
        pods = core.list_namespaced_pod(
            namespace, label_selector=f"app.dockercloud.dev/service={name}"
        )
        pod: Any
        for pod in pods.items:
            ready = [c.status for c in pod.status.conditions or [] if c.type == "Ready"]
            lines.append(
                f"  pod {pod.metadata.name}: {pod.status.phase}, ready {ready}, "
                f"deleting {pod.metadata.deletion_timestamp is not None}"
            )
    if nudged:
        time.sleep(10)
        after = checks.inspect(bed.client, sorted({ns for ns, _ in nudged}))
        for namespace, name in nudged:
            state = ((get_service(bed.client, namespace, name) or {}).get("status") or {}).get(
                "state"
            )
            left = [p for p in after.problems if p.where == f"{namespace}/{name}"]
            lines.append(
                f"after a no-op edit of its workload, {namespace}/{name} is {state!r}, "
                + (f"{len(left)} problems left: {[p.check for p in left]}" if left else "right")
            )
    return "\n".join(lines)


def _contains(live: Any, written: Any) -> bool:
    """`live` holds every value of `written` (the server adds defaults to what it stores)."""
    if isinstance(written, dict):
        return isinstance(live, dict) and all(_contains(live.get(k), v) for k, v in written.items())
    if isinstance(written, list):
        return (
            isinstance(live, list)
            and len(live) == len(written)
            and all(_contains(a, b) for a, b in zip(live, written, strict=True))
        )
    return bool(live == written)


def _check_operator(bed: Bed, result: ScenarioResult, when: str) -> None:
    """The operator must not have exited on its own; if it did, it is restarted."""
    bed.op.check()
    if bed.op.memory_kills:
        sizes = [f"{rss / 2**30:.1f} GiB" for rss in bed.op.memory_kills]
        bed.op.memory_kills.clear()
        bed.op.unexpected_exits.clear()
        result.fail(
            "operator memory",
            f"{when}: killed by the suite's watchdog at {', '.join(sizes)} of memory "
            f"(limit {bed.op.memory_limit / 2**30:.0f} GiB)",
            bed.op.output()[-3000:],
        )
    if bed.op.unexpected_exits:
        codes = list(bed.op.unexpected_exits)
        bed.op.unexpected_exits.clear()
        result.fail("operator exited", f"{when}: exit codes {codes}", bed.op.output()[-4000:])
    if not bed.op.alive():
        bed.op.start()


def _check_log(
    bed: Bed,
    result: ScenarioResult,
    offset: int,
    *,
    expected: Callable[[LogRecord], bool] = lambda record: False,
) -> None:
    """Every traceback the operator logged since `offset` is a failure, unless `expected`
    (the outage's connection errors, say); each kind is reported once, with a count."""
    records = checks.tracebacks(bed.op.records(offset))
    unexpected = [r for r in records if not expected(r)]
    if len(records) != len(unexpected):
        result.note(f"{len(records) - len(unexpected)} tracebacks of expected errors (outage)")
    by_kind: dict[str, list[LogRecord]] = {}
    for record in unexpected:
        by_kind.setdefault(_last_line(record), []).append(record)
    for kind, found in by_kind.items():
        result.fail("operator traceback", f"{len(found)}x {kind}", found[0].text[-5000:])


def _last_line(record: LogRecord) -> str:
    lines = [line for line in record.lines if line.strip()]
    return lines[-1].strip()[:200] if lines else ""


@contextmanager
def _running(target: Callable[[threading.Event], None], name: str) -> Iterator[threading.Event]:
    """Runs `target(stop)` in a thread for the block; sets `stop` and joins at its end."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target(stop)
        except BaseException as error:  # reported by the block's end
            errors.append(error)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(120)
    if errors:
        raise RuntimeError(f"{name} failed: {describe(errors[0])}") from errors[0]


# -- 1b. two replicas, the leader SIGKILLed ----------------------------------------------------

TOOK_OVER = "Took over: holding the Lease"
HANDOVER_BOUND = 40.0  # the Lease's 15 s, a 2 s retry period, the listing; with room to spare


def leader_kills(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 60,
    rounds: int = 10,
    rng: random.Random,
    timeout: float = 300.0,
) -> None:
    """Two replicas of the operator with leader election; in each round, mid-rollout, the one
    holding the Lease is SIGKILLed: the other must take over within the Lease's bound, and the
    killed one comes back as the standby. Afterwards every service must be Running with
    exactly its children (nothing made twice), and every spec change applied."""
    namespace = "ha"
    ensure_namespace(bed.client, namespace)
    keys = [(namespace, f"svc-{i}") for i in range(services)]
    specs = {key: rollout_spec(rng) for key in keys}
    result.services = services
    replicas = {
        name: Operator(bed.plane.kubeconfig, bed.workdir / f"operator-{name}.log", env={
            "DOCKERCLOUD_LEADER_ELECTION": "true", "POD_NAME": name,
            "DOCKERCLOUD_LEASE_NAME": "dockercloud-operator-chaos",
            "DOCKERCLOUD_LEASE_NAMESPACE": namespace,
        })
        for name in ("replica-a", "replica-b")
    }  # fmt: skip
    bed.op.stop()  # the suite's single operator stands aside: only the replicas act
    try:
        for replica in replicas.values():
            replica.start()
        _create_all(bed, specs)
        handovers: list[float] = []
        for round_ in range(1, rounds + 1):
            result.rounds = round_
            for key in rng.sample(keys, k=max(1, services // 5)):
                patch = mutation(rng, specs[key], round_)
                retrying(functools.partial(patch_spec, bed.client, key[0], key[1], patch), "patch")
            time.sleep(rng.uniform(0.5, 3.0))  # mid-rollout
            leader = _lease_holder(bed, namespace, "dockercloud-operator-chaos")
            if leader not in replicas:
                result.fail("leader", f"round {round_}: the Lease is held by {leader!r}")
                return
            standby = next(r for name, r in replicas.items() if name != leader)
            offset = standby.size()
            replicas[leader].kill()
            killed_at = time.monotonic()
            while TOOK_OVER not in standby.output(offset):
                if time.monotonic() - killed_at > HANDOVER_BOUND or not standby.alive():
                    result.fail(
                        "takeover",
                        f"round {round_}: the standby did not take over "
                        f"within {HANDOVER_BOUND:.0f}s",
                        standby.output(offset)[-3000:],
                    )
                    return  # fmt: skip
                time.sleep(0.2)
            handovers.append(time.monotonic() - killed_at)
            replicas[leader].start()  # back, as the standby
            result.rounds_survived += 1
        result.note(f"handovers after the leader's SIGKILL: {min(handovers):.1f}-"
                    f"{max(handovers):.1f}s (the Lease lasts 15s)")  # fmt: skip
        _check_converged(bed, result, [namespace], timeout, f"after {rounds} leader kills")
        live = {s["metadata"]["name"]: s["spec"] for s in list_services(bed.client, namespace)}
        lost = [k for k in keys if not _contains(live.get(k[1]), specs[k])]
        if lost:
            result.fail("driver", f"{len(lost)} specs are not what the suite wrote", str(lost[:10]))
        for name, replica in replicas.items():
            replica.check()
            if replica.unexpected_exits:
                result.fail("crash", f"{name} exited with {replica.unexpected_exits}")
            tracebacks = [r for r in replica.records() if "Traceback" in r.text]
            if tracebacks:
                result.fail("traceback", f"{name} logged {len(tracebacks)} tracebacks",
                            tracebacks[0].text[:3000])  # fmt: skip
    finally:
        for replica in replicas.values():
            replica.stop()
        bed.op.start()


def _lease_holder(bed: Bed, namespace: str, name: str) -> str:
    """The replica (its POD_NAME) holding the Lease, or '' when none does."""
    try:
        lease = client.CoordinationV1Api(bed.client).read_namespaced_lease(name, namespace)
    except ApiException:
        return ""
    holder = str(lease.spec.holder_identity or "")
    return holder.rsplit("_", 1)[0]


# -- 1. SIGKILL during roll-outs ----------------------------------------------------------------


def operator_kills(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 200,
    rounds: int = 20,
    rng: random.Random,
    timeout: float = 300.0,
    max_delay: float = 4.0,
    verify_every: int = 0,
) -> None:
    """Services are created over the first rounds and changed in every round (new image,
    scale, redeploy, ports, roles, Deployment <-> StatefulSet), some while the operator is
    down; each round SIGKILLs the operator at a random moment and starts it again. Afterwards
    every service must be Running with exactly its children."""
    namespaces = [f"kill-{i}" for i in range(max(1, services // 50))]
    for namespace in namespaces:
        ensure_namespace(bed.client, namespace)
    keys = [(namespaces[i % len(namespaces)], f"svc-{i}") for i in range(services)]
    specs = {key: rollout_spec(rng) for key in keys}
    created: list[Key] = []
    creation_rounds = max(1, min(rounds, 4))
    chunk = -(-services // creation_rounds)
    offset = bed.op.size()
    result.services = services
    for round_ in range(1, rounds + 1):
        result.rounds = round_
        fresh = keys[(round_ - 1) * chunk : round_ * chunk] if round_ <= creation_rounds else []
        _create_all(bed, {key: specs[key] for key in fresh})
        created.extend(fresh)
        changed = rng.sample(created, k=min(len(created), max(1, len(created) // 10)))
        for key in changed:
            patch = mutation(rng, specs[key], round_)
            retrying(functools.partial(patch_spec, bed.client, key[0], key[1], patch), "patch")
        time.sleep(rng.uniform(0, max_delay))
        _check_operator(bed, result, f"round {round_}, before the kill")
        bed.op.kill()
        # While it is down, some more changes: they must be found when it comes back.
        for key in rng.sample(created, k=min(len(created), 3)):
            patch = mutation(rng, specs[key], round_)
            retrying(functools.partial(patch_spec, bed.client, key[0], key[1], patch), "patch")
        try:
            seconds = bed.op.start()
        except Exception as error:
            result.fail("restart", f"round {round_}: {describe(error)}", bed.op.output(offset))
            return
        survived = True
        if verify_every and round_ % verify_every == 0:
            verdict = _check_converged(bed, result, namespaces, timeout, f"after round {round_}")
            survived = verdict.ok
        result.rounds_survived += survived
        if round_ == 1 or round_ == rounds:
            result.note(f"round {round_}: restarted and listed the world in {seconds:.1f}s")
    _check_converged(bed, result, namespaces, timeout, f"after {rounds} kills")
    live = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s["spec"]
        for s in list_services(bed.client)
    }
    lost = [k for k in keys if not _contains(live.get(k), specs[k])]
    if lost:
        result.fail("driver", f"{len(lost)} specs are not what the suite wrote", str(lost[:10]))
    _check_log(bed, result, offset)


def _stack_members(rng: random.Random, count: int, generation: int) -> list[Object]:
    """`count` services, each linked to the one before it (the first to none)."""
    members: list[Object] = []
    for index in range(count):
        member: Object = {"name": f"s{index}", "image": f"nginx:1.{20 + generation}",
                          "target_num_containers": rng.randint(1, 2)}  # fmt: skip
        if index:
            member["linked_to_service"] = [{"to_service": f"s{index - 1}"}]
        members.append(member)
    return members


def _stack_converged(bed: Bed, result: ScenarioResult, namespace: str, name: str,
                     wanted: set[str], timeout: float, what: str) -> None:  # fmt: skip
    """The stack Running and synchronized at its generation, exactly the wanted Service
    resources labelled as its, and each of them Running with exactly its children."""
    custom = client.CustomObjectsApi(bed.client)
    deadline = time.monotonic() + timeout
    while True:
        stack = retrying(lambda: custom.get_namespaced_custom_object(
            "app.dockercloud.dev", "v1", namespace, "stacks", name), "read the stack")  # fmt: skip
        status = stack.get("status") or {}
        live = {
            s["metadata"]["name"] for s in list_services(bed.client)
            if s["metadata"]["namespace"] == namespace
            and (s["metadata"].get("labels") or {}).get("app.dockercloud.dev/stack") == name
            and not s["metadata"].get("deletionTimestamp")
        }  # fmt: skip
        done = (status.get("state") == "Running" and status.get("synchronized")
                and status.get("observedGeneration") == stack["metadata"]["generation"]
                and live == wanted)  # fmt: skip
        if done or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    if not done:
        result.fail("stack", f"{what}: the stack is {status.get('state')} "
                    f"(synchronized {status.get('synchronized')}); services missing "
                    f"{sorted(wanted - live)}, not wanted {sorted(live - wanted)}")  # fmt: skip
        return
    _check_converged(bed, result, [namespace], timeout, what)


def stack_kills(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 20,
    rng: random.Random,
    timeout: float = 300.0,
) -> None:
    """A stack of `services` linked services is created, and then edited (images changed,
    services added and removed), each time with the operator SIGKILLed a random moment later and
    started again. Afterwards: exactly the stack's wanted services, each Running with exactly
    its children, nothing orphaned."""
    namespace, name = "stack-kill", "big"
    ensure_namespace(bed.client, namespace)
    custom = client.CustomObjectsApi(bed.client)
    members = _stack_members(rng, services, 0)
    manifest = {"apiVersion": "app.dockercloud.dev/v1", "kind": "Stack",
                "metadata": {"name": name}, "spec": {"services": members}}  # fmt: skip
    offset = bed.op.size()
    result.services = services

    def kill_soon(what: str) -> bool:
        time.sleep(rng.uniform(0.0, 1.5))
        bed.op.kill()
        try:
            bed.op.start()
        except Exception as error:
            result.fail("restart", f"{what}: {describe(error)}", bed.op.output(offset))
            return False
        result.rounds += 1
        return True

    stacks = ("app.dockercloud.dev", "v1", namespace, "stacks")
    create = functools.partial(custom.create_namespaced_custom_object, *stacks, manifest)
    retrying(create, "create the stack")
    if not kill_soon("while the stack is created"):
        return
    _stack_converged(bed, result, namespace, name, {f"{name}-{m['name']}" for m in members},
                     timeout, "after a kill while the stack was created")  # fmt: skip
    result.rounds_survived += not result.failures

    edited = _stack_members(rng, services, 1)  # every image changes
    removed = {m["name"] for m in rng.sample(edited[1:], k=min(3, services - 1))}
    edited = [m for m in edited if m["name"] not in removed]
    for member in edited:  # links to a removed service go with it
        links = member.get("linked_to_service", [])
        member["linked_to_service"] = [x for x in links if x["to_service"] not in removed]
    edited += [{"name": f"n{i}", "image": "redis:7"} for i in range(3)]
    retrying(lambda: custom.patch_namespaced_custom_object(
        "app.dockercloud.dev", "v1", namespace, "stacks", name,
        {"spec": {"services": edited}}), "edit the stack")  # fmt: skip
    if not kill_soon("while the stack is edited"):
        return
    _stack_converged(bed, result, namespace, name, {f"{name}-{m['name']}" for m in edited},
                     timeout, "after a kill while the stack was edited")  # fmt: skip
    result.rounds_survived += not result.failures
    _check_log(bed, result, offset)


# -- 2. kube-apiserver and etcd outages ---------------------------------------------------------


def control_plane_outage(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 40,
    rng: random.Random,
    down: float = 5.0,
    timeout: float = 300.0,
    phases: Sequence[str] = OUTAGES,
) -> None:
    """Mid-rollout, the `phases` (OUTAGES): kube-apiserver stopped (SIGTERM) and started, etcd
    frozen (SIGSTOP) while a write waits on it, kube-apiserver frozen (its watch streams go
    silent), kube-apiserver SIGKILLed and started. Spec changes are made just before each
    outage (and during the etcd freeze); the operator must stay up (no crash, no restart), and
    apply every one of them."""
    namespace = "outage"
    ensure_namespace(bed.client, namespace)
    keys = [(namespace, f"svc-{i}") for i in range(services)]
    specs = {key: rollout_spec(rng) for key in keys}
    offset = bed.op.size()
    starts = bed.op.starts
    result.services = services
    _create_all(bed, specs)
    outage_start = bed.op.size()

    def change(count: int, round_: int) -> None:
        for key in rng.sample(keys, k=min(count, len(keys))):
            patch = mutation(rng, specs[key], round_)
            retrying(functools.partial(patch_spec, bed.client, key[0], key[1], patch), "patch", 120)

    def apiserver_restart() -> None:
        change(services // 4, 1)
        seconds = bed.restart_apiserver(down)
        result.note(f"kube-apiserver (SIGTERM, {down:.0f}s down) ready again in {seconds:.1f}s")

    def etcd_freeze() -> None:
        change(services // 4, 2)
        with bed.frozen("etcd"):
            # A write while etcd is frozen: it waits, and lands when etcd is back.
            writer = threading.Thread(target=change, args=(max(1, services // 8), 3))
            writer.start()
            time.sleep(down)
        writer.join(120)

    def apiserver_freeze() -> None:
        change(services // 4, 4)
        with bed.frozen("kube-apiserver"):
            time.sleep(down)
        bed.wait_api()

    def apiserver_kill() -> None:
        change(services // 4, 5)
        seconds = bed.restart_apiserver(down, kill=True)
        restarted = (
            f"; kube-controller-manager, kube-scheduler and kwok restarted in "
            f"{bed.controllers_restarted_in:.1f}s more"
            if bed.restart_controllers
            else ""
        )
        result.note(f"kube-apiserver (SIGKILL, {down:.0f}s down) ready again in {seconds:.1f}s"
                    + restarted)  # fmt: skip
        # How long the services take to be right again (from the controllers' restart).
        _check_converged(bed, result, [namespace], timeout, "after the SIGKILL")

    runs = {
        "restart": ("kube-apiserver restarted", apiserver_restart),
        "etcd": ("etcd frozen", etcd_freeze),
        "freeze": ("kube-apiserver frozen", apiserver_freeze),
        "kill": ("kube-apiserver killed", apiserver_kill),
    }
    for what, run in (runs[phase] for phase in phases):
        result.rounds += 1
        time.sleep(rng.uniform(0.5, 2.0))  # mid-rollout
        run()
        bed.op.check()
        if bed.op.unexpected_exits or not bed.op.alive():
            result.fail("operator exited", f"during '{what}'", bed.op.output(outage_start)[-4000:])
            _check_operator(bed, result, what)
            continue
        result.rounds_survived += 1
    recovered = bed.op.size()
    _check_converged(bed, result, [namespace], timeout, "after the outages")
    if bed.op.starts != starts:
        result.fail("crash loop", f"the operator was started {bed.op.starts - starts} more times")
    live = {s["metadata"]["name"]: s["spec"] for s in list_services(bed.client, namespace)}
    lost = [k for k in keys if not _contains(live.get(k[1]), specs[k])]
    if lost:
        result.fail("driver", f"{len(lost)} specs are not what the suite wrote", str(lost[:10]))
    # Connection errors while the API was away are expected; after it is back, nothing.
    _check_log(bed, result, offset, expected=lambda r: outage_start <= r.offset < recovered)
    _check_log_after(bed, result, recovered)


def _check_log_after(bed: Bed, result: ScenarioResult, offset: int) -> None:
    errors = [r for r in bed.op.records(offset) if r.level in ("ERROR", "CRITICAL")]
    if errors:
        result.note(f"{len(errors)} ERROR records after the API came back (see the log)")


# -- 3. conflicting writers ---------------------------------------------------------------------


@dataclass
class _Written:
    """What the suite last wrote to each service's spec (the expected end state)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    targets: dict[Key, int] = field(default_factory=dict)


def conflicting_writers(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 20,
    seconds: float = 20.0,
    rng: random.Random,
    timeout: float = 300.0,
) -> None:
    """While the services roll out, another client (field manager `chaos-intruder`) keeps
    annotating and labelling their workloads and Kubernetes Services, and setting the
    workloads' replicas (the operator's field); the suite keeps changing the services' specs
    and metadata, and creates services that it edits at once (so the operator's finalizer
    write meets a newer resourceVersion). Afterwards the operator's fields are as the specs
    say, the intruder's annotation and label are still there, and no 409 made a traceback."""
    namespace = "conflict"
    ensure_namespace(bed.client, namespace)
    keys = [(namespace, f"svc-{i}") for i in range(services)]
    specs: dict[Key, Object] = {}
    for key in keys:
        spec = rollout_spec(rng)
        spec.pop("deployment_strategy", None)  # scalable workloads only
        spec["target_num_containers"] = rng.randint(1, 3)
        spec["container_ports"] = [{"protocol": "tcp", "inner_port": 80}]
        specs[key] = spec
    offset = bed.op.size()
    written = _Written()
    result.services = services
    _create_all(bed, specs)
    for key, spec in specs.items():
        written.targets[key] = spec["target_num_containers"]
    intruded: dict[tuple[str, str, str], int] = {}
    counts = {"intruder writes": 0, "intruder conflicts": 0, "spec writes": 0, "fresh": 0}

    def intruder(stop: threading.Event) -> None:
        api = _new_client(bed)
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        local = random.Random(rng.random())
        n = 0
        while not stop.is_set():
            ns, name = local.choice(keys)
            n += 1
            meta = {"annotations": {INTRUDER_KEY: str(n)}, "labels": {INTRUDER_KEY: "yes"}}
            try:
                for kind, read, patch, replace in (
                    ("Deployment", apps.read_namespaced_deployment,
                     apps.patch_namespaced_deployment, apps.replace_namespaced_deployment),
                    ("StatefulSet", apps.read_namespaced_stateful_set,
                     apps.patch_namespaced_stateful_set, apps.replace_namespaced_stateful_set),
                ):  # fmt: skip
                    try:
                        live: Any = read(name, ns)
                    except ApiException as error:
                        if error.status == 404:
                            continue
                        raise
                    if n % 3 == 0:
                        # Read-modify-write with the resourceVersion read: may meet a 409.
                        live.metadata.annotations = {
                            **(live.metadata.annotations or {}),
                            INTRUDER_KEY: str(n),
                        }
                        live.metadata.labels = {**(live.metadata.labels or {}), INTRUDER_KEY: "yes"}
                        live.spec.replicas = local.randint(4, 6)
                        try:
                            replace(name, ns, live, field_manager=INTRUDER)
                        except ApiException as error:
                            if error.status != 409:
                                raise
                            counts["intruder conflicts"] += 1
                    else:
                        body = {"metadata": meta, "spec": {"replicas": local.randint(4, 6)}}
                        patch(name, ns, body, field_manager=INTRUDER)
                    intruded[(ns, kind, name)] = n
                    counts["intruder writes"] += 1
                try:
                    core.patch_namespaced_service(name, ns, {"metadata": meta},
                                                  field_manager=INTRUDER)  # fmt: skip
                    intruded[(ns, "Service", name)] = n
                except ApiException as error:
                    if error.status != 404:
                        raise
            except ApiException as error:
                if error.status not in (404, 409):
                    raise
            time.sleep(0.02)

    def spec_writer(stop: threading.Event) -> None:
        api = _new_client(bed)
        local = random.Random(rng.random())
        n = 0
        while not stop.is_set():
            key = local.choice(keys)
            n += 1
            target, env = local.randint(1, 3), f"w{n}"
            patch = {
                "target_num_containers": target,
                "container_envvars": [{"key": "ROUND", "value": env}],
            }
            with written.lock:
                patch_spec(api, *key, patch)
                written.targets[key] = target
            # The service's own metadata, by yet another manager: a newer resourceVersion.
            client.CustomObjectsApi(api).patch_namespaced_custom_object(
                "app.dockercloud.dev", "v1", key[0], "services", key[1],
                {"metadata": {"labels": {"chaos.dockercloud.dev/edit": str(n)}}},
                field_manager="chaos-labeller",
            )  # fmt: skip
            counts["spec writes"] += 1
            time.sleep(0.05)

    def fresh_services(stop: threading.Event) -> None:
        api = _new_client(bed)
        n = 0
        while not stop.is_set() and n < services:
            key = (namespace, f"fresh-{n}")
            spec = {"image": "nginx", "target_num_containers": 1}
            create_service(api, *key, spec)
            for i in range(5):  # edits racing the operator's first write (the finalizer)
                patch_spec(api, *key, {"container_envvars": [{"key": "E", "value": str(i)}]})
                client.CustomObjectsApi(api).patch_namespaced_custom_object(
                    "app.dockercloud.dev", "v1", key[0], "services", key[1],
                    {"metadata": {"annotations": {"chaos.dockercloud.dev/edit": str(i)}}},
                    field_manager="chaos-labeller",
                )  # fmt: skip
            n += 1
            counts["fresh"] += 1
            time.sleep(0.2)

    result.rounds = 1
    with (
        _running(intruder, "intruder"),
        _running(spec_writer, "spec-writer"),
        _running(fresh_services, "fresh-services"),
    ):
        time.sleep(seconds)
    # A last edit of every child by the intruder, so each carries its annotation at the end.
    apps, core = client.AppsV1Api(bed.client), client.CoreV1Api(bed.client)
    for ns, name in keys:
        meta = {"annotations": {INTRUDER_KEY: "last"}, "labels": {INTRUDER_KEY: "yes"}}
        for kind, patch in (("Deployment", apps.patch_namespaced_deployment),
                            ("StatefulSet", apps.patch_namespaced_stateful_set),
                            ("Service", core.patch_namespaced_service)):  # fmt: skip
            body: Object = {"metadata": meta}
            if kind != "Service":
                body["spec"] = {"replicas": 5}
            try:
                patch(name, ns, body, field_manager=INTRUDER)
                intruded[(ns, kind, name)] = -1
            except ApiException as error:
                if error.status != 404:
                    raise
    result.note(", ".join(f"{v} {k}" for k, v in counts.items()))
    verdict = _check_converged(bed, result, [namespace], timeout, "after the writers stopped")
    _check_operator(bed, result, "conflicting writers")
    if verdict.ok:
        result.rounds_survived = 1
    # The operator's field manager wins its fields, and leaves the intruder's alone.
    problems = []
    for (ns, kind, name), _ in sorted(intruded.items()):
        obj = _read(bed.client, ns, kind, name)
        if obj is None:
            continue  # the service changed kind (Deployment <-> StatefulSet): a new object
        metadata = obj.metadata
        if INTRUDER_KEY not in (metadata.annotations or {}):
            problems.append(f"{ns}/{kind}/{name}: the intruder's annotation is gone")
        if (metadata.labels or {}).get(INTRUDER_KEY) != "yes":
            problems.append(f"{ns}/{kind}/{name}: the intruder's label is gone")
        if kind != "Service":
            want = written.targets[(ns, name)]
            if obj.spec.replicas != want:
                problems.append(f"{ns}/{kind}/{name}: replicas {obj.spec.replicas}, spec {want}")
            owners = _field_owners(obj, ("f:spec", "f:replicas"))
            if owners != ["dockercloud-operator"]:
                problems.append(f"{ns}/{kind}/{name}: spec.replicas managed by {owners}")
    result.objects_checked += len(intruded)
    if problems:
        result.fail("field ownership", f"{len(problems)} problems", "\n".join(problems[:40]))
    records = bed.op.records(offset)
    conflicts = checks.conflict_tracebacks(records)
    if conflicts:
        result.fail(
            "409 surfaced", f"{len(conflicts)} tracebacks caused by write conflicts",
            conflicts[0].text[-5000:],
        )  # fmt: skip
    retried = [r for r in records if "changed meanwhile" in r.text]
    result.note(f"{len(retried)} write conflicts retried quietly by the operator")
    _check_log(bed, result, offset)


def _read(api: client.ApiClient, namespace: str, kind: str, name: str) -> Any:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    read = {
        "Deployment": apps.read_namespaced_deployment,
        "StatefulSet": apps.read_namespaced_stateful_set,
        "Service": core.read_namespaced_service,
    }[kind]
    try:
        return read(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _field_owners(obj: Any, path: tuple[str, ...]) -> list[str]:
    """The managers whose managedFields entry holds `path`."""
    owners = []
    for entry in obj.metadata.managed_fields or []:
        fields: Any = entry.fields_v1 or {}
        for step in path:
            fields = fields.get(step) if isinstance(fields, dict) else None
        if fields is not None:
            owners.append(entry.manager)
    return sorted(owners)


# -- 4. fuzzing specs against the API server ----------------------------------------------------


@dataclass
class _Pending:
    name: str
    case: FuzzCase
    spec: Object
    model_error: str  # why the operator's model refuses the spec, or ""


@dataclass
class _Findings:
    """Failures by signature: each reported once, with a count and its smallest example."""

    found: dict[tuple[str, str], tuple[int, str, str]] = field(default_factory=dict)

    def add(self, check: str, signature: str, evidence: str) -> None:
        count, _, best = self.found.get((check, signature), (0, "", ""))
        if not best or len(evidence) < len(best):
            best = evidence
        self.found[(check, signature)] = (count + 1, signature, best)

    def report(self, result: ScenarioResult) -> None:
        for (check, signature), (count, _, evidence) in sorted(self.found.items()):
            result.fail(check, f"{count}x {signature}", evidence)


def spec_fuzz(
    bed: Bed,
    result: ScenarioResult,
    *,
    examples: int = 2000,
    seed: int = 0,
    batch: int = 25,
    status_timeout: float = 30.0,
    timeout: float = 120.0,
) -> None:
    """Hypothesis draws specs (`chaos.specs.fuzz_case`); each is created with
    fieldValidation=Strict. A refused one's message must name a field (`spec.` or
    `metadata.`); an accepted one must get a status from the operator, with no traceback about
    it in the operator's log. Accepted services are checked and deleted in batches."""
    namespace = "fuzz"
    ensure_namespace(bed.client, namespace)
    offset = bed.op.size()
    findings = _Findings()
    pending: list[_Pending] = []
    counter = iter(range(10**9))
    refusals: dict[str, int] = {}

    timings = {"create": 0.0, "settle": 0.0}

    def settle() -> None:
        _check_operator(bed, result, "fuzzing")  # a crashed operator reconciles nothing
        began = time.monotonic()
        _settle_batch(bed, result, namespace, pending, findings, offset, status_timeout)
        pending.clear()
        timings["settle"] += time.monotonic() - began

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=fuzz_case())
    def example(case: FuzzCase) -> None:
        n = next(counter)
        name = f"{case.name_prefix}fz{n}{case.name_suffix}"
        spec = dict(case.spec)
        if case.origin == "valid:name":
            spec["name"] = name
        result.examples += 1
        began = time.monotonic()
        try:
            retrying(lambda: create_service(bed.client, namespace, name, spec), "create", 30)
        except ApiException as error:
            message = _message(error)
            if error.status in (400, 422) and ("spec." in message or "metadata." in message):
                result.rejected += 1
                if case.origin.startswith("valid"):
                    reason = _reason(message)
                    refusals[reason] = refusals.get(reason, 0) + 1
                return
            findings.add(
                "refusal names no field" if error.status in (400, 422) else "API error",
                f"HTTP {error.status}: {_normalized(message, name)[:160]}",
                f"spec ({case.origin}): {json.dumps(spec)}\nanswer: {message}",
            )
            return
        finally:
            timings["create"] += time.monotonic() - began
        result.accepted += 1
        model_error = ""
        try:
            Service.model_validate({"metadata": {"name": name, "namespace": namespace},
                                    "spec": spec})  # fmt: skip
        except ValidationError as error:
            model_error = str(error)
        pending.append(_Pending(name, case, spec, model_error))
        if len(pending) >= batch:
            settle()

    began = time.monotonic()
    example()
    settle()
    result.note(
        f"{time.monotonic() - began:.0f}s for the examples: {timings['create']:.0f}s creating, "
        f"{timings['settle']:.0f}s waiting for statuses and deleting"
    )
    for reason, count in sorted(refusals.items(), key=lambda item: -item[1])[:8]:
        result.note(f"{count} generated-valid specs refused by the server: {reason}")
    findings.report(result)
    # Every fuzzed service goes, and leaves nothing behind.
    began = time.monotonic()
    deadline = began + timeout
    while list_services(bed.client, namespace) and time.monotonic() < deadline:
        time.sleep(0.5)
    result.note(f"the last fuzzed services were gone {time.monotonic() - began:.0f}s later")
    stuck = [s["metadata"]["name"] for s in list_services(bed.client, namespace)]
    if stuck:
        result.fail("stuck", f"{len(stuck)} fuzzed services not gone after {timeout:.0f}s",
                    ", ".join(stuck[:20]))  # fmt: skip
    leaked = _wait_leftovers(bed, [namespace], timeout=30)
    if leaked:
        result.fail("leaked", f"{len(leaked)} objects left", "\n".join(map(str, leaked[:20])))
    result.services = result.accepted
    _check_operator(bed, result, "fuzzing")


def _settle_batch(
    bed: Bed,
    result: ScenarioResult,
    namespace: str,
    pending: list[_Pending],
    findings: _Findings,
    offset: int,
    status_timeout: float,
) -> None:
    """Waits until each accepted service has a status (or the operator logged a traceback
    about it), records those that have not, and deletes the batch."""
    deadline = time.monotonic() + status_timeout
    waiting = {p.name: p for p in pending}
    failed: dict[str, LogRecord] = {}
    while waiting and time.monotonic() < deadline:
        tracebacks = checks.tracebacks(bed.op.records(offset))
        for name in list(waiting):
            about = checks.mentioning(tracebacks, namespace, name)
            body = get_service(bed.client, namespace, name)
            if about:
                failed[name] = about[-1]
                del waiting[name]
            elif body is not None and (body.get("status") or {}).get("state"):
                del waiting[name]
        if waiting:
            time.sleep(0.5)
    result.objects_checked += len(pending)
    for item in pending:
        if item.name in failed:
            record = failed[item.name]
            findings.add(
                "accepted spec not reconciled",
                _normalized(_exception_summary(record), item.name)[:200],
                f"spec ({item.case.origin}): {json.dumps(item.spec)}\n{record.text[-3000:]}",
            )
        elif item.name in waiting:
            why = (
                f"the operator's model refuses it: {item.model_error.splitlines()[0:3]}"
                if item.model_error
                else f"no status within {status_timeout:.0f}s and no traceback"
            )
            findings.add(
                "accepted spec not reconciled",
                _normalized(why, item.name)[:200],
                f"spec ({item.case.origin}): {json.dumps(item.spec)}\n{item.model_error[:2000]}",
            )
    for item in pending:
        retrying(functools.partial(delete_service, bed.client, namespace, item.name), "delete")


def _message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message", error.reason))
    except ValueError:
        return str(error.body or error.reason)


def _reason(message: str) -> str:
    """The field and the complaint of a refusal, without the values."""
    import re

    fields = re.findall(r"(?:spec|metadata)\.[A-Za-z_.\[\]0-9]+", message)
    first = fields[0] if fields else "?"
    first = re.sub(r"\[\d+\]", "[i]", first)
    words = message.split(":")[-1].strip()[:80]
    return f"{first}: {words}"


def _exception_summary(record: LogRecord) -> str:
    """The gist of a logged exception: an API error's message, else the last line."""
    import re

    text = record.text
    match = re.search(r'"message":"((?:[^"\\]|\\.)*)"', text)
    if match:
        return match[1].encode().decode("unicode_escape", errors="replace")
    return _last_line(record)


def _normalized(text: str, name: str) -> str:
    """A signature: the service's name and numbers taken out, so alike failures group."""
    import re

    text = text.replace(name, "<name>")
    text = re.sub(r"\bfz\d+\b", "<svc>", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uid>", text)
    text = re.sub(r"\[\d+\]", "[i]", text)
    return re.sub(r'((?:value|values): )"(?:[^"\\]|\\.)*"', r'\1"…"', text)


def _wait_leftovers(
    bed: Bed, namespaces: list[str], timeout: float, services: set[str] | None = None
) -> list[checks.Problem]:
    deadline = time.monotonic() + timeout
    while True:
        leaked = checks.leftovers(bed.client, namespaces, services)
        if not leaked or time.monotonic() > deadline:
            return leaked
        time.sleep(1)


# -- 5. deletions -------------------------------------------------------------------------------


def deletions(
    bed: Bed,
    result: ScenarioResult,
    *,
    services: int = 20,
    rng: random.Random,
    bound: float = 60.0,
    timeout: float = 300.0,
) -> None:
    """A namespace deleted with services inside, mid-rollout (while the rest goes on);
    deletion at a random moment of the first reconcile (some at once); deletion of services
    that others link to or mount volumes from; deletion while the operator is down (SIGKILL).
    Deleted services must be gone within `bound` seconds (no stuck finalizer), the namespace
    within twice that, and nothing labelled as theirs may be left."""
    offset = bed.op.size()
    per = max(2, services // 4)
    ok = True

    # a) a namespace deleted with services inside, mid-rollout; checked at the end
    ns_ns = "del-namespace"
    ensure_namespace(bed.client, ns_ns)
    for i in range(per):
        spec = rollout_spec(rng)
        if i % 3 == 0:
            spec["roles"] = ["global"]
        create_service(bed.client, ns_ns, f"svc-{i}", spec)
    time.sleep(rng.uniform(1.0, 3.0))
    delete_namespace(bed.client, ns_ns)
    namespace_deleted = time.monotonic()

    # b) deletion at a random moment of the first reconcile
    ns_a = "del-reconciling"
    ensure_namespace(bed.client, ns_a)
    keys_a = [(ns_a, f"svc-{i}") for i in range(per)]
    for i, key in enumerate(keys_a):
        create_service(bed.client, *key, rollout_spec(rng))
        if i % 3 == 0:
            delete_service(bed.client, *key)  # at once
    time.sleep(rng.uniform(0.2, 1.5))
    for i, key in enumerate(keys_a):
        if i % 3:
            delete_service(bed.client, *key)
            time.sleep(rng.uniform(0, 0.3))
    result.rounds += 1
    ok &= _gone(bed, result, keys_a, [ns_a], bound, "deleted while reconciling")

    # c) deleting services that others link to, or mount volumes from
    ns_b = "del-linked"
    ensure_namespace(bed.client, ns_b)
    pairs = max(1, per // 2)
    targets: list[Key] = []
    for i in range(pairs):
        db = create_service(bed.client, ns_b, f"db-{i}", {
            "image": "mysql:5.7", "container_ports": [{"protocol": "tcp", "inner_port": 3306}],
            "container_envvars": [{"key": "MYSQL_DATABASE", "value": "app"}],
        })  # fmt: skip
        uri = f"/api/app/v1/service/{db['metadata']['uid']}/"  # a link by resource URI
        create_service(bed.client, ns_b, f"web-{i}", {
            "image": "nginx",
            "linked_to_service": [{"to_service": uri if i % 2 else f"db-{i}", "name": "DB"}],
        })  # fmt: skip
        create_service(bed.client, ns_b, f"files-{i}", {
            "image": "nginx", "bindings": [{"host_path": f"/srv/{i}", "container_path": "/srv"}],
        })  # fmt: skip
        create_service(bed.client, ns_b, f"reader-{i}", {
            "image": "nginx", "bindings": [{"volumes_from": f"files-{i}"}],
        })  # fmt: skip
        targets += [(ns_b, f"db-{i}"), (ns_b, f"files-{i}")]
    before = _check_converged(bed, result, [ns_b], timeout, "links before the deletion")
    for key in targets:
        delete_service(bed.client, *key)
    result.rounds += 1
    ok &= _gone(bed, result, targets, [ns_b], bound, "linked-to services deleted")
    # The linking services go on, their link variables and mounts gone with the targets.
    after = _check_converged(bed, result, [ns_b], timeout, "linking services after it")
    ok &= before.ok and after.ok

    # d) services deleted while the operator is down
    ns_d = "del-operator-down"
    ensure_namespace(bed.client, ns_d)
    keys_d = [(ns_d, f"svc-{i}") for i in range(per)]
    _create_all(bed, {key: rollout_spec(rng) for key in keys_d})
    time.sleep(rng.uniform(0.5, 2.0))
    _check_operator(bed, result, "deletions")
    bed.op.kill()
    for key in keys_d:
        delete_service(bed.client, *key)
    time.sleep(1)
    held = [s for s in list_services(bed.client, ns_d) if s["metadata"].get("finalizers")]
    bed.op.start()
    result.rounds += 1
    ok &= _gone(bed, result, keys_d, [ns_d], bound, f"deleted while the operator was down "
                f"({len(held)} held by the finalizer)")  # fmt: skip

    # a) again: the namespace is gone, and everything in it
    result.rounds += 1
    while namespace_exists(bed.client, ns_ns) and time.monotonic() - namespace_deleted < bound * 2:
        time.sleep(0.5)
    if namespace_exists(bed.client, ns_ns):
        left = [
            f"{s['metadata']['name']} finalizers={s['metadata'].get('finalizers')} "
            f"state={(s.get('status') or {}).get('state')}"
            for s in list_services(bed.client, ns_ns)
        ]
        objects = [str(p) for p in checks.leftovers(bed.client, [ns_ns])]
        result.fail("stuck namespace", f"{ns_ns} not gone after {bound * 2:.0f}s",
                    "services left: " + ", ".join(left[:20]) + "\nobjects of theirs left:\n"
                    + "\n".join(objects[:40] or ["none"]))  # fmt: skip
        ok = False
    else:
        seconds = time.monotonic() - namespace_deleted
        result.note(f"a namespace with {per} services gone {seconds:.0f}s after its deletion")
        leaked = _wait_leftovers(bed, [ns_ns], 5)
        if leaked:
            result.fail("leaked", f"{len(leaked)} objects in {ns_ns}", "\n".join(map(str, leaked)))
            ok = False

    result.services = per + len(keys_a) + 4 * pairs + len(keys_d)
    result.rounds_survived = result.rounds if ok else 0
    _check_operator(bed, result, "deletions")
    _check_log(bed, result, offset)


def _gone(
    bed: Bed,
    result: ScenarioResult,
    keys: list[Key],
    namespaces: list[str],
    bound: float,
    what: str,
) -> bool:
    """The services `keys` disappear within `bound` seconds, and nothing of theirs is left."""
    started = time.monotonic()
    names = {key[1] for key in keys}
    while True:
        left = [
            s for ns in namespaces for s in list_services(bed.client, ns)
            if (ns, s["metadata"]["name"]) in set(keys)
        ]  # fmt: skip
        if not left or time.monotonic() - started > bound:
            break
        time.sleep(0.5)
    seconds = time.monotonic() - started
    if left:
        evidence = "\n".join(
            f"{s['metadata']['name']}: finalizers={s['metadata'].get('finalizers')} "
            f"state={(s.get('status') or {}).get('state')}"
            for s in left[:20]
        )
        objects = [str(p) for p in checks.leftovers(bed.client, namespaces, names)]
        evidence += "\nobjects of theirs left:\n" + "\n".join(objects[:40] or ["none"])
        result.fail("stuck finalizer", f"{what}: {len(left)} services not gone after "
                    f"{bound:.0f}s", evidence)  # fmt: skip
        return False
    leaked = _wait_leftovers(bed, namespaces, 30, names)
    result.objects_checked += len(keys)
    if leaked:
        result.fail("leaked", f"{what}: {len(leaked)} objects left",
                    "\n".join(map(str, leaked[:20])))  # fmt: skip
        return False
    result.note(f"{what}: {len(keys)} services gone in {seconds:.1f}s")
    return True


def crashed(result: ScenarioResult, error: BaseException) -> None:
    """A scenario that raised: the suite's own error, or the bed's; reported, not hidden."""
    result.fail("scenario crashed", describe(error), traceback.format_exc())


# -- 6. what the suite found, as regression checks ---------------------------------------------


def known_findings(
    bed: Bed,
    result: ScenarioResult,
    *,
    timeout: float = 90.0,
    step_timeout: float = 30.0,
) -> None:
    """Each of `chaos.findings.FINDINGS`: one a schema rule closes must be refused up front,
    naming its field, by the API server and the model alike; any other is created (then
    patched, each patch once it is Running), and must end Running with exactly its children,
    and no traceback about it."""
    namespace = "findings"
    ensure_namespace(bed.client, namespace)
    offset = bed.op.size()
    result.services = len(FINDINGS)
    for finding in FINDINGS:
        create = functools.partial(
            create_service, bed.client, namespace, finding.name, finding.spec
        )
        if not finding.refused_at:
            retrying(create, "create")
        elif why := _not_refused(finding, namespace, create):
            result.fail(f"finding {finding.name}", finding.what, why)
    pending = {f.name: list(f.then) for f in FINDINGS if f.then and not f.refused_at}
    deadline = time.monotonic() + step_timeout * max([len(f.then) for f in FINDINGS] + [0])
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            body = get_service(bed.client, namespace, name) or {}
            status = body.get("status") or {}
            if status.get("state") == "Running" and status.get("observedGeneration") == body.get(
                "metadata", {}
            ).get("generation"):
                patch_spec(bed.client, namespace, name, pending[name].pop(0))
                if not pending[name]:
                    del pending[name]
        time.sleep(0.5)
    for name, left in pending.items():
        result.fail("finding", f"{name}: never Running, {len(left)} steps not made")
    verdict = checks.converge(bed.client, [namespace], timeout, states=_expected_state)
    result.objects_checked += verdict.objects
    records = checks.tracebacks(bed.op.records(offset))
    for finding in FINDINGS:
        problems = [p for p in verdict.problems if p.where == f"{namespace}/{finding.name}"]
        about = checks.mentioning(records, namespace, finding.name)
        if problems or about:
            evidence = "\n".join(map(str, problems))
            if about:
                evidence += "\n" + _exception_summary(about[-1])
            result.fail(f"finding {finding.name}", finding.what, evidence)
    result.rounds = len(FINDINGS)
    result.rounds_survived = len(FINDINGS) - len({f.check for f in result.failures})
    _check_operator(bed, result, "known findings")  # huge-target: the memory watchdog


def _not_refused(finding: Finding, namespace: str, create: Callable[[], Object]) -> str:
    """Why a finding that a schema rule closes was not refused as it must be, or ""."""
    try:
        retrying(create, "create")
    except ApiException as error:
        message = _message(error)
        if not (error.status == 422 and finding.refused_at in message and finding.says in message):
            return (
                f"refused, but not at {finding.refused_at} saying {finding.says!r}: "
                f"HTTP {error.status}: {message}"
            )
    else:
        return f"the API server accepted it; it must refuse it at {finding.refused_at}"
    try:
        Service.model_validate({"metadata": {"name": finding.name, "namespace": namespace},
                                "spec": finding.spec})  # fmt: skip
    except ValidationError:
        return ""
    return "the API server refuses it, but the model (offline validation, render) accepts it"


def _expected_state(service: Service) -> frozenset[str]:
    return checks.RUNNING if service.spec.running else frozenset({"Not running", "Stopped"})
