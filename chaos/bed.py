"""The bed the faults are injected into: a local control plane of its own (`testbed`), the
Service CRD, and the operator as a process that can be SIGKILLed and restarted.

Everything listens on loopback. Leaving the `with` block stops the operator and the control
plane, whatever ended it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from testbed import service_crd
from testbed.controlplane import Component, ControlPlane, _http_ok

T = TypeVar("T")
READY_LINE = "children; reconciling."  # the operator logs it once it knows the world
# A kopf log record starts with a timestamp in brackets: `[2024-01-01 10:00:00,000] ...`.
RECORD_START = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
TRANSIENT = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError, OSError)


class BedError(RuntimeError):
    """The bed itself failed (the operator did not start, the API did not come back)."""


def retrying(call: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """`call()`, retried while the API server is unreachable or answers 5xx/429."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as error:
            if error.status not in (429, 500, 502, 503, 504) or time.monotonic() > deadline:
                raise
        except TRANSIENT:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


@dataclass
class LogRecord:
    """One record of the operator's log: its first line and any continuation (a traceback)."""

    offset: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def traceback(self) -> bool:
        return any(line.startswith("Traceback (most recent call last)") for line in self.lines)

    @property
    def level(self) -> str:
        match = re.search(r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\]", self.lines[0])
        return match[1] if match else ""


def log_records(text: str, base: int = 0) -> list[LogRecord]:
    records: list[LogRecord] = []
    offset = base
    for line in text.splitlines():
        if RECORD_START.match(line) or not records:
            records.append(LogRecord(offset, [line]))
        else:
            records[-1].lines.append(line)
        offset += len(line.encode()) + 1
    return records


@dataclass
class Operator:
    """`dockercloud-operator run` in a process of its own, logging to `log`."""

    kubeconfig: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    unexpected_exits: list[int] = field(default_factory=list)  # exit codes nobody asked for
    memory_limit: int = 2 << 30  # bytes of RSS; beyond it the watchdog SIGKILLs the operator
    memory_kills: list[int] = field(default_factory=list)  # the RSS it had when killed
    env: dict[str, str] = field(default_factory=dict)  # settings of its own (DOCKERCLOUD_...)

    def start(self, timeout: float = 90.0) -> float:
        """Starts it and waits until it has listed the world; returns the seconds that took."""
        assert not self.alive(), "the operator is running already"
        offset = self.log.stat().st_size if self.log.exists() else 0
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DOCKERCLOUD_")},
            "KUBECONFIG": str(self.kubeconfig),
            "DOCKERCLOUD_METRICS_PORT": "0",  # several operators may run on this machine
            **self.env,
        }
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dockercloud_operator", "run"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        while READY_LINE not in self.output(offset):
            if not self.alive():
                raise BedError(f"the operator exited while starting:\n{self.output(offset)}")
            if time.monotonic() - started > timeout:
                raise BedError(f"the operator did not start in {timeout:.0f}s")
            time.sleep(0.1)
        return time.monotonic() - started

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss(self) -> int:
        """The operator's resident memory in bytes (0 when it is not running)."""
        process = self.process
        if process is None or process.poll() is not None:
            return 0
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            return 0
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match[1]) * 1024 if match else 0

    def watch_memory(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Until `stop`: SIGKILLs the operator when its memory passes `memory_limit`, so a
        runaway operator cannot take the machine with it (the kill is reported as a failure)."""
        while not stop.wait(interval):
            process, rss = self.process, self.rss()
            if process is not None and rss > self.memory_limit:
                self.memory_kills.append(rss)
                with contextlib.suppress(OSError):
                    process.send_signal(signal.SIGKILL)

    def check(self) -> None:
        """Records an exit nobody asked for (a crash)."""
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            self.unexpected_exits.append(code)
            self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no chance to finish a write."""
        self.check()
        assert self.process is not None, "the operator is not running"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None
        self.kills += 1

    def stop(self) -> None:
        """Stops it as Ctrl-C would."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def output(self, offset: int = 0) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def records(self, offset: int = 0) -> list[LogRecord]:
        return log_records(self.output(offset), offset)


class Bed:
    """A control plane, the CRD and the operator (not started: `bed.operator.start()`)."""

    def __init__(
        self, workdir: Path, say: Callable[[str], None] = print, restart_controllers: bool = True
    ) -> None:
        self.workdir = workdir
        self.restart_controllers = restart_controllers  # after an API server restart
        self.controllers_restarted_in = 0.0  # seconds, after the API server answered
        self.say = say
        # kube-controller-manager's own node grace period (50 s): the bed's kwok renews its
        # nodes' Leases after every outage (it is restarted with the controllers, below) and
        # the plane's watchdog restarts it within 35 s should it stop.
        self.plane = ControlPlane(
            workdir=workdir / "plane", say=say, default_logs=False, node_grace_period=None
        )
        self._stack = contextlib.ExitStack()
        self.api: client.ApiClient | None = None
        self.operator: Operator | None = None

    def __enter__(self) -> Bed:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._stack.enter_context(self.plane)
            self._stack.callback(self._kill_components)
            self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(self.plane.kubeconfig)
            )
            # The CRD first: kube-controller-manager, restarted next, then knows it from its
            # start. Its garbage collector looks for new kinds every 30 s only, and until then
            # it cannot collect the children of a deleted service (`unable to get REST mapping
            # for app.dockercloud.dev/v1/Service`), so a run's first deletions would leak.
            self._install_crd()
            self._restart_controller_manager()
            self.operator = Operator(self.plane.kubeconfig, self.workdir / "operator.log")
            self._stack.callback(self.operator.stop)
            stop = threading.Event()
            watchdog = threading.Thread(
                target=self.operator.watch_memory, args=(stop,), name="memory", daemon=True
            )
            watchdog.start()
            self._stack.callback(stop.set)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def client(self) -> client.ApiClient:
        assert self.api is not None
        return self.api

    @property
    def op(self) -> Operator:
        assert self.operator is not None
        return self.operator

    def _kill_components(self) -> None:
        """SIGKILL, newest first: a bed that goes away needs no graceful shutdown, and the
        harness's (SIGTERM, then a wait) takes seconds. The harness then removes its files."""
        for component in reversed(self.plane.components):
            process = component.process
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    def _restart_controller_manager(self) -> None:
        """kube-controller-manager again, now that the CRD is there (see `__enter__`)."""
        self.restart("kube-controller-manager")

    def restart(self, name: str) -> None:
        """Stops a component and starts it again; returns once it answers its /healthz."""
        component = self.component(name)
        component.stop()
        component.start()
        port = next(a.split("=", 1)[1] for a in component.command if a.startswith("--secure-port="))
        deadline = time.monotonic() + 60
        while not _http_ok(f"https://127.0.0.1:{port}/healthz"):
            component.check_alive()
            if time.monotonic() > deadline:
                raise BedError(f"{name} did not come back in 60s")
            time.sleep(0.2)

    def _install_crd(self) -> None:
        try:
            service_crd.install(self.client, field_manager="dockercloud-chaos")
        except TimeoutError as error:
            raise BedError(str(error)) from None

    # -- faults on the control plane ------------------------------------------------------------

    def component(self, name: str) -> Component:
        return next(c for c in self.plane.components if c.name == name)

    def pid(self, name: str) -> int:
        process = self.component(name).process
        assert process is not None and process.poll() is None, f"{name} is not running"
        return process.pid

    @contextlib.contextmanager
    def frozen(self, name: str) -> Iterator[None]:
        """SIGSTOP `name` for the block (SIGCONT whatever happens): its sockets stay open,
        and silent."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def stop_component(self, name: str, kill: bool = False) -> None:
        component = self.component(name)
        if kill and component.process is not None:
            component.process.kill()
            component.process.wait()
        else:
            component.stop()

    def start_component(self, name: str) -> None:
        self.component(name).start()

    def wait_api(self, timeout: float = 90.0) -> float:
        """Waits until the API server answers /readyz; returns the seconds that took."""
        started = time.monotonic()
        while True:
            try:
                params = self.client.param_serialize(
                    method="GET", resource_path="/readyz", auth_settings=["BearerToken"]
                )
                response = self.client.call_api(*params, _request_timeout=3)
                response.read()  # type: ignore[no-untyped-call]
                if response.status == 200:
                    return time.monotonic() - started
            except (ApiException, *TRANSIENT):
                pass
            self.component("kube-apiserver").check_alive()
            if time.monotonic() - started > timeout:
                raise BedError(f"the API server did not come back in {timeout:.0f}s")
            time.sleep(0.3)

    def restart_apiserver(self, down_for: float, kill: bool = False) -> float:
        """Stops kube-apiserver (SIGTERM, or SIGKILL), waits `down_for` seconds, starts it again
        on the same port; returns the seconds until it was ready."""
        self.stop_component("kube-apiserver", kill=kill)
        time.sleep(down_for)
        self.start_component("kube-apiserver")
        seconds = self.wait_api()
        if self.restart_controllers:
            began = time.monotonic()
            self._restart_controllers()
            self.controllers_restarted_in = time.monotonic() - began
        return seconds

    def _restart_controllers(self) -> None:
        """kube-controller-manager, kube-scheduler and kwok started afresh once the API server
        is back. Left running, their informers come back only after client-go's watch backoff
        (up to a minute, longer with each outage within two minutes of the last), and
        kube-controller-manager was seen to leave an old ReplicaSet's pods running for good
        (its sync failed during the outage, and nothing made it look again). On a cluster they
        restart when their leader election is lost, which a longer outage does; a kubelet's
        informers back off like kwok's. kwok's node Leases are released for its new identity
        (`ControlPlane.restart_kwok`), so it manages its nodes' pods at once."""
        for name in ("kube-controller-manager", "kube-scheduler"):
            self.restart(name)
        self.plane.restart_kwok()


def describe(error: BaseException) -> str:
    """An API error as its status and message, anything else as its repr."""
    if isinstance(error, ApiException):
        import json

        with contextlib.suppress(Exception):
            body: Any = json.loads(error.body or "{}")
            return f"HTTP {error.status}: {body.get('message', error.reason)}"
        return f"HTTP {error.status}: {error.reason}"
    return repr(error)
