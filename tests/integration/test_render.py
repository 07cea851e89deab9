"""What `render` prints is accepted by the real API server as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.unit.test_render import EXAMPLE


def test_rendered_objects_pass_a_server_side_dry_run(
    kubectl: str, kubeconfig: Path, namespace: str
) -> None:
    rendered = subprocess.run(
        [sys.executable, "-m", "dockercloud_operator", "render", "-n", namespace, str(EXAMPLE)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    applied = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), "apply", "--server-side", "--dry-run=server",
         "--field-manager=render-test", "-f", "-"],
        input=rendered.stdout, capture_output=True, text=True,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert "statefulset.apps/db serverside-applied (server dry run)" in applied.stdout
    assert "deployment.apps/web serverside-applied (server dry run)" in applied.stdout
