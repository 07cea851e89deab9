"""A real, local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (simulated nodes whose pods really go Running), on free loopback ports,
plus a tiny dynamic volume provisioner (a thread) behind the default StorageClass `testbed`.
`kubectl logs` works for pods on the kwok nodes: kwok serves their containers' logs from files
that kwok's `Logs`/`ClusterLogs` objects name (see `pod_logs`, `cluster_logs` and `cri_log`);
a log writer (another thread, `container_logs.py`) gives every container a log of its own
unless a test configures one.

    python -m testbed.controlplane build            # build the binaries if missing
    python -m testbed.controlplane up [--background] [--kubeconfig PATH]
    python -m testbed.controlplane down             # stop a background one

As a library: `with ControlPlane() as plane: ... plane.kubeconfig ...`. Every process it starts
is stopped, and its temporary folder removed, when the block ends for whatever reason; should
the harness itself be killed, the kernel kills its children (parent-death signal).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import yaml

from dockercloud_operator.schema.constants import TAG_LABEL_PREFIX
from testbed import build
from testbed.container_logs import KWOK_API_VERSION, KWOK_GROUP, LogWriter
from testbed.pki import Pki, make_pki

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / ".testbed"
NODE_COUNT = 3
NODE_NAME = "kwok-node-{}"
# Node 0 carries a Docker Cloud tag, so placement by tags can be tested.
TAGGED_NODE_LABELS = {f"{TAG_LABEL_PREFIX}ssd": "true"}
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_MODULE = "sigs.k8s.io/kwok"
NODE_LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
# The kwok CRDs installed and enabled (kind -> plural): they say which file a container logs.
KWOK_CRDS = {"Logs": "logs", "ClusterLogs": "clusterlogs"}
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
STORAGE_CLASS = "testbed"
PROVISIONER = "testbed.dockercloud.dev/hostpath"
PROVISION_INTERVAL = 0.5
LOG_WRITER_INTERVAL = 1.0
# kwok renews a node's Lease about every 10 s (its duration is 40 s): one not renewed for this
# long, on two looks in a row, means kwok stopped renewing it, and kwok is restarted. Both are
# short enough that a restarted kwok renews well within kube-controller-manager's default node
# grace period (50 s): 25 s, then at most 2 looks 5 s apart.
LEASE_STALE_SECONDS = 25.0
LEASE_CHECK_INTERVAL = 5.0
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class StartError(RuntimeError):
    """A component did not come up; the message carries the end of its log."""


@dataclass
class Component:
    name: str
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the harness, which stops us in order
                preexec_fn=_die_with_parent,
            )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise StartError(
                f"{self.name} exited with code {self.process.returncode}; "
                f"the end of {self.log}:\n{_tail(self.log)}"
            )

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class ControlPlane:
    """Starts the control plane on entering, stops all of it on leaving."""

    workdir: Path | None = None
    kubeconfig_path: Path | None = None
    node_count: int = NODE_COUNT
    # Client rate limits of kube-controller-manager and kube-scheduler (their defaults are 20/30).
    api_qps: int = 200
    api_burst: int = 400
    say: Callable[[str], None] = lambda line: None
    # A log for every simulated container (testbed/container_logs.py); off for benchmarks,
    # where its requests would count against the API server.
    default_logs: bool = True
    # Workers of each workload controller of kube-controller-manager (deployment, replicaset,
    # statefulset, daemonset, Endpoints, EndpointSlice); None keeps its defaults (5; 2 for
    # daemonsets). Benchmarks raise it so that no phase waits on those workers.
    controller_syncs: int | None = None
    # kube-controller-manager's --node-monitor-grace-period; None keeps its default (50 s).
    node_grace_period: str | None = "2m"
    components: list[Component] = field(default_factory=list)
    server: str = ""
    _owns_workdir: bool = False
    _pki: Pki | None = None
    _housekeepers: list[threading.Thread] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _kwok_port: int = 0
    kwok_started: float = 0.0  # time.monotonic() of kwok's last (re)start
    _kwok_restart: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def kubeconfig(self) -> Path:
        assert self.kubeconfig_path is not None, "the control plane is not started"
        return self.kubeconfig_path

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self.components if c.process is not None]

    def start(self) -> None:
        started = time.monotonic()
        bin_dir = build.ensure_binaries(self.say)
        kwok_module = kwok_module_dir()
        kwok_crds = read_kwok_crds(kwok_module)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="dockercloud-testbed-"))
            self._owns_workdir = True
        workdir = self.workdir
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        pki = self._pki = make_pki(workdir / "pki")
        if self.kubeconfig_path is None:
            self.kubeconfig_path = workdir / "kubeconfig"

        etcd_port, etcd_peer_port = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        self._launch(
            bin_dir / "etcd",
            "etcd",
            "--name=testbed",
            f"--data-dir={workdir / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer_port}",
            f"--initial-cluster=testbed=http://127.0.0.1:{etcd_peer_port}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        )
        self._wait("etcd", lambda: _http_ok(f"{etcd_url}/health"))

        apiserver_port = free_port()
        self.server = f"https://127.0.0.1:{apiserver_port}"
        self._launch(
            bin_dir / "kube-apiserver",
            "kube-apiserver",
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={apiserver_port}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            # A MutatingAdmissionPolicy gives each new Service its finalizer as it is created
            # (beta in 1.34 and off by default, GA from 1.36), saving the operator a write.
            # ContainerRestartRules: a container's own restartPolicy (alpha in 1.34), what
            # autorestart OFF and ON_FAILURE need; the bed's kwok stage plays the kubelet's part
            # (testbed/stages/container-exit.yaml).
            "--feature-gates=MutatingAdmissionPolicy=true,ContainerRestartRules=true",
            "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
            # pods/log (exec, port-forward) is proxied to the node's "kubelet", here kwok's server
            # at the node's InternalIP (127.0.0.1) and status.daemonEndpoints port, over TLS
            # verified with the bed's CA. kwok asks for no client certificate; a kubelet would.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki.ca_cert}",
            f"--kubelet-client-certificate={pki.admin_cert}",
            f"--kubelet-client-key={pki.admin_key}",
        )
        self._wait("kube-apiserver", lambda: self._api_ok("/readyz"))
        _write_kubeconfig(self.kubeconfig, self.server, pki)
        # kwok watches its CRDs from the start, so they go in first; they are established while
        # kube-controller-manager and kube-scheduler start.
        for crd in kwok_crds:
            self._api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)

        common = [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--kube-api-qps={self.api_qps}",
            f"--kube-api-burst={self.api_burst}",
        ]
        controller_manager_port = free_port()
        self._launch(
            bin_dir / "kube-controller-manager",
            "kube-controller-manager",
            *common,
            f"--secure-port={controller_manager_port}",
            f"--cert-dir={workdir / 'controller-manager-certs'}",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            # A node that misses heartbeats goes NotReady and its pods lose Ready for good
            # (no kubelet restores it); on a loaded 2-core machine the default 50 s is tight.
            *node_grace_period_flags(self.node_grace_period),
            *controller_syncs_flags(self.controller_syncs),
        )
        scheduler_port = free_port()
        self._launch(
            bin_dir / "kube-scheduler",
            "kube-scheduler",
            *common,
            f"--secure-port={scheduler_port}",
            f"--cert-dir={workdir / 'scheduler-certs'}",
        )
        self._wait("kwok's CRDs to be served", self._kwok_crds_served)
        kwok_port = free_port()
        kwok_config = workdir / "kwok-stages.yaml"
        kwok_config.write_text(yaml.safe_dump_all(kwok_stages(kwok_module)))
        self._launch(
            bin_dir / "kwok",
            "kwok",
            f"--kubeconfig={self.kubeconfig}",
            f"--config={kwok_config}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}=fake",
            "--cidr=10.244.0.1/16",
            "--node-ip=127.0.0.1",
            # Heartbeats through node Leases, renewed every 10 s (as a kubelet does), instead
            # of status updates every 20-45 s that kube-controller-manager may find too late.
            "--node-lease-duration-seconds=40",
            # The "kubelet" of every node: containerLogs, exec, ... Nodes advertise --node-port.
            f"--server-address=127.0.0.1:{kwok_port}",
            f"--node-port={kwok_port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--enable-crds={','.join(KWOK_CRDS)}",
        )
        self._wait(
            "kube-controller-manager",
            lambda: _http_ok(f"https://127.0.0.1:{controller_manager_port}/healthz"),
        )
        self._wait(
            "kube-scheduler", lambda: _http_ok(f"https://127.0.0.1:{scheduler_port}/healthz")
        )
        self._kwok_port = kwok_port
        self.kwok_started = time.monotonic()
        self._wait("kwok's server", self._kwok_answers)

        for index in range(self.node_count):
            labels = TAGGED_NODE_LABELS if index == 0 else {}
            self._api("POST", "/api/v1/nodes", fake_node(NODE_NAME.format(index), labels))
        self._wait("the kwok nodes to be Ready", self._nodes_ready)
        self._api("POST", "/apis/storage.k8s.io/v1/storageclasses", storage_class())
        self._stopping.clear()
        self._keep("provisioner", self._provision_pass, PROVISION_INTERVAL)
        self._keep("kwok-watchdog", LeaseWatchdog(self).step, LEASE_CHECK_INTERVAL)
        if self.default_logs:
            writer = LogWriter(workdir / "container-logs", self._api, self._logger("log-writer"))
            self._keep("log-writer", writer.step, LOG_WRITER_INTERVAL)
        self._wait(
            "the default ServiceAccount",
            lambda: self._api_ok("/api/v1/namespaces/default/serviceaccounts/default"),
        )
        self.say(
            f"Control plane ready at {self.server} in {time.monotonic() - started:.1f}s "
            f"({self.node_count} kwok nodes); kubeconfig: {self.kubeconfig}"
        )

    def stop(self) -> None:
        """Stops what was started, newest first, and removes the temporary folder."""
        # The housekeepers first: they talk to the API server, which is about to go.
        self._stopping.set()
        for thread in self._housekeepers:
            thread.join(STOP_TIMEOUT)
        self._housekeepers.clear()
        for component in reversed(self.components):
            component.stop()
        if self._owns_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------

    def _launch(self, binary: Path, name: str, *args: str) -> None:
        assert self.workdir is not None
        component = Component(name, [str(binary), *args], self.workdir / "logs" / f"{name}.log")
        self.components.append(component)
        component.start()

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for component in self.components:
                component.check_alive()
            if ready():
                return
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {c.name}\n{_tail(c.log, 15)}" for c in self.components)
                raise StartError(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
            time.sleep(0.2)

    def _ssl_context(self) -> ssl.SSLContext:
        assert self._pki is not None
        context = ssl.create_default_context(cafile=str(self._pki.ca_cert))
        context.load_cert_chain(str(self._pki.admin_cert), str(self._pki.admin_key))
        return context

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 content_type: str = "application/json") -> bytes:  # fmt: skip
        request = urllib.request.Request(
            self.server + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, context=self._ssl_context(), timeout=10) as reply:
            return bytes(reply.read())

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return json.loads(self._request(method, path, body))

    # -- kwok ----------------------------------------------------------------------------------

    def restart_kwok(self) -> None:
        """kwok stopped, its nodes' Leases released, kwok started again; returns once it answers.
        A kwok process takes a new identity at every start, and takes over a Lease another
        identity holds only once it has expired (40 s), managing none of that node's pods until
        then; the old process is gone, so its Leases are released for the new one at once."""
        with self._kwok_restart:
            kwok = next(c for c in self.components if c.name == "kwok")
            kwok.stop()
            self.release_kwok_leases()
            kwok.start()
            self.kwok_started = time.monotonic()
            deadline = time.monotonic() + 60
            while not self._kwok_answers():
                kwok.check_alive()
                if time.monotonic() > deadline:
                    raise StartError("kwok did not come back in 60s")
                time.sleep(0.2)

    def release_kwok_leases(self) -> None:
        """Clears the holder of every kwok node's Lease (renewTime stays, so the node lifecycle
        controller sees no missed heartbeat): any kwok then acquires it at its first look."""
        nodes = self._kwok_nodes()
        for lease in self._api("GET", NODE_LEASES)["items"]:
            if lease["metadata"]["name"] in nodes:
                self._request("PATCH", f"{NODE_LEASES}/{lease['metadata']['name']}",
                              {"spec": {"holderIdentity": None}},
                              content_type="application/merge-patch+json")  # fmt: skip

    def _kwok_nodes(self) -> set[str]:
        return {
            node["metadata"]["name"]
            for node in self._api("GET", "/api/v1/nodes")["items"]
            if KWOK_NODE_ANNOTATION in node["metadata"].get("annotations", {})
        }

    def _kwok_answers(self) -> bool:
        return _http_ok(f"https://127.0.0.1:{self._kwok_port}/healthz")

    def _api_ok(self, path: str) -> bool:
        try:
            self._request("GET", path)
        except (urllib.error.URLError, OSError):
            return False
        return True

    def _logger(self, name: str) -> Callable[[str], None]:
        """Lines with a time into logs/<name>.log."""
        assert self.workdir is not None
        log = self.workdir / "logs" / f"{name}.log"

        def say(line: str) -> None:
            with log.open("a") as out:
                out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")

        return say

    def _keep(self, name: str, step: Callable[[], None], interval: float) -> None:
        """Runs `step` every `interval` seconds in a thread until the plane stops; a failed
        step (the API server busy, or going away) is logged to logs/<name>.log and retried."""
        say = self._logger(name)

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    step()
                except Exception as error:
                    say(f"pass failed: {_describe(error)}")
                self._stopping.wait(interval)

        thread = threading.Thread(target=loop, name=f"testbed-{name}", daemon=True)
        self._housekeepers.append(thread)
        thread.start()

    def _provision_pass(self) -> None:
        """Dynamic provisioning for the `testbed` StorageClass (run every PROVISION_INTERVAL s).

        Nothing else in the bed provisions volumes, so without this a PersistentVolumeClaim (a
        StatefulSet's volumeClaimTemplate, say) stays Pending and its pods are never scheduled.
        For each Pending `testbed` claim it creates a hostPath PersistentVolume already claimed by
        it (kube-controller-manager's PV controller does the binding), and it deletes the
        `testbed` volumes whose claim is gone (Released or Failed), which the PV controller leaves
        to the external provisioner. What it does goes to logs/provisioner.log.
        """
        assert self.workdir is not None
        root, say = self.workdir / "volumes", self._logger("provisioner")
        claims = self._api("GET", "/api/v1/persistentvolumeclaims")["items"]
        volumes = self._api("GET", "/api/v1/persistentvolumes")["items"]
        # (what, method, path, body, the HTTP status that means "done already")
        requests: list[tuple[str, str, str, dict[str, Any] | None, int]] = []
        for claim in filter(needs_volume, claims):
            volume = persistent_volume_for(claim, root)
            what = f"create {volume['metadata']['name']} for {_key(claim)}"
            requests.append((what, "POST", "/api/v1/persistentvolumes", volume, 409))
        for volume in filter(is_released, volumes):
            name = volume["metadata"]["name"]
            path = f"/api/v1/persistentvolumes/{name}"
            requests.append((f"delete {name} (was {_key(volume)})", "DELETE", path, None, 404))
        for what, method, path, body, done_already in requests:
            try:
                self._api(method, path, body)
            except urllib.error.HTTPError as error:
                if error.code != done_already:
                    say(f"{what} failed: {_describe(error)}")
            else:
                say(what)

    def _kwok_crds_served(self) -> bool:
        try:
            resources = self._api("GET", f"/apis/{KWOK_GROUP}/{KWOK_API_VERSION}")["resources"]
        except (urllib.error.URLError, OSError):
            return False
        return set(KWOK_CRDS.values()) <= {resource["name"] for resource in resources}

    def _nodes_ready(self) -> bool:
        nodes = self._api("GET", "/api/v1/nodes")["items"]
        ready = [
            node
            for node in nodes
            for condition in node.get("status", {}).get("conditions", [])
            if condition["type"] == "Ready" and condition["status"] == "True"
        ]
        return len(ready) == self.node_count


# (--concurrent-service-endpoint-syncs is the EndpointSlice controller's.)
CONTROLLER_SYNCS = ("deployment", "replicaset", "statefulset", "daemonset", "endpoint",
                    "service-endpoint")  # fmt: skip


def node_grace_period_flags(grace: str | None) -> list[str]:
    return [] if grace is None else [f"--node-monitor-grace-period={grace}"]


def controller_syncs_flags(workers: int | None) -> list[str]:
    """kube-controller-manager's --concurrent-<controller>-syncs for each workload controller."""
    if workers is None:
        return []
    return [f"--concurrent-{name}-syncs={workers}" for name in CONTROLLER_SYNCS]


def stale_leases(leases: list[dict[str, Any]], nodes: set[str], now: datetime.datetime,
                 limit: float = LEASE_STALE_SECONDS) -> list[str]:  # fmt: skip
    """The kwok nodes whose Lease was last renewed more than `limit` seconds before `now`."""
    stale = []
    for lease in leases:
        name, renewed = lease["metadata"]["name"], lease.get("spec", {}).get("renewTime")
        if name not in nodes or not renewed:
            continue
        age = (now - datetime.datetime.fromisoformat(renewed)).total_seconds()
        if age > limit:
            stale.append(name)
    return sorted(stale)


class LeaseWatchdog:
    """Restarts kwok when it has stopped renewing its nodes' Leases while the API server
    answers (seen once, after an API server outage): the node lifecycle controller would
    otherwise mark the nodes NotReady, and every pod on them, for reasons outside what runs on
    the plane. Each restart is logged (logs/kwok-watchdog.log)."""

    def __init__(self, plane: ControlPlane) -> None:
        self.plane = plane
        self.suspects: set[str] = set()
        self.restarts = 0

    def step(self) -> None:
        if time.monotonic() - self.plane.kwok_started < LEASE_STALE_SECONDS:
            self.suspects = set()  # a kwok just started is still taking its Leases over
            return
        nodes = self.plane._kwok_nodes()
        leases = self.plane._api("GET", NODE_LEASES)["items"]
        stale = set(stale_leases(leases, nodes, datetime.datetime.now(datetime.UTC)))
        confirmed, self.suspects = stale & self.suspects, stale
        if not confirmed:
            return
        say = self.plane._logger("kwok-watchdog")
        say(f"kwok has not renewed the leases of {sorted(confirmed)} for over "
            f"{LEASE_STALE_SECONDS:.0f}s; restarting it")  # fmt: skip
        self.plane.restart_kwok()
        self.restarts += 1
        self.suspects = set()


PODS_PER_NODE = 1000


def nodes_for(size: int, nodes: int) -> int:
    """At least `nodes` kwok nodes, and room for every service's container and its replacement
    at once (a rolling update surges one pod a Deployment): with 10,000 services on ten nodes
    of 1,000 pods, the replacements of the direct update stayed Pending for good."""
    return max(nodes, -(-2 * size // PODS_PER_NODE))


def fake_node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Node that kwok manages: it reports Ready and moves pods bound to it to Running."""
    resources = {"cpu": "32", "memory": "256Gi", "pods": str(PODS_PER_NODE)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **labels,
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


def kwok_module_dir() -> Path:
    """The pinned kwok module's source in the Go module cache (downloaded if it was cleaned)."""
    if shutil.which("go") is None:
        raise StartError("`go` is not on PATH: it locates kwok's CRDs in the Go module cache")
    result = subprocess.run(
        ["go", "mod", "download", "-json", KWOK_MODULE],
        cwd=build.TESTBED / "kwok",
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StartError(f"`go mod download {KWOK_MODULE}` failed:\n{result.stdout}{result.stderr}")
    return Path(json.loads(result.stdout)["Dir"])


STAGES_DIR = Path(__file__).resolve().parent / "stages"


def kwok_stages(module_dir: Path) -> list[dict[str, Any]]:
    """The pod stages kwok runs: its own defaults (the "fast" ones, read from the module in
    their kustomization's order) and the bed's (`testbed/stages/`). kwok runs either its
    defaults or the configured pod stages, so the defaults are configured too."""
    fast = module_dir / "kustomize" / "stage" / "pod" / "fast"
    order = yaml.safe_load((fast / "kustomization.yaml").read_text())["resources"]
    stages = [yaml.safe_load((fast / name).read_text()) for name in order]
    stages += [yaml.safe_load(path.read_text()) for path in sorted(STAGES_DIR.glob("*.yaml"))]
    return stages


def read_kwok_crds(module_dir: Path) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions of KWOK_CRDS, as the kwok module ships them."""
    bases = module_dir / "kustomize" / "crd" / "bases"
    crds = []
    for plural in KWOK_CRDS.values():
        path = bases / f"{KWOK_GROUP}_{plural}.yaml"
        crd = yaml.safe_load(path.read_text())
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            raise StartError(f"{path} is not a CustomResourceDefinition")
        crds.append(crd)
    return crds


# What a container logs: one file for every container of the pod, or a file per container name.
LogsFiles: TypeAlias = Path | str | Mapping[str, Path | str]


def _log_entries(logs: LogsFiles) -> list[dict[str, Any]]:
    """kwok `Log` entries: one without `containers` (every container), or one per container.
    (`follow` is recorded for kwok versions that read it; v0.7.0 follows when the request asks.)"""
    if isinstance(logs, Mapping):
        return [
            {"containers": [container], "logsFile": str(path), "follow": True}
            for container, path in logs.items()
        ]
    return [{"logsFile": str(logs), "follow": True}]


def pod_logs(pod: str, namespace: str, logs: LogsFiles) -> dict[str, Any]:
    """A kwok `Logs` object: `pod`'s containers log the file `logs` names (one for them all, or
    one per container name), which holds CRI-format lines (see `cri_log`). It is namespaced and
    named after the pod, which is how kwok matches it, and kwok uses it instead of any
    `ClusterLogs`, even for a container it does not name (which then has no log)."""
    return {
        "apiVersion": f"{KWOK_GROUP}/{KWOK_API_VERSION}",
        "kind": "Logs",
        "metadata": {"name": pod, "namespace": namespace},
        "spec": {"logs": _log_entries(logs)},
    }


def cluster_logs(
    name: str, logs: LogsFiles, *, namespaces: Sequence[str] = (), pods: Sequence[str] = ()
) -> dict[str, Any]:
    """A kwok `ClusterLogs` object: the containers of the pods in `namespaces` named `pods`
    (either empty: any) log the file `logs` names, as in `pod_logs`.

    kwok v0.7.0 selects pods by namespace and name only, not by label; when several match, which
    one serves a pod is unspecified. It is cluster-scoped: deleting a namespace leaves it."""
    selector: dict[str, list[str]] = {}
    if namespaces:
        selector["matchNamespaces"] = list(namespaces)
    if pods:
        selector["matchNames"] = list(pods)
    return {
        "apiVersion": f"{KWOK_GROUP}/{KWOK_API_VERSION}",
        "kind": "ClusterLogs",
        "metadata": {"name": name},
        "spec": {"selector": selector, "logs": _log_entries(logs)},
    }


def cri_log(*lines: str, stream: str = "stdout", at: datetime.datetime | None = None) -> str:
    """`lines` in the CRI logging format the kubelet (and kwok) read container logs in:
    `<RFC 3339 time> <stdout|stderr> F <line>` each, newline-terminated, all at time `at` (now
    by default). `kubectl logs` shows just the lines; `--timestamps` adds the time."""
    if stream not in ("stdout", "stderr"):
        raise ValueError(f"stream must be stdout or stderr, not {stream!r}")
    when = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for line in lines:
        if "\n" in line:
            raise ValueError(f"a log line cannot contain a newline: {line!r}")
    return "".join(f"{stamp} {stream} F {line}\n" for line in lines)


def storage_class() -> dict[str, Any]:
    """The default StorageClass, served by the harness's own provisioner (`_provision_pass`)."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Delete",
    }


def needs_volume(claim: dict[str, Any]) -> bool:
    """A live, Pending claim of the `testbed` class that no volume is bound to yet."""
    spec = claim.get("spec", {})
    return (
        claim.get("status", {}).get("phase") == "Pending"
        and not spec.get("volumeName")
        and spec.get("storageClassName") == STORAGE_CLASS
        and not claim["metadata"].get("deletionTimestamp")
    )


def is_released(volume: dict[str, Any]) -> bool:
    """A `testbed` volume whose claim is gone: the provisioner deletes it."""
    released = volume.get("status", {}).get("phase") in ("Released", "Failed")
    return released and volume.get("spec", {}).get("storageClassName") == STORAGE_CLASS


def persistent_volume_for(claim: dict[str, Any], root: Path) -> dict[str, Any]:
    """A hostPath PersistentVolume under `root`, sized and pre-bound to `claim`."""
    meta, spec = claim["metadata"], claim["spec"]
    uid = meta["uid"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{uid}",
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec["accessModes"],
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": str(root / uid), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": uid,
            },
        },
    }


def _key(obj: dict[str, Any]) -> str:
    """namespace/name of a claim, or of the claim a volume refers to."""
    ref = obj.get("spec", {}).get("claimRef") or obj["metadata"]
    return f"{ref.get('namespace')}/{ref.get('name')}"


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        with contextlib.suppress(Exception):
            return f"HTTP {error.code}: {json.loads(error.read())['message']}"
    return repr(error)


def _http_ok(url: str) -> bool:
    # Component health endpoints serve self-signed certificates; only reachability matters here.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _write_kubeconfig(path: Path, server: str, pki: Pki) -> None:
    def b64(file: Path) -> str:
        return base64.b64encode(file.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "testbed",
                "cluster": {"server": server, "certificate-authority-data": b64(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": b64(pki.admin_cert),
                    "client-key-data": b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": "testbed", "context": {"cluster": "testbed", "user": "admin"}}],
        "current-context": "testbed",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # JSON is YAML; written whole, then renamed, so a reader never sees half a file.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(config, indent=2))
    partial.chmod(0o600)
    partial.rename(path)


# -- command line ------------------------------------------------------------------------------


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turns SIGTERM into SystemExit so `finally` blocks (and so the stop) run."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(line: str) -> None:
    print(line, flush=True)


def up(kubeconfig: Path, ready_file: Path | None = None) -> None:
    """Runs the control plane in the foreground until interrupted."""
    with signals_raise(), contextlib.ExitStack() as stack:
        # Files outside the temporary folder go too, whichever way this ends.
        stack.callback(kubeconfig.unlink, missing_ok=True)
        if ready_file is not None:
            stack.callback(ready_file.unlink, missing_ok=True)
        plane = stack.enter_context(ControlPlane(kubeconfig_path=kubeconfig, say=_say))
        if ready_file is not None:
            state = {"pid": os.getpid(), "pids": plane.pids, "workdir": str(plane.workdir)}
            ready_file.write_text(json.dumps(state))
        _say(f"export KUBECONFIG={kubeconfig}   # then: kubectl get nodes. Ctrl-C stops it.")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
        _say("Stopping the control plane.")


def up_in_background(kubeconfig: Path) -> None:
    """Starts `up` as a detached process; returns once the cluster is ready."""
    STATE_DIR.mkdir(exist_ok=True)
    pid_file = STATE_DIR / "controlplane.json"
    if pid_file.exists() and _alive(json.loads(pid_file.read_text())["pid"]):
        _say(f"The local control plane is already running; KUBECONFIG={kubeconfig}")
        return
    build.ensure_binaries(_say)  # in the foreground, so its progress shows
    pid_file.unlink(missing_ok=True)
    log = STATE_DIR / "controlplane.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "testbed.controlplane", "up", "--kubeconfig", str(kubeconfig),
             "--ready-file", str(pid_file)],
            cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT + 30
    while not pid_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"The control plane did not start; the end of {log}:\n{_tail(log)}")
        time.sleep(0.5)
    _say(
        f"Local control plane running (pid {process.pid}, log {log}).\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        "  kubectl get nodes\n"
        "  make cluster-down   # stops it"
    )


def down() -> None:
    pid_file = STATE_DIR / "controlplane.json"
    if not pid_file.exists():
        _say("No local control plane is running.")
        return
    pid = int(json.loads(pid_file.read_text())["pid"])
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT * 6
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    pid_file.unlink(missing_ok=True)
    _say("Local control plane stopped.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not running.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[-1].startswith("Z"):
            return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m testbed.controlplane", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the binaries if missing")
    commands.add_parser("bin", help="print the binaries' folder (building them if missing)")
    up_parser = commands.add_parser("up", help="run the control plane")
    up_parser.add_argument("--kubeconfig", type=Path, default=STATE_DIR / "kubeconfig")
    up_parser.add_argument("--background", action="store_true")
    up_parser.add_argument("--ready-file", type=Path, help=argparse.SUPPRESS)
    commands.add_parser("down", help="stop the background control plane")
    args = parser.parse_args(argv)

    if args.command == "build":
        build.ensure_binaries(_say)
    elif args.command == "bin":
        print(build.ensure_binaries(lambda line: print(line, file=sys.stderr, flush=True)))
    elif args.command == "up" and args.background:
        up_in_background(args.kubeconfig.resolve())
    elif args.command == "up":
        up(args.kubeconfig.resolve(), args.ready_file)
    else:
        down()


if __name__ == "__main__":
    main()
