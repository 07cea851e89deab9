"""The documented Python client, python-dockercloud 1.0.12 (what the docker-cloud CLI is built
on), unchanged, against the REST API: the calls of the spec's examples, from create to
terminate, logs included. The client is a Python 2 program (on Python 3 it fails before it
sends a request), so it runs under Python 2.7, installed from PyPI into the cache once."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.rest_api import RestApi, service_account_token

pytestmark = pytest.mark.integration
CLIENT = "python-dockercloud==1.0.12"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dockercloud-operator"

# Run by Python 2.7 with the client on its path; prints one JSON line per step.
SCRIPT = r"""
import json, sys, time
import dockercloud

def say(step, **what):
    print(json.dumps(dict(step=step, **what)))
    sys.stdout.flush()

def settle(service, state, running=None, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        service.refresh(force=True)
        if service.state == state and service.synchronized and (
                running is None or service.running_num_containers == running):
            return service
        time.sleep(0.5)
    raise SystemExit("timed out waiting for %s: %s" % (state, service.state))

service = dockercloud.Service.create(image="tutum/hello-world", name="my-new-app",
                                     target_num_containers=2)
service.save()
say("created", uuid=service.uuid, state=service.state, resource_uri=service.resource_uri)
fetched = dockercloud.Service.fetch(service.uuid)
say("fetched", name=fetched.name, target=fetched.target_num_containers)
say("listed", names=[s.name for s in dockercloud.Service.list(name="my-new-app")],
    by_prefix=[s.name for s in dockercloud.Service.list(uuid__startswith=service.uuid[:8])])
service.start()
say("started", state=service.state)
settle(service, "Running", 2)
service.target_num_containers = 3
service.save()
service.scale()
settle(service, "Running", 3)
say("scaled", running=service.running_num_containers)
lines = []
service.logs(tail=2, follow=False, log_handler=lambda message: lines.append(json.loads(message)))
say("logs", lines=lines)
service.redeploy(reuse_volumes=False)
say("redeploying", state=service.state)
settle(service, "Running", 3)
service.stop()
settle(service, "Stopped", 0)
say("stopped", state=service.state)
service.delete()
say("terminated", state=service.state)

def settle_stack(stack, state, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack.refresh(force=True)
        if stack.state == state and stack.synchronized:
            return stack
        time.sleep(0.5)
    raise SystemExit("timed out waiting for the stack to be %s: %s" % (state, stack.state))

stack = dockercloud.Stack.create(name="my-new-stack", services=[
    {"name": "hello-word", "image": "tutum/hello-world", "target_num_containers": 2,
     "links": ["db"]},
    {"name": "db", "image": "mysql", "expose": ["3306"]}])
stack.save()
say("stack created", state=stack.state, uuid=stack.uuid, resource_uri=stack.resource_uri)
say("stacks listed", names=[s.name for s in dockercloud.Stack.list(name="my-new-stack")])
stack.start()
settle_stack(stack, "Running")
say("stack running", services=len(stack.services))
say("stack exported", stackfile=stack.export())
stack.stop()
settle_stack(stack, "Stopped")
stack.delete()
say("stack terminated", state=stack.state)
"""


PYENV_PYTHON2 = Path.home() / ".pyenv" / "versions" / "2.7*" / "bin" / "python2.7"


def _runs(python: str) -> bool:
    return subprocess.run([python, "--version"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def python2() -> Path:
    """A Python 2.7 with python-dockercloud, cached outside the repository."""
    candidates = [shutil.which("python2.7"), *sorted(glob.glob(str(PYENV_PYTHON2)))]
    found = next((c for c in candidates if c and _runs(c)), None)
    if not found:
        pytest.skip("python-dockercloud is a Python 2 program, and there is no Python 2.7 here")
    target = CACHE / f"{CLIENT.replace('==', '-')}-py27"
    if not (target / "dockercloud" / "__init__.py").exists():
        installed = subprocess.run(
            [found, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), CLIENT],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert installed.returncode == 0, installed.stderr
    return Path(found)


def test_the_documented_python_client_runs_a_service_from_create_to_terminate(
    python2: Path, rest_api: RestApi, api: client.ApiClient, namespace: str,
    user_roles: None, operator: Any, tmp_path: Path,
) -> None:  # fmt: skip
    from tests.integration.test_rest_logs import cluster_log_file

    token = service_account_token(api, namespace, "edit", role_namespaces=(namespace,))
    target = CACHE / f"{CLIENT.replace('==', '-')}-py27"
    with cluster_log_file(api, namespace, tmp_path):
        ran = subprocess.run(
            [str(python2), "-c", SCRIPT],
            env={
                "PATH": os.environ["PATH"],
                "PYTHONPATH": str(target),
                "HOME": str(tmp_path),  # no ~/.docker/config.json credentials
                "DOCKERCLOUD_REST_HOST": rest_api.url,
                "DOCKERCLOUD_STREAM_HOST": rest_api.url.replace("http", "ws", 1),
                "DOCKERCLOUD_USER": "me",
                "DOCKERCLOUD_APIKEY": token,
                "DOCKERCLOUD_NAMESPACE": namespace,
            },
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    steps = {line["step"]: line for line in map(json.loads, ran.stdout.splitlines())}
    created = steps["created"]
    assert created["state"] == "Not running"
    assert created["resource_uri"] == f"/api/app/v1/{namespace}/service/{created['uuid']}/"
    assert steps["fetched"] == {"step": "fetched", "name": "my-new-app", "target": 2}
    assert steps["listed"]["names"] == ["my-new-app"] == steps["listed"]["by_prefix"]
    assert steps["started"]["state"] == "Starting"
    assert steps["scaled"]["running"] == 3
    lines = steps["logs"]["lines"]
    assert len(lines) == 2 and {line["type"] for line in lines} == {"log"}
    assert {line["source"] for line in lines} <= {"my-new-app-1", "my-new-app-2", "my-new-app-3"}
    assert steps["redeploying"]["state"] == "Redeploying"
    assert steps["stopped"]["state"] == "Stopped"
    assert steps["terminated"]["state"] == "Terminating"
    created_stack = steps["stack created"]
    assert created_stack["state"] == "Not Running"
    assert created_stack["resource_uri"] == (
        f"/api/app/v1/{namespace}/stack/{created_stack['uuid']}/"
    )
    assert steps["stacks listed"]["names"] == ["my-new-stack"]
    assert steps["stack running"]["services"] == 2
    assert steps["stack exported"]["stackfile"]["hello-word"]["links"] == ["db"]
    assert steps["stack terminated"]["state"] == "Terminating"
