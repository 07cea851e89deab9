"""Malformed REST requests under load: the REST API (`dockercloud-operator api`) on the bed,
with a token bound to the service editor role, served at once to

- writers, each creating services of its own and then updating them (PATCH of the container
  count and an env var, scale, redeploy) one after another, recording every write answered
  2xx;
- abusers, sending requests that are wrong in one way each: bodies that are not JSON, JSON of
  the wrong shape or types, nesting deeper than any parser's stack, bodies over the limit,
  strings that are not UTF-8, bad query parameters, unknown or malformed uuids, methods and
  actions that do not exist, credentials that are not credentials.

Nothing may be answered 5xx, nor fail to be answered. Afterwards each written service must
hold its last acknowledged write (no lost write), and every service must converge (Running
with its containers) through the operator, as the other scenarios check."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from kubernetes import client

from chaos import checks
from chaos.bed import Bed
from chaos.report import ScenarioResult
from dockercloud_operator.schema import constants
from testbed import user_roles
from testbed.controlplane import free_port

Object = dict[str, Any]
ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "chaos-rest"
MISSING = "deadbeef-0000-4000-8000-00000000abcd"  # a well-formed uuid no service has


@dataclass
class Request:
    """One request, as sent: what a failure report shows."""

    what: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True  # with the editor's token (unless `headers` says otherwise)

    def describe(self) -> str:
        body = "" if self.body is None else f", body {self.body[:120]!r} ({len(self.body)} B)"
        return f"{self.what}: {self.method} {self.path}{body}"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def malformed(rng: random.Random, uuids: list[str]) -> Request:
    """A request that is wrong in one way."""
    one = f"/api/app/v1/service/{rng.choice(uuids) if uuids else MISSING}/"
    name = f"bad-{rng.randrange(1 << 30):x}"
    junk: list[Any] = [
        None,
        True,
        -1,
        0,
        1.5,
        2**63,
        "",
        "x" * 5000,
        "é✓🙂",
        [],
        {},
        [1, "a"],
        {"a": {"b": []}},
    ]
    fields = [
        "image",
        "name",
        "target_num_containers",
        "container_envvars",
        "container_ports",
        "autorestart",
        "deployment_strategy",
        "memory",
        "cpu_shares",
        "linked_to_service",
        "bindings",
        "entrypoint",
        "run_command",
        "tags",
        "roles",
        "privileged",
    ]
    deep = 100_000
    choices: list[Callable[[], Request]] = [
        lambda: Request(
            "truncated JSON", "POST", "/api/app/v1/service/", b'{"image": "nginx", "name": '
        ),
        lambda: Request("random bytes", "POST", "/api/app/v1/service/", rng.randbytes(200)),
        lambda: Request(
            "not UTF-8",
            "POST",
            "/api/app/v1/service/",
            b'{"image": "ngi\xff\xfenx", "name": "' + name.encode() + b'"}',
        ),
        lambda: Request("a JSON list", "POST", "/api/app/v1/service/", _json([1, 2, 3])),
        lambda: Request("JSON null", "POST", "/api/app/v1/service/", b"null"),
        lambda: Request(
            "nesting too deep", "POST", "/api/app/v1/service/", b"[" * deep + b"]" * deep
        ),
        lambda: Request(
            "nesting too deep in a field",
            "PATCH",
            one,
            b'{"container_envvars": ' + b"[" * deep + b"]" * deep + b"}",
        ),
        lambda: Request(
            "a number too big for a float",
            "POST",
            "/api/app/v1/service/",
            b'{"image": "nginx", "target_num_containers": 1e400}',
        ),
        lambda: Request("NaN", "PATCH", one, b'{"target_num_containers": NaN}'),
        lambda: Request(
            "over the size limit",
            "POST",
            "/api/app/v1/service/",
            _json({"image": "nginx", "name": name, "tags": ["x" * 2_000_000]}),
        ),
        lambda: Request(
            "a field of the wrong type",
            "POST",
            "/api/app/v1/service/",
            _json({"image": "nginx", "name": name, rng.choice(fields): rng.choice(junk)}),
        ),
        lambda: Request(
            "an update of the wrong type",
            "PATCH",
            one,
            _json({rng.choice(fields): rng.choice(junk)}),
        ),
        lambda: Request("an unknown field", "PATCH", one, _json({"no_such_field": 1})),
        lambda: Request(
            "form data",
            "POST",
            "/api/app/v1/service/",
            b"image=nginx&name=x",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
        lambda: Request(
            "a missing service",
            "PATCH",
            f"/api/app/v1/service/{MISSING}/",
            _json({"target_num_containers": 1}),
        ),
        lambda: Request("a malformed uuid", "GET", "/api/app/v1/service/not-a-uuid/"),
        lambda: Request("an unknown action", "POST", one + "explode/"),
        lambda: Request("a method the path lacks", "PUT", one, _json({"image": "nginx"})),
        lambda: Request(
            "bad list parameters",
            "GET",
            "/api/app/v1/service/?limit="
            + rng.choice(["-1", "abc", "1e9", ""])
            + "&offset="
            + rng.choice(["-5", "x", "99999999999999999999"]),
        ),
        lambda: Request("an unknown state filter", "GET", "/api/app/v1/service/?state=Bogus"),
        lambda: Request(
            "an action on a missing service", "POST", f"/api/app/v1/service/{MISSING}/scale/"
        ),
        lambda: Request("no credentials", "GET", "/api/app/v1/service/", auth=False),
        lambda: Request(
            "Basic that is not base64",
            "GET",
            "/api/app/v1/service/",
            headers={"Authorization": "Basic !!!not base64!!!"},
            auth=False,
        ),
        lambda: Request(
            "a token that is no token",
            "GET",
            "/api/app/v1/service/",
            headers={"Authorization": "Bearer " + "A" * 3000},
            auth=False,
        ),
        lambda: Request(
            "a namespace that is no name", "GET", "/api/app/v1/Not_A_Namespace/service/"
        ),
    ]
    return rng.choice(choices)()


# The requests that are not malformed: the writers', and the abusers' own set-up and clean-up.
WELL_FORMED = {"create", "start", "update", "scale", "redeploy", "clean-up"}


@dataclass
class Tally:
    """What the load saw: answers by status, the 5xx and the unanswered."""

    answers: Counter[tuple[str, int | None]] = field(default_factory=Counter)
    broken: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request, status: int | None, text: str) -> None:
        with self.lock:
            self.answers[request.what, status] += 1
            if status is None or status >= 500:
                self.broken.append(f"{request.describe()} -> {status}: {text[:300]}")


def _send(
    session: requests.Session, base: str, credentials: str, request: Request, tally: Tally
) -> requests.Response | None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if request.auth:
        headers["Authorization"] = credentials
    headers.update(request.headers)
    try:
        response = session.request(
            request.method, base + request.path, data=request.body, headers=headers, timeout=60
        )
    except requests.RequestException as error:
        tally.record(request, None, repr(error))
        return None
    tally.record(request, response.status_code, response.text)
    return response


@dataclass
class Written:
    """A writer's services, by uuid: the last values it was told were written."""

    names: dict[str, str] = field(default_factory=dict)  # uuid -> name
    target: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # names: a created service is Not running


def _writer(
    base: str,
    token: str,
    prefix: str,
    count: int,
    deadline: float,
    rng: random.Random,
    tally: Tally,
    written: Written,
) -> None:
    session = requests.Session()
    token = _basic(token)  # as Docker Cloud's clients send their user and API key
    for number in range(count):
        name = f"{prefix}-{number}"
        request = Request(
            "create",
            "POST",
            "/api/app/v1/service/",
            _json(
                {
                    "image": "nginx",
                    "name": name,
                    "target_num_containers": 1,
                    "container_envvars": [{"key": "WRITE", "value": "0"}],
                }
            ),
        )
        response = _send(session, base, token, request, tally)
        if response is not None and response.status_code == 201:
            uuid = response.json()["uuid"]
            written.names[uuid], written.target[uuid], written.env[uuid] = name, 1, "0"
            start = Request("start", "POST", f"/api/app/v1/service/{uuid}/start/")
            started = _send(session, base, token, start, tally)
            if started is not None and started.status_code == 202:
                written.started.add(name)
    mine = list(written.names)
    write = 0
    while mine and time.monotonic() < deadline:
        uuid = rng.choice(mine)
        write += 1
        one = f"/api/app/v1/service/{uuid}/"
        roll = rng.random()
        if roll < 0.6:
            target = rng.randint(1, 2)
            request = Request(
                "update",
                "PATCH",
                one,
                _json(
                    {
                        "target_num_containers": target,
                        "container_envvars": [{"key": "WRITE", "value": str(write)}],
                    }
                ),
            )
            response = _send(session, base, token, request, tally)
            if response is not None and 200 <= response.status_code < 300:
                written.target[uuid], written.env[uuid] = target, str(write)
        else:
            action = "scale" if roll < 0.8 else "redeploy"
            _send(session, base, token, Request(action, "POST", one + action + "/"), tally)
        time.sleep(rng.uniform(0.0, 0.2))


def _abuser(base: str, token: str, prefix: str, deadline: float, rng: random.Random,
            tally: Tally) -> None:  # fmt: skip
    """Malformed requests, the updates among them to services of its own (a null restores a
    field's default, as documented, so a writer's service would lose its write)."""
    session = requests.Session()
    token = f"Bearer {token}"
    own: list[str] = []
    for number in range(2):
        body = _json({"image": "nginx", "name": f"{prefix}-{number}"})
        response = _send(
            session, base, token, Request("create", "POST", "/api/app/v1/service/", body), tally
        )
        if response is not None and response.status_code == 201:
            own.append(response.json()["uuid"])
    while time.monotonic() < deadline:
        request = malformed(rng, own)
        response = _send(session, base, token, request, tally)
        if response is not None and response.status_code == 201:  # a junk field that is valid
            created = response.json().get("uuid")
            if created:
                path = f"/api/app/v1/service/{created}/"
                _send(session, base, token, Request("clean-up", "DELETE", path), tally)


class RestApi:
    """`dockercloud-operator api` on the bed, serving one namespace."""

    def __init__(self, bed: Bed, namespace: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = bed.workdir / f"rest-api-{namespace}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dockercloud_operator",
                    "api",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--namespace",
                    namespace,
                ],
                env={**os.environ, "KUBECONFIG": str(bed.plane.kubeconfig)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the REST API did not start:\n{self.output()}")
            time.sleep(0.2)

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        self.process.terminate()
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def rest_under_load(
    bed: Bed,
    result: ScenarioResult,
    services: int = 40,
    seconds: float = 30.0,
    writers: int = 4,
    abusers: int = 4,
    rng: random.Random | None = None,
    timeout: float = 180.0,
) -> None:
    rng = rng or random.Random()
    api = bed.client
    namespace = f"chaos-rest-{rng.randrange(1 << 32):08x}"
    client.CoreV1Api(api).create_namespace({"metadata": {"name": namespace}})
    user_roles.install(api)
    token = user_roles.token(api, namespace, ACCOUNT)
    rest = RestApi(bed, namespace)
    tally = Tally()
    written = [Written() for _ in range(writers)]
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=_writer,
            name=f"writer-{n}",
            args=(
                rest.url,
                token,
                f"w{n}",
                services // writers + (n < services % writers),
                deadline,
                random.Random(rng.random()),
                tally,
                written[n],
            ),
        )
        for n in range(writers)
    ] + [
        threading.Thread(
            target=_abuser,
            name=f"abuser-{n}",
            args=(rest.url, token, f"a{n}", deadline, random.Random(rng.random()), tally),
        )
        for n in range(abusers)
    ]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        exit_code = rest.stop()
    finally:
        if rest.process.poll() is None:
            rest.stop()
    requests_sent = sum(tally.answers.values())
    result.rounds = result.rounds_survived = 1
    result.examples += requests_sent
    result.note(
        f"{requests_sent} requests in {elapsed:.0f}s "
        f"({requests_sent / max(elapsed, 0.1):.0f}/s) from {writers} writers and "
        f"{abusers} abusers"
    )
    by_status: Counter[str] = Counter()
    taken: Counter[str] = Counter()  # malformed, yet answered 2xx
    for (what, status), count in tally.answers.items():
        by_status[str(status)] += count
        if what not in WELL_FORMED and status is not None and status < 300:
            taken[what] += count
    result.note("answers by status: " + ", ".join(f"{s} {n}" for s, n in sorted(by_status.items())))
    if taken:  # a wrong type that the model takes as another (a null restores a default)
        result.note("malformed requests answered 2xx: " + ", ".join(
            f"{what} {count}" for what, count in taken.most_common()))  # fmt: skip
    if tally.broken:
        result.fail(
            "rest-5xx",
            f"{len(tally.broken)} requests answered 5xx or not at all",
            "\n".join(tally.broken[:30]) + "\n\nREST API log (end):\n" + rest.output()[-3000:],
        )
    if exit_code not in (0, -15):
        result.fail(
            "rest-exit", f"the REST API exited {exit_code} when stopped", rest.output()[-3000:]
        )
    if "Traceback" in rest.output():
        result.fail("rest-log", "the REST API logged a traceback", rest.output()[-4000:])
    _check_writes(bed, result, namespace, written)
    running = {name for writer in written for name in writer.started}
    verdict = checks.converge(
        api, [namespace], timeout,
        states=lambda service: ["Running"] if service.name in running else ["Not running"],
    )  # fmt: skip
    result.objects_checked += verdict.objects
    if verdict.ok:
        result.note(f"converged in {verdict.seconds:.0f}s ({verdict.objects} objects)")
    else:
        result.fail(
            "convergence",
            f"{len(verdict.problems)} problems after {timeout:.0f}s",
            verdict.summary(40),
        )
    client.CoreV1Api(api).delete_namespace(namespace)


def _check_writes(bed: Bed, result: ScenarioResult, namespace: str, written: list[Written]) -> None:
    """Each service holds the last write its writer was told was made."""
    live = {
        item["metadata"]["name"]: item
        for item in client.CustomObjectsApi(bed.client).list_namespaced_custom_object(
            constants.GROUP, constants.VERSION, namespace, constants.PLURAL
        )["items"]
    }
    lost: list[str] = []
    for writer in written:
        for uuid, name in writer.names.items():
            result.services += 1
            spec = (live.get(name) or {}).get("spec")
            if spec is None:
                lost.append(f"{name} ({uuid}): created (201), but not there")
                continue
            env = {e.get("key"): e.get("value") for e in spec.get("container_envvars") or []}
            got = (spec.get("target_num_containers"), env.get("WRITE"))
            if got != (writer.target[uuid], writer.env[uuid]):
                lost.append(
                    f"{name}: spec has (target, WRITE) {got}, the last acknowledged "
                    f"write ({writer.target[uuid]}, {writer.env[uuid]!r})"
                )
    if lost:
        result.fail(
            "lost-write", f"{len(lost)} services lost an acknowledged write", "\n".join(lost)
        )


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"user:{token}".encode()).decode()
