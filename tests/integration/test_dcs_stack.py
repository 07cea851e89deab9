"""`kubectl dcs stack ...` on the real control plane: a stackfile brought up with --sync, listed,
inspected, stopped, started, redeployed, updated, exported and terminated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("operator")]

STACKFILE = """\
web:
  image: nginx
  target_num_containers: 2
  ports: ["80"]
  links: [db]
db:
  image: mysql
  expose: ["3306"]
"""


def test_a_stack_through_kubectl_dcs(kubeconfig: Path, namespace: str, tmp_path: Path) -> None:
    folder = tmp_path / "My Shop"
    folder.mkdir()
    (folder / "docker-cloud.yml").write_text(STACKFILE)

    def dcs(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "dockercloud_operator.cli.dcs", "-n", namespace, *args],
            env={**os.environ, "KUBECONFIG": str(kubeconfig)}, cwd=folder,
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    up = dcs("stack", "up", "--sync", "--timeout", "120")  # docker-cloud.yml of this folder
    assert up.stdout.strip() == "my-shop"
    assert "my-shop: Running" in up.stderr
    ls = dcs("stack", "ls").stdout.splitlines()
    assert ls[0].split() == ["NAME", "UUID", "STATE", "#SERVICES", "AGE"]
    assert ls[1].split()[0] == "my-shop" and ls[1].split()[2:4] == ["Running", "2"]
    inspected = json.loads(dcs("stack", "inspect", "my-shop").stdout)
    assert inspected["state"] == "Running" and len(inspected["services"]) == 2
    uuid = inspected["uuid"]

    assert "my-shop: Stopped" in dcs("stack", "stop", "my-shop", "--sync").stderr
    assert "my-shop: Running" in dcs("stack", "start", uuid[:8], "--sync").stderr  # by uuid prefix
    assert "my-shop: Running" in dcs("stack", "redeploy", "my-shop", "--sync").stderr

    (folder / "more.yml").write_text(STACKFILE + "cache:\n  image: redis\n")
    dcs("stack", "update", "-f", "more.yml", "my-shop", "--sync")
    exported = yaml.safe_load(dcs("stack", "export", "my-shop").stdout)
    assert list(exported) == ["web", "db", "cache"]
    assert exported["web"]["links"] == ["db"] and exported["web"]["ports"] == ["80"]

    assert "my-shop: terminated" in dcs("stack", "terminate", "my-shop", "--sync").stderr
    assert dcs("stack", "ls", "-q").stdout.strip() == ""
