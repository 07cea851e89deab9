"""The fault suite (`chaos/`, `make chaos`) in small: the operator on a control plane of its
own, SIGKILLed mid-rollout, through kube-apiserver and etcd outages, against a conflicting
writer, fed fuzzed specs, and deleted from under. Each test fails with the suite's findings.

It needs the local control plane (the faults stop its processes), so it is skipped when
KUBECONFIG names a cluster."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaos import rest_load, scenarios
from chaos.bed import Bed
from chaos.report import ScenarioResult
from kubernetes import client

from dockercloud_operator.controller.status import CONTAINER_URI
from tests import services
from tests.operators import Operator, running
from tests.proxy import proxy_to
from tests.wait import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        bool(os.environ.get("KUBECONFIG")),
        reason="the fault suite stops control plane processes: it needs the local one",
    ),
]
SEED = int(os.environ.get("CHAOS_SEED", "20251127"))
TIMEOUT = 120.0  # to converge after the faults, on a busy 2-core machine


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    with Bed(tmp_path_factory.mktemp("chaos")) as bed:
        bed.op.start()
        yield bed
        print(f"operator log: {bed.op.log}")


def _passed(result: ScenarioResult) -> None:
    report = "\n".join(
        f"[{f.check}] {f.detail}\n{f.evidence}" for f in result.failures
    )  # the evidence is what a reader needs
    assert not result.failures, f"{len(result.failures)} failures:\n{report}"


def test_sigkill_mid_rollout_leaves_every_service_running_with_exactly_its_children(
    bed: Bed,
) -> None:
    result = ScenarioResult("operator SIGKILL")
    scenarios.operator_kills(
        bed, result, services=20, rounds=3, rng=random.Random(SEED), timeout=TIMEOUT,
        max_delay=1.5,
    )  # fmt: skip
    _passed(result)
    assert result.rounds_survived == 3
    assert result.objects_checked >= 20


def test_a_stack_created_and_edited_under_sigkill_has_exactly_its_services(bed: Bed) -> None:
    result = ScenarioResult("stacks under SIGKILL")
    scenarios.stack_kills(bed, result, services=8, rng=random.Random(SEED), timeout=TIMEOUT)
    _passed(result)
    assert result.rounds_survived == 2
    assert result.objects_checked >= 8


def test_the_standby_takes_over_each_time_the_leader_is_sigkilled(bed: Bed) -> None:
    result = ScenarioResult("leader SIGKILL")
    scenarios.leader_kills(
        bed, result, services=8, rounds=2, rng=random.Random(SEED), timeout=TIMEOUT
    )
    _passed(result)
    assert result.rounds_survived == result.rounds == 2
    assert any("handovers" in note for note in result.notes), result.notes
    assert bed.op.alive()  # the suite's own operator is back


def test_outages_of_the_api_server_and_etcd_lose_no_update(bed: Bed) -> None:
    result = ScenarioResult("control plane outage")
    scenarios.control_plane_outage(
        bed, result, services=8, rng=random.Random(SEED), down=1.5, timeout=TIMEOUT,
        phases=("restart", "etcd"),  # make chaos adds a frozen and a SIGKILLed kube-apiserver
    )  # fmt: skip
    _passed(result)
    assert result.rounds_survived == result.rounds == 2


def test_a_conflicting_writer_keeps_its_fields_and_loses_the_operators(bed: Bed) -> None:
    result = ScenarioResult("conflicting writers")
    scenarios.conflicting_writers(
        bed, result, services=6, seconds=5.0, rng=random.Random(SEED), timeout=TIMEOUT
    )
    _passed(result)


def test_fuzzed_specs_are_refused_with_a_field_or_reconciled(bed: Bed) -> None:
    result = ScenarioResult("spec fuzzing")
    scenarios.spec_fuzz(bed, result, examples=50, seed=SEED, batch=25, status_timeout=20.0)
    _passed(result)
    assert result.examples == 50
    assert result.accepted and result.rejected


def test_deletions_leave_no_stuck_finalizer_and_no_object_behind(bed: Bed) -> None:
    result = ScenarioResult("deletions")
    scenarios.deletions(
        bed, result, services=8, rng=random.Random(SEED), bound=60.0, timeout=TIMEOUT
    )
    _passed(result)


def test_what_the_suite_found_is_reconciled(bed: Bed) -> None:
    """chaos/findings.py: each service that once showed a failure now runs, or is refused up
    front, naming its field, by a rule of the schema."""
    result = ScenarioResult("known findings")
    scenarios.known_findings(bed, result, timeout=60.0)
    _passed(result)


def test_the_bed_is_the_suites_own(bed: Bed) -> None:
    """The faults hit this bed's processes only: its API server is on loopback."""
    assert bed.plane.server.startswith("https://127.0.0.1:")
    assert Path(bed.plane.kubeconfig).exists()


def test_malformed_rest_requests_under_load_get_no_5xx_and_lose_no_write(bed: Bed) -> None:
    result = ScenarioResult("REST API under load")
    rest_load.rest_under_load(
        bed, result, services=8, seconds=10.0, writers=2, abusers=3, rng=random.Random(SEED),
        timeout=TIMEOUT,
    )  # fmt: skip
    _passed(result)
    assert result.services == 8 and result.examples > 100, result.notes


def test_a_pod_deleted_while_the_operator_was_away_is_not_counted_once_it_lists_again(
    bed: Bed, tmp_path: Path
) -> None:
    """The operator cut off from the API server (its watches broken) while a pod is deleted
    and the API server restarts: the restarted API server no longer has the version the
    operator's watch was at, so the operator lists its pods again. The deleted pod is not in
    that list, and no watch ever says it went: the operator must see that for itself. (It
    did not: the service stayed `Redeploying 3/2` for good, counting the pod that was gone.)"""
    api = bed.client
    namespace = f"relisted-{random.Random().randrange(1 << 32):08x}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    bed.op.stop()  # only the operator behind the proxy acts
    try:
        with proxy_to(bed.plane.kubeconfig, tmp_path / "proxied.kubeconfig") as (proxy, config):
            operator = Operator(config, tmp_path / "operator.log",
                                f"--namespace={namespace}", "--metrics-port=0")  # fmt: skip
            with running(operator):
                operator.start("children; reconciling.")
                services.create(api, namespace, "web", image="nginx", target_num_containers=2)
                wait_for(lambda: _settled(api, namespace), "web Running 2/2", timeout=60)

                proxy.cut()
                victim = services.pods(api, namespace, "web")[0].metadata.name
                client.CoreV1Api(api).delete_namespaced_pod(
                    victim, namespace, grace_period_seconds=0
                )
                wait_for(lambda: victim not in _pod_names(api, namespace)
                         and len(services.running_pods(api, namespace, "web")) == 2,
                         "the pod gone and replaced", timeout=60)  # fmt: skip
                bed.restart_apiserver(down_for=0.5)
                api = bed.client
                proxy.mend()

                wait_for(lambda: _settled(api, namespace),
                         "the status to count the live pods only", timeout=60)  # fmt: skip
                services.delete(api, namespace, "web")
                wait_for(lambda: not _pod_names(api, namespace), "web's pods gone", timeout=60)
    finally:
        client.CoreV1Api(bed.client).delete_namespace(namespace)
        bed.op.start()


def _settled(api: client.ApiClient, namespace: str) -> bool:
    status = services.get(api, namespace, "web").get("status") or {}
    live = [pod.metadata.uid for pod in services.pods(api, namespace, "web")]
    return (
        status.get("state") == "Running"
        and status.get("running_of_target") == "2/2"
        and status.get("containers") == sorted(CONTAINER_URI.format(uid=uid) for uid in live)
    )


def _pod_names(api: client.ApiClient, namespace: str) -> list[str]:
    return [pod.metadata.name for pod in services.pods(api, namespace, "web")]
