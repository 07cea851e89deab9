"""The operator as users run it (`dockercloud-operator run`), in a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.wait import wait_for

READY_LINE = "children; reconciling."


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dockercloud_operator", "run"],
                # No metrics endpoint: several operators may run on this machine at once.
                # Every state written, however short: the tests watch each transition (the
                # default hold has tests of its own, in test_status_hold.py).
                env={
                    **os.environ,
                    "KUBECONFIG": str(self.kubeconfig),
                    "DOCKERCLOUD_METRICS_PORT": "0",
                    "DOCKERCLOUD_STATUS_HOLD": "0",
                },
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(
            lambda: READY_LINE in self.output(offset) or self._exited(),
            "the operator to start",
            timeout=60,
        )
        assert not self._exited(), self.output(offset)

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def output(self, offset: int = 0) -> str:
        if not self.log.exists():
            return ""
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self) -> int:
        """Stops it as Ctrl-C would; returns its exit code."""
        process = self.process
        assert process is not None
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode
