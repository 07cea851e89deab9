"""The test bed's default container logs: which pods get one, and what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from testbed.container_logs import (
    DEFAULT_LOGS_LABEL,
    LogWriter,
    Plan,
    cluster_logs_for,
    container_log,
    default_logs_name,
    plan,
)

Object = dict[str, Any]


def _pod(name: str, namespace: str = "shop", node: str | None = "kwok-node-0") -> Object:
    spec: Object = {"containers": [{"name": "web-1", "image": "nginx:1.27"}]}
    if node:
        spec["nodeName"] = node
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": spec,
        "status": {
            "containerStatuses": [
                {"name": "web-1", "state": {"running": {"startedAt": "2026-11-28T10:00:05Z"}}}
            ]
        },
    }


def _theirs(namespaces: list[str] | None = None, names: list[str] | None = None) -> Object:
    selector = {"matchNamespaces": namespaces or [], "matchNames": names or []}
    return {"metadata": {"name": "a-test"}, "spec": {"selector": selector}}


def test_a_scheduled_pod_gets_a_log_and_an_unscheduled_one_waits() -> None:
    todo = plan([_pod("a"), _pod("b", node=None)], [], [], [])
    assert [p["metadata"]["name"] for p in todo.give] == ["a"]
    assert todo.take_back == []


def test_a_pod_with_a_log_already_gets_nothing_more() -> None:
    pod = _pod("a")
    ours = cluster_logs_for(pod, {"web-1": Path("/x")})
    assert plan([pod], [ours], [], []) == Plan(give=[], take_back=[])


def test_logs_of_pods_that_are_gone_are_taken_back() -> None:
    gone = cluster_logs_for(_pod("old"), {"web-1": Path("/x")})
    assert plan([], [gone], [], []).take_back == [default_logs_name(_pod("old"))]


def test_a_pod_recreated_under_its_name_gets_a_new_log() -> None:
    before, after = _pod("a"), _pod("a")
    after["metadata"]["uid"] = "another"
    todo = plan([after], [cluster_logs_for(before, {})], [], [])
    assert todo.give == [after]
    assert todo.take_back == [default_logs_name(before)]


def test_logs_a_test_configures_win_and_ours_step_aside() -> None:
    pod = _pod("a")
    ours = cluster_logs_for(pod, {})
    for theirs in (_theirs(["shop"]), _theirs(names=["a"]), _theirs()):
        todo = plan([pod], [ours, theirs], [], [])
        assert todo.give == [] and todo.take_back == [default_logs_name(pod)]
    # a ClusterLogs for another namespace or pod leaves ours alone
    assert plan([pod], [_theirs(["other"])], [], []).give == [pod]
    assert plan([pod], [_theirs(names=["b"])], [], []).give == [pod]
    # a Logs object of the pod itself
    logs = {"metadata": {"name": "a", "namespace": "shop"}}
    assert plan([pod], [], [logs], []).give == []


def test_a_namespace_labelled_off_gets_no_logs() -> None:
    assert plan([_pod("a")], [], [], ["shop"]).give == []
    assert plan([_pod("a")], [], [], ["other"]).give != []


def test_the_log_says_which_container_where_and_when_in_cri_format() -> None:
    pod = _pod("web-7d9-x2")
    text = container_log(pod, pod["spec"]["containers"][0])
    lines = text.splitlines()
    assert len(lines) == 3
    assert all(line.startswith("2026-11-28T10:00:05.000000Z stdout F ") for line in lines)
    assert "container web-1 of pod shop/web-7d9-x2 started at 2026-11-28T10:00:05Z" in lines[0]
    assert "kwok-node-0" in lines[0]
    assert lines[1].endswith("image nginx:1.27")


def test_the_cluster_logs_names_one_pod_and_each_containers_file() -> None:
    pod = _pod("a")
    body = cluster_logs_for(pod, {"web-1": Path("/l/web-1.log"), "side": Path("/l/side.log")})
    assert body["kind"] == "ClusterLogs"
    assert body["metadata"]["labels"] == {DEFAULT_LOGS_LABEL: "true"}
    assert body["spec"]["selector"] == {"matchNamespaces": ["shop"], "matchNames": ["a"]}
    assert body["spec"]["logs"] == [
        {"containers": ["web-1"], "logsFile": "/l/web-1.log", "follow": True},
        {"containers": ["side"], "logsFile": "/l/side.log", "follow": True},
    ]


def test_the_writer_writes_files_creates_and_deletes_objects(tmp_path: Path) -> None:
    stale = cluster_logs_for(_pod("gone"), {})
    calls: list[tuple[str, str]] = []
    created: list[Object] = []

    def api(method: str, path: str, body: Object | None = None) -> Any:
        calls.append((method, path))
        if method == "POST":
            created.append(body or {})
        if path == "/api/v1/pods":
            return {"items": [_pod("a")]}
        if path.endswith("/clusterlogs"):
            return {"items": [stale]}
        return {"items": []}

    said: list[str] = []
    LogWriter(tmp_path, api, said.append).step()
    [body] = created
    [entry] = body["spec"]["logs"]
    assert Path(entry["logsFile"]).read_text().count("\n") == 3
    stale_name = stale["metadata"]["name"]
    assert ("DELETE", f"/apis/kwok.x-k8s.io/v1alpha1/clusterlogs/{stale_name}") in calls
    assert said == ["logs for shop/a", f"removed {stale_name}"]
