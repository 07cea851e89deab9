"""`dockercloud-operator run` logs in with the current kubeconfig and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.operator_process import READY_LINE
from tests.wait import wait_for


def test_run_logs_in_with_the_kubeconfig_and_stops_on_sigint(
    kubeconfig: Path, service_crd: str
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dockercloud_operator", "run"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "DOCKERCLOUD_METRICS_PORT": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        wait_for(
            lambda: any(READY_LINE in line for line in lines),
            "the operator to start",
            timeout=30,
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        process.kill()
        reader.join(timeout=5)
    assert not any("Traceback" in line for line in lines), "".join(lines)
