"""`kubectl dcs`: the pure parts (the documented rule table, arguments to spec, the documented
object and log lines, names, tables, error messages) and the command line's shape."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockercloud_operator.cli import cluster, dcs, manifest, printing
from dockercloud_operator.cli.errors import CliError
from dockercloud_operator.cli.manifest import service_manifest
from dockercloud_operator.controller import actions
from dockercloud_operator.documented import lifecycle, logs, naming
from dockercloud_operator.documented.lifecycle import Action
from dockercloud_operator.documented.logs import LogLine
from dockercloud_operator.documented.view import DOCUMENTED_ATTRIBUTES, documented_view
from dockercloud_operator.schema.model import (
    ServiceSpec,
)
from dockercloud_operator.schema.parts import (
    State,
)


def parse(*argv: str) -> argparse.Namespace:
    return dcs.build_parser().parse_args(list(argv))


# -- the documented rule table ------------------------------------------------------------------

# "Service states": Possible actions in this state (scale: wherever any action is allowed).
DOCUMENTED = {
    State.NOT_RUNNING: {"start", "terminate"},
    State.STARTING: set(),
    State.RUNNING: {"stop", "redeploy", "terminate"},
    State.PARTLY_RUNNING: {"stop", "redeploy", "terminate"},
    State.SCALING: set(),
    State.REDEPLOYING: set(),
    State.STOPPING: set(),
    State.STOPPED: {"start", "redeploy", "terminate"},
    State.TERMINATING: set(),
    State.TERMINATED: set(),
}


@pytest.mark.parametrize("state", list(State))
def test_the_table_allows_what_the_documentation_says(state: State) -> None:
    allowed = {str(a) for a in lifecycle.ALLOWED_ACTIONS[state]}
    expected = set(DOCUMENTED[state])
    if expected:
        expected.add("scale")
    if state is State.PARTLY_RUNNING:
        expected.add("start")  # "Starts all containers in a stopped or partly running service"
    assert allowed == expected


def test_the_table_agrees_with_the_operator() -> None:
    """The operator holds what the CLI refuses: the same rules for the actions both know."""
    for state in State:
        shared = {a for a in lifecycle.ALLOWED_ACTIONS[state] if a is not Action.TERMINATE}
        assert {str(a) for a in shared} == {str(a) for a in actions.ALLOWED[state]}, state


def test_allowed_states_follow_the_table_order() -> None:
    assert lifecycle.allowed_states(Action.START) == [
        State.NOT_RUNNING,
        State.PARTLY_RUNNING,
        State.STOPPED,
    ]
    assert lifecycle.allowed_states(Action.STOP) == [State.RUNNING, State.PARTLY_RUNNING]
    assert lifecycle.allowed_states(Action.REDEPLOY) == [
        State.RUNNING,
        State.PARTLY_RUNNING,
        State.STOPPED,
    ]
    assert lifecycle.allowed_states(Action.TERMINATE) == [
        State.NOT_RUNNING,
        State.RUNNING,
        State.PARTLY_RUNNING,
        State.STOPPED,
    ]


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (Action.START, State.NOT_RUNNING),
        (Action.START, State.STOPPED),
        (Action.STOP, State.RUNNING),
        (Action.STOP, State.PARTLY_RUNNING),
        (Action.REDEPLOY, State.STOPPED),
        (Action.TERMINATE, State.NOT_RUNNING),
        (Action.SCALE, State.RUNNING),
        (Action.START, None),  # no state reported yet: nothing to check against
        (Action.TERMINATE, None),
    ],
)
def test_allowed_actions_are_not_refused(action: Action, state: State | None) -> None:
    assert printing.refusal(action, state, "web") is None


def test_a_refusal_names_the_state_and_the_allowed_states() -> None:
    message = printing.refusal(Action.START, State.RUNNING, "web")
    assert message is not None
    assert 'cannot start service "web": it is Running' in message
    assert "Not running or Partly running or Stopped" in message
    assert "--force" in message


@pytest.mark.parametrize(
    "state", [State.STARTING, State.SCALING, State.REDEPLOYING, State.STOPPING, State.TERMINATING]
)
@pytest.mark.parametrize("action", list(Action))
def test_transitional_states_allow_no_action(action: Action, state: State) -> None:
    message = printing.refusal(action, state, "web")
    assert message is not None
    assert f"it is {state}" in message and "no action is allowed" in message
    assert "--force" in message


def test_stop_on_a_stopped_service_is_refused() -> None:
    message = printing.refusal(Action.STOP, State.STOPPED, "db")
    assert message == (
        'cannot stop service "db": it is Stopped; stop is allowed only when a service is '
        "Running or Partly running (pass --force to stop it anyway)"
    )


# -- waiting ------------------------------------------------------------------------------------


def test_the_resting_state_after_a_change() -> None:
    assert lifecycle.resting_state(True, State.STOPPED) is State.RUNNING
    assert lifecycle.resting_state(False, State.RUNNING) is State.STOPPED
    assert lifecycle.resting_state(False, None) is State.NOT_RUNNING  # created without starting
    assert (
        lifecycle.resting_state(False, State.NOT_RUNNING) is State.NOT_RUNNING
    )  # scaled, unstarted


def _service(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "generation": 4}, "spec": {}, "status": status}


def test_settled_needs_the_new_generation_the_state_and_synchronized_containers() -> None:
    running = {"state": "Running", "synchronized": True}
    assert lifecycle.settled(_service(observedGeneration=4, **running), State.RUNNING, 4)
    assert lifecycle.settled(_service(observedGeneration=5, **running), State.RUNNING, 4)
    assert not lifecycle.settled(_service(observedGeneration=3, **running), State.RUNNING, 4)
    assert not lifecycle.settled(_service(**running), State.RUNNING, 4)
    assert not lifecycle.settled(_service(observedGeneration=4, **running), State.STOPPED, 4)
    stale = {"state": "Running", "synchronized": False}  # the workload has not taken it yet
    assert not lifecycle.settled(_service(observedGeneration=4, **stale), State.RUNNING, 4)
    assert not lifecycle.settled({"metadata": {}}, State.RUNNING, 1)


def test_progress_shows_the_state_and_running_of_target() -> None:
    assert printing.progress(_service(state="Scaling", running_of_target="2/3")) == (
        "Scaling, 2/3 containers running"
    )
    assert printing.progress(_service()) == "(no state reported yet)"


def test_state_of_reads_the_status() -> None:
    assert lifecycle.state_of(_service(state="Partly running")) is State.PARTLY_RUNNING
    assert lifecycle.state_of(_service()) is None
    assert lifecycle.state_of(_service(state="Bogus")) is None


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("tutum/hello-world", "hello-world"),
        ("tutum/wordpress-stackable:latest", "wordpress-stackable"),
        ("redis", "redis"),
        ("library/python:3.12-slim", "python"),
        ("registry.example.com:5000/team/my_app:1.0", "my-app"),
        ("quay.io/org/sub/Tool.Name@sha256:" + "a" * 64, "tool-name"),
        ("example/2048", "svc-2048"),
        ("example/" + "x" * 80, "x" * 52),
        ("example/a--b__c", "a-b-c"),
        ("example/___", "service"),
    ],
)
def test_the_default_name_is_the_image_without_namespace(image: str, name: str) -> None:
    derived = naming.default_name(image)
    assert derived == name
    assert naming.valid_name(derived)


def test_valid_names() -> None:
    assert naming.valid_name("web-1")
    assert not naming.valid_name("Web")
    assert not naming.valid_name("1web")
    assert not naming.valid_name("web-")
    assert not naming.valid_name("w" * 53)


def test_uuid_prefixes() -> None:
    assert naming.looks_like_uuid_prefix("09cbcf8d")
    assert naming.looks_like_uuid_prefix("09cbcf8d-9d3b-4ac1-85ad-a2d4ff25a179")
    assert not naming.looks_like_uuid_prefix("web")
    assert not naming.looks_like_uuid_prefix("abc")


def test_a_full_uuid_reference_becomes_a_resource_uri() -> None:
    uid = "80ff1635-2d56-478d-a97f-9b59c720e513"
    assert naming.service_reference(uid) == f"/api/app/v1/service/{uid}/"
    assert naming.service_reference("mysql") == "mysql"


# -- arguments to spec --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "port"),
    [
        ("80", {"protocol": "tcp", "inner_port": 80, "published": True}),
        ("8080:80", {"protocol": "tcp", "inner_port": 80, "outer_port": 8080, "published": True}),
        ("53/udp", {"protocol": "udp", "inner_port": 53, "published": True}),
        (
            "5353:53/udp",
            {"protocol": "udp", "inner_port": 53, "outer_port": 5353, "published": True},
        ),
    ],
)
def test_publish_is_outer_then_inner_as_in_docker(text: str, port: dict[str, Any]) -> None:
    assert manifest.parse_publish(text) == port


@pytest.mark.parametrize("text", ["", "http", "80:", "80/sctp", "0", "70000", "1:2:3"])
def test_bad_publish_is_refused(text: str) -> None:
    with pytest.raises(CliError, match="--publish"):
        manifest.parse_publish(text)


def test_expose_is_unpublished() -> None:
    assert manifest.parse_expose("5432") == {
        "protocol": "tcp",
        "inner_port": 5432,
        "published": False,
    }
    assert manifest.parse_expose("53/udp")["protocol"] == "udp"
    with pytest.raises(CliError, match="--expose"):
        manifest.parse_expose("80:80")


def test_env() -> None:
    assert manifest.parse_env("A=b=c") == {"key": "A", "value": "b=c"}
    assert manifest.parse_env("EMPTY=") == {"key": "EMPTY", "value": ""}
    with pytest.raises(CliError, match="KEY=VALUE"):
        manifest.parse_env("NOVALUE")
    assert manifest.parse_env_file("# comment\n\nA=1\n  B=2 \n") == [
        {"key": "A", "value": "1"},
        {"key": "B", "value": "2"},
    ]


def test_links() -> None:
    assert manifest.parse_link("mysql:db") == {"to_service": "mysql", "name": "db"}
    assert manifest.parse_link("mysql") == {"to_service": "mysql"}
    uid = "80ff1635-2d56-478d-a97f-9b59c720e513"
    assert manifest.parse_link(f"{uid}:db") == {
        "to_service": f"/api/app/v1/service/{uid}/",
        "name": "db",
    }
    for bad in (":db", "mysql:"):
        with pytest.raises(CliError, match="SERVICE:ALIAS"):
            manifest.parse_link(bad)


def test_volumes() -> None:
    assert manifest.parse_volume("/data") == {"container_path": "/data", "rewritable": True}
    assert manifest.parse_volume("/etc:/etc:ro") == {
        "host_path": "/etc",
        "container_path": "/etc",
        "rewritable": False,
    }
    with pytest.raises(CliError, match="--volume"):
        manifest.parse_volume("/a:/b:/c")


def test_create_makes_a_service_that_is_not_started() -> None:
    manifest = service_manifest(parse("create", "tutum/hello-world"), running=False)
    assert manifest == {
        "apiVersion": "app.dockercloud.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello-world"},
        "spec": {"image": "tutum/hello-world", "running": False},
    }


def test_every_option_becomes_its_documented_attribute(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=1\nOVERRIDDEN=file\n")
    args = parse(
        "run", "tutum/hello-world", "--name", "my-new-app", "-t", "2",
        "-p", "8080:80", "--expose", "5432", "-e", "DB_PASS=test", "-e", "OVERRIDDEN=flag",
        "--env-file", str(env_file), "--link-service", "db:mysql",
        "-v", "/tmp", "-v", "/etc:/etc:ro", "--volumes-from", "data",
        "--autorestart", "ON_FAILURE", "--autodestroy", "ALWAYS", "--autoredeploy",
        "--deployment-strategy", "HIGH_AVAILABILITY", "--tag", "ssd", "--tag", "ssd",
        "--role", "global", "--sequential", "--privileged", "--net", "host", "--pid", "host",
        "-r", "/run.sh", "--entrypoint", "/usr/sbin/sshd", "--cpushares", "512",
        "--memory", "2048", "--nickname", "My app",
    )  # fmt: skip
    manifest = service_manifest(args, running=True)
    assert manifest["metadata"] == {"name": "my-new-app"}
    spec = manifest["spec"]
    assert spec == {
        "image": "tutum/hello-world",
        "running": True,
        "target_num_containers": 2,
        "run_command": "/run.sh",
        "entrypoint": "/usr/sbin/sshd",
        "autorestart": "ON_FAILURE",
        "autodestroy": "ALWAYS",
        "deployment_strategy": "HIGH_AVAILABILITY",
        "net": "host",
        "pid": "host",
        "nickname": "My app",
        "cpu_shares": 512,
        "memory": 2048,
        "privileged": True,
        "sequential_deployment": True,
        "autoredeploy": True,
        "container_ports": [
            {"protocol": "tcp", "inner_port": 80, "outer_port": 8080, "published": True},
            {"protocol": "tcp", "inner_port": 5432, "published": False},
        ],
        "container_envvars": [
            {"key": "FROM_FILE", "value": "1"},
            {"key": "OVERRIDDEN", "value": "flag"},
            {"key": "DB_PASS", "value": "test"},
        ],
        "linked_to_service": [{"to_service": "db", "name": "mysql"}],
        "bindings": [
            {"container_path": "/tmp", "rewritable": True},
            {"host_path": "/etc", "container_path": "/etc", "rewritable": False},
            {"volumes_from": "data"},
        ],
        "tags": [{"name": "ssd"}],
        "roles": ["global"],
    }
    ServiceSpec.model_validate(spec)  # what the API server would accept


def test_a_missing_env_file_is_a_clear_error(tmp_path: Path) -> None:
    args = parse("create", "nginx", "--env-file", str(tmp_path / "missing"))
    with pytest.raises(CliError, match=r"--env-file .*missing"):
        service_manifest(args, running=False)


def test_redeploy_asks_with_a_new_token_each_time() -> None:
    first = lifecycle.redeploy_patch(reuse_volumes=True)
    second = lifecycle.redeploy_patch(reuse_volumes=False)
    assert first["spec"]["redeploy"]["reuse_volumes"] is True
    assert second["spec"]["redeploy"]["reuse_volumes"] is False
    assert first["spec"]["redeploy"]["token"] != second["spec"]["redeploy"]["token"]
    assert lifecycle.redeploy_patch(True, token="t")["spec"]["redeploy"] == {
        "token": "t",
        "reuse_volumes": True,
    }


# -- inspect ------------------------------------------------------------------------------------

UID = "09cbcf8d-9d3b-4ac1-85ad-a2d4ff25a179"
LIVE = {
    "apiVersion": "app.dockercloud.dev/v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default", "uid": UID, "generation": 2},
    "spec": {
        "image": "tutum/hello-world",
        "running": True,
        "redeploy": {"token": "1", "reuse_volumes": True},
        "target_num_containers": 2,
        "container_ports": [
            {"protocol": "tcp", "inner_port": 80, "port_name": "http", "published": True}
        ],
        "linked_to_service": [{"to_service": "db", "name": "DB"}],
        "autorestart": "OFF",
    },
    "status": {
        "uuid": UID,
        "resource_uri": f"/api/app/v1/service/{UID}/",
        "image_name": "tutum/hello-world:latest",
        "state": "Running",
        "running_num_containers": 2,
        "running_of_target": "2/2",
        "selector": "app.dockercloud.dev/service=web",
        "observedGeneration": 2,
        "conditions": [],
        "containers": ["/api/app/v1/container/a/", "/api/app/v1/container/b/"],
        "container_ports": [
            {
                "protocol": "tcp",
                "inner_port": 80,
                "outer_port": 30080,
                "published": True,
                "endpoint_uri": "tcp://10.0.0.1:30080/",
            }
        ],
    },
}


def test_inspect_shows_the_documented_object() -> None:
    view = documented_view(LIVE)
    assert list(view) == sorted(DOCUMENTED_ATTRIBUTES)
    assert view["uuid"] == UID
    assert view["resource_uri"] == f"/api/app/v1/service/{UID}/"
    assert view["name"] == view["nickname"] == "web"
    assert view["state"] == "Running"
    assert view["image_name"] == "tutum/hello-world:latest"
    assert view["target_num_containers"] == 2
    assert view["containers"] == ["/api/app/v1/container/a/", "/api/app/v1/container/b/"]
    assert view["container_ports"] == [
        {
            "protocol": "tcp",
            "inner_port": 80,
            "outer_port": 30080,
            "published": True,
            "endpoint_uri": "tcp://10.0.0.1:30080/",
            "port_name": "http",
        }
    ]
    assert view["linked_to_service"] == [
        {"from_service": f"/api/app/v1/service/{UID}/", "to_service": "db", "name": "DB"}
    ]
    assert view["destroyed_datetime"] is None  # documented attributes are there, null if unset
    json.dumps(view)


def test_the_documented_example_has_the_documented_attributes() -> None:
    example = Path(__file__).parents[1] / "data" / "documented-example.yaml"
    documented = yaml.safe_load(example.read_text())
    view = documented_view(documented)
    assert set(documented["spec"]) - {"image", "running", "redeploy"} <= set(view)


def test_inspect_before_any_status_uses_the_metadata() -> None:
    view = documented_view(
        {"metadata": {"name": "new", "uid": UID}, "spec": {"image": "nginx", "running": False}}
    )
    assert view["uuid"] == UID
    assert view["resource_uri"] == f"/api/app/v1/service/{UID}/"
    assert view["image_name"] == "nginx:latest"
    assert view["state"] == "Not running"  # created without starting
    assert view["containers"] == []
    assert view["current_num_containers"] == 0


# -- ps -----------------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "shown"),
    [
        ("2026-01-01T11:59:18Z", "42s"),
        ("2026-01-01T12:00:05Z", "0s"),  # clock skew
        ("2026-01-01T11:55:00Z", "5m"),
        ("2026-01-01T09:00:00Z", "3h"),
        ("2025-12-20T12:00:00Z", "12d"),
        ("2023-12-01T12:00:00Z", "2y"),
        (None, "<unknown>"),
    ],
)
def test_age_is_kubectls(created: str | None, shown: str) -> None:
    assert printing.age(created, NOW) == shown


def test_a_ps_row() -> None:
    service = {
        **LIVE,
        "metadata": {**LIVE["metadata"], "creationTimestamp": "2026-01-01T11:00:00Z"},
    }
    service["spec"] = {**LIVE["spec"], "deployment_strategy": "EMPTIEST_NODE"}
    assert printing.ps_row(service, NOW) == [
        "web", "09cbcf8d", "tutum/hello-world:latest", "Running", "2/2", "EMPTIEST_NODE", "1h",
    ]  # fmt: skip
    assert printing.ps_row(service, NOW, with_namespace=True)[0] == "default"
    fresh = {"metadata": {"name": "new"}, "spec": {"image": "nginx", "target_num_containers": 3}}
    assert printing.ps_row(fresh, NOW)[1:5] == ["", "nginx", "<none>", "0/3"]


def test_table_aligns_columns() -> None:
    text = printing.table(["NAME", "STATE"], [["web", "Running"], ["database", "Not running"]])
    assert text.splitlines() == [
        "NAME       STATE",
        "web        Running",
        "database   Not running",
    ]


# -- logs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "parsed"),
    [
        ("2015-06-08T16:02:04Z", (1433779324, 0)),
        ("2015-06-08T16:02:04.5Z", (1433779324, 500_000_000)),
        ("2015-06-08T16:02:04.123456789Z", (1433779324, 123_456_789)),
        ("2015-06-08T18:02:04.000000001+02:00", (1433779324, 1)),
        ("hello", None),
    ],
)
def test_log_api_timestamps(stamp: str, parsed: tuple[int, int] | None) -> None:
    assert logs.parse_timestamp(stamp) == parsed


def test_a_timestamped_line_and_its_documented_form() -> None:
    line = logs.parse_log_line("web-1", "2015-06-08T16:02:04.25Z GET / 200 \n")
    assert line == LogLine("web-1", "GET / 200 ", 1433779324, 250_000_000)
    message = logs.log_message(line)
    assert list(json.loads(message).items()) == [
        ("type", "log"),
        ("source", "web-1"),
        ("log", "GET / 200 "),
        ("streamType", "stdout"),
        ("timestamp", 1433779324),
    ]


def test_an_untimestamped_line_is_kept_whole() -> None:
    assert logs.parse_log_line("web-1", "no time here", fallback=7) == LogLine(
        "web-1", "no time here", 7
    )


def test_sources_number_containers_by_pod_name() -> None:
    assert logs.container_sources("web", ["web-7f-zz", "web-7f-aa"]) == {
        "web-7f-aa": "web-1",
        "web-7f-zz": "web-2",
    }
    statefulset = [f"db-{i}" for i in (10, 2, 0, 1)]
    assert logs.container_sources("db", statefulset) == {
        "db-0": "db-1",
        "db-1": "db-2",
        "db-2": "db-3",
        "db-10": "db-4",
    }


def test_logs_merge_oldest_first_keeping_each_containers_order() -> None:
    lines = [
        LogLine("web-1", "a", 10, 5),
        LogLine("web-1", "b", 10, 5),
        LogLine("web-2", "c", 10, 1),
        LogLine("web-2", "d", 9),
    ]
    assert [line.log for line in logs.merge_logs(lines)] == ["d", "c", "a", "b"]


# -- errors -------------------------------------------------------------------------------------


def _status(code: int, reason: str, message: str, **details: str) -> str:
    return json.dumps(
        {"kind": "Status", "code": code, "reason": reason, "message": message, "details": details}
    )


def test_a_missing_service() -> None:
    body = _status(404, "NotFound", 'services.app.dockercloud.dev "web" not found', name="web",
                   group="app.dockercloud.dev", kind="services")  # fmt: skip
    assert cluster.api_error_message(404, body, "Not Found", "team") == (
        'service "web" not found in namespace "team"'
    )


def test_a_missing_crd() -> None:
    body = _status(404, "NotFound", "the server could not find the requested resource")
    message = cluster.api_error_message(404, body, "Not Found", "team")
    assert "services.app.dockercloud.dev" in message and "not installed" in message
    assert "crds/service.yaml" in message
    assert "not installed" in cluster.api_error_message(404, "404 page not found", "Not Found", "x")


def test_other_api_errors_say_what_the_server_says() -> None:
    exists = _status(409, "AlreadyExists", "...", name="web")
    assert cluster.api_error_message(409, exists, "Conflict", "team") == (
        'service "web" already exists in namespace "team"'
    )
    invalid = _status(422, "Invalid", 'Service "x" is invalid: spec.net: Unsupported value')
    assert cluster.api_error_message(422, invalid, "Unprocessable", "t") == (
        'Service "x" is invalid: spec.net: Unsupported value'
    )
    assert "credentials" in cluster.api_error_message(401, None, "Unauthorized", "t")
    assert cluster.api_error_message(403, _status(403, "Forbidden", "no"), "Forbidden", "t") == (
        "forbidden: no"
    )
    assert cluster.api_error_message(500, None, "Internal", "t") == "Internal (HTTP 500)"


def test_a_connection_failure_in_a_few_words() -> None:
    class Refused(Exception):
        reason = Exception(
            "HTTPSConnection(host='127.0.0.1', port=1): Failed to establish a new connection: "
            "[Errno 111] Connection refused"
        )

    assert cluster.transport_reason(Refused()) == "[Errno 111] Connection refused"


# -- the command line ---------------------------------------------------------------------------


def test_kubectl_options_go_before_or_after_the_command() -> None:
    before = parse("-n", "team", "--kubeconfig", "/k", "ps")
    after = parse("ps", "-n", "team", "--kubeconfig", "/k", "--context", "c")
    assert (before.namespace, before.kubeconfig, before.context) == ("team", "/k", None)
    assert (after.namespace, after.kubeconfig, after.context) == ("team", "/k", "c")
    assert parse("ps").namespace is None


def test_ps_filters() -> None:
    args = parse("ps", "--state", "Not running", "--name", "web", "-A")
    assert (args.state, args.name, args.all_namespaces) == ("Not running", "web", True)


def test_ps_refuses_an_unknown_state(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("ps", "--state", "Sleeping")
    assert "invalid choice" in capsys.readouterr().err


def test_actions_take_names_sync_timeout_and_force() -> None:
    args = parse("scale", "web", "db", "3", "--sync", "--timeout", "20", "--force")
    assert (args.names, args.target_num_containers) == (["web", "db"], 3)
    assert (args.sync, args.timeout, args.force) == (True, 20.0, True)
    assert parse("stop", "web").timeout == dcs.DEFAULT_TIMEOUT == 300
    redeploy = parse("redeploy", "web", "--not-reuse-volumes")
    assert redeploy.not_reuse_volumes is True and redeploy.sync is False


def test_logs_defaults_to_the_documented_tail() -> None:
    args = parse("logs", "web")
    assert (args.tail, args.follow) == (300, False)
    assert parse("logs", "web", "-f", "--tail", "5").tail == 5


def test_the_namespace_comes_from_the_kubeconfig_context(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "a", "context": {"cluster": "c", "user": "u", "namespace": "team"}},
                    {"name": "b", "context": {"cluster": "c", "user": "u"}},
                ],
                "current-context": "a",
            }
        )
    )
    assert cluster.context_namespace(str(kubeconfig), None) == "team"
    assert cluster.context_namespace(str(kubeconfig), "b") == "default"
    assert cluster.context_namespace(str(tmp_path / "missing"), None) == "default"


def test_no_kubeconfig_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert dcs.main(["--kubeconfig", str(tmp_path / "missing"), "ps"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kubectl dcs: no usable kubeconfig") and "--kubeconfig" in err


def test_no_cluster_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "a",
            }
        )
    )
    assert dcs.main(["--kubeconfig", str(kubeconfig), "ps"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Kubernetes API server at http://127.0.0.1:1" in err
    assert "Connection refused" in err
