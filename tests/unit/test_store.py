"""The operator's view of the cluster: services, their children and pods, and references."""

from __future__ import annotations

import ctypes
from typing import Any

from dockercloud_operator.controller.store import Packed, Store
from dockercloud_operator.schema.model import Service


def body(name: str, uid: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "app.dockercloud.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns", "uid": uid, "managedFields": [{"x": 1}]},
        "spec": {"image": "nginx", **spec},
    }


def child(kind: str, name: str, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"app.dockercloud.dev/service": service},
        },
    }


def model(store: Store, key: tuple[str, str]) -> Service:
    found = store.model(key)
    assert found is not None
    return found


def versioned(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}


UID_DB = "72f175bd-390b-46e3-9463-830aca32ce3e"


def test_services_are_kept_without_managed_fields() -> None:
    store = Store()
    key = store.put_service(body("web", "u1"))
    assert key == ("ns", "web")
    assert "managedFields" not in (store.service(key) or {})["metadata"]
    assert model(store, key).spec.image == "nginx"


def test_dependents_are_found_by_name_and_by_resource_uri() -> None:
    store = Store()
    store.put_service(body("db", UID_DB))
    store.put_service(body("web", "u2", linked_to_service=[{"to_service": "db", "name": "DB"}]))
    store.put_service(
        body("api", "u3", linked_to_service=[{"to_service": f"/api/app/v1/service/{UID_DB}/"}])
    )
    store.put_service(body("backup", "u4", bindings=[{"volumes_from": "db"}]))
    store.put_service(body("other", "u5"))
    assert sorted(store.dependents(("ns", "db"))) == [
        ("ns", "api"),
        ("ns", "backup"),
        ("ns", "web"),
    ]
    assert sorted(alias for alias, _ in store.linked_from(("ns", "db"))) == ["DB", "db"]

    store.remove_service(("ns", "web"))
    store.put_service(body("api", "u3"))  # its link removed
    assert store.dependents(("ns", "db")) == [("ns", "backup")]


def test_children_and_pods_are_grouped_by_their_service() -> None:
    store = Store()
    assert store.put_child(child("Service", "web", "web")) == ("ns", "web")
    store.put_child(child("ServiceAccount", "web", "web"))
    store.put_child(child("Service", "db", "db"))
    assert {c["kind"] for c in store.children_of(("ns", "web"))} == {"Service", "ServiceAccount"}
    store.remove_child(child("Service", "web", "web"))
    assert [c["kind"] for c in store.children_of(("ns", "web"))] == ["ServiceAccount"]

    store.put_pod(child("Pod", "web-1", "web"))
    assert [p["metadata"]["name"] for p in store.pods_of(("ns", "web"))] == ["web-1"]
    store.remove_pod(child("Pod", "web-1", "web"))
    assert store.pods_of(("ns", "web")) == []


def test_objects_without_the_service_label_belong_to_nobody() -> None:
    store = Store()
    stray = {"kind": "Service", "metadata": {"name": "x", "namespace": "ns"}}
    assert store.put_child(stray) is None
    assert store.children == {}


def test_what_only_the_start_up_listing_saw_is_forgotten() -> None:
    store = Store()
    store.put_service(body("web", "u1"), listed=True)
    store.put_service(body("gone", "u2"), listed=True)
    # The watch's own first listing confirms what still exists.
    store.put_service(body("web", "u1"))

    assert store.forget_unconfirmed() == set()  # nothing used the service that is gone
    assert list(store.services) == [("ns", "web")]
    assert store.forget_unconfirmed() == set()


def test_an_older_body_never_overwrites_a_newer_one() -> None:
    store = Store()
    deployment = child("Deployment", "web", "web")
    store.put_child(versioned(deployment, "12"))  # the watch saw a later write first
    store.put_child(versioned(deployment, "10"))  # then the response to our own arrived
    assert store.children_of(("ns", "web"))[0]["metadata"]["resourceVersion"] == "12"

    store.put_service(versioned(body("web", "u1"), "7"))
    store.put_service(versioned(body("web", "u1", running=False), "5"))
    assert model(store, ("ns", "web")).spec.running is True

    store.put_pod(versioned(child("Pod", "web-1", "web"), "30"))
    store.put_pod(versioned(child("Pod", "web-1", "web"), "29"))
    assert store.pods_of(("ns", "web"))[0]["metadata"]["resourceVersion"] == "30"


def test_pods_are_kept_with_only_what_the_status_reads() -> None:
    store = Store()
    pod = child("Pod", "web-1", "web")
    pod["metadata"] |= {"uid": "u1", "resourceVersion": "5", "managedFields": [{"x": 1}]}
    pod["spec"] = {"containers": [{"name": "web", "image": "nginx", "env": [{"name": "A"}]}]}
    pod["status"] = {
        "phase": "Running",
        "hostIP": "10.0.0.1",
        "podIP": "10.244.0.5",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "web", "image": "nginx", "state": {"running": {}}}],
    }
    assert store.put_pod(pod) == ("ns", "web")
    assert store.pods_of(("ns", "web")) == [
        {
            "metadata": {
                "name": "web-1", "namespace": "ns", "uid": "u1", "resourceVersion": "5",
                "labels": {"app.dockercloud.dev/service": "web"},
            },
            "status": {
                "phase": "Running", "hostIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"state": {"running": {}}}],
            },
        }
    ]  # fmt: skip


def test_a_status_change_keeps_the_model_and_a_new_generation_replaces_it() -> None:
    store = Store()
    first = body("web", "u1") | {"status": {"state": "Starting"}}
    first["metadata"] |= {"generation": 1, "resourceVersion": "5"}
    key = store.put_service(first)
    kept = store.model(key)
    running = first | {"status": {"state": "Running"}}
    running["metadata"] = first["metadata"] | {"resourceVersion": "6"}
    store.put_service(running)
    assert store.model(key) is kept  # only the status changed: not validated again
    assert store.states[key] == "Running"
    scaled = body("web", "u1", target_num_containers=3)
    scaled["metadata"] |= {"generation": 2, "resourceVersion": "7"}
    store.put_service(scaled)
    assert model(store, key).spec.target_num_containers == 3


def test_models_beyond_those_kept_are_validated_again_when_read() -> None:
    store = Store(models_kept=2)
    for index, name in enumerate(("web", "api", "db")):
        service = body(name, f"u{index}", target_num_containers=index + 1)
        service["metadata"] |= {"generation": 1, "resourceVersion": str(index + 1)}
        store.put_service(service)
    assert len(store._models) == 2  # the least recently used, web's, is let go
    web = store.model(("ns", "web"))
    assert web is not None and web.spec.target_num_containers == 1
    assert store.model(("ns", "web")) is web  # kept again, as the most recently used
    assert ("ns", "api") not in store._models
    assert store.model(("ns", "nobody")) is None


def test_references_resolve_to_services_whose_models_are_not_kept() -> None:
    store = Store(models_kept=1)
    store.put_service(body("db", UID_DB, target_num_containers=2))
    store.put_service(body("web", "u1", linked_to_service=[{"to_service": "db", "name": "DB"}]))
    uri = f"/api/app/v1/ns/service/{UID_DB}/"
    store.put_service(body("backup", "u2", bindings=[{"volumes_from": uri}]))
    found = store.index.find("db", "ns")
    assert found is not None and found.spec.target_num_containers == 2
    assert store.index.find(f"/api/app/v1/other/service/{UID_DB}/", "ns") is found
    assert sorted(store.dependents(("ns", "db"))) == [("ns", "backup"), ("ns", "web")]
    assert [alias for alias, _ in store.linked_from(("ns", "db"))] == ["DB"]

    store.remove_service(("ns", "db"))  # its uid no longer names anything
    assert store.index.find(uri, "ns") is None
    assert store.dependents(("ns", "db")) == []


def test_a_pod_change_the_status_does_not_read_brings_no_reconcile() -> None:
    store = Store()
    pod = versioned(child("Pod", "web-1", "web"), "5")
    pod["status"] = {"phase": "Pending"}
    assert store.put_pod(pod) == ("ns", "web")  # a new container: Starting

    bound = versioned(child("Pod", "web-1", "web"), "6")
    bound["spec"] = {"nodeName": "kwok-node-0"}
    bound["status"] = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"}],
    }
    assert store.put_pod(bound) is None  # bound to a node: nothing the status reads
    assert store.pods_of(("ns", "web"))[0]["metadata"]["resourceVersion"] == "6"

    running = versioned(child("Pod", "web-1", "web"), "7")
    running["status"] = {
        "phase": "Running",
        "hostIP": "10.0.0.1",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-27T00:00:00Z"},
        ],
    }
    assert store.put_pod(running) == ("ns", "web")  # running and ready: Running
    assert store.pods_of(("ns", "web"))[0]["status"]["conditions"] == [
        {"type": "Ready", "status": "True"}
    ]


class MallInfo(ctypes.Structure):  # glibc's struct mallinfo2
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


def _malloc_in_use() -> int:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo
    return int(libc.mallinfo2().uordblks)


def test_a_packed_body_holds_no_more_memory_than_its_text() -> None:
    """orjson's bytes keep the buffer they grew in, four times the text: a store of a thousand
    services' children held 14 MiB more than their text."""
    deployment = child("Deployment", "web", "web")
    deployment["spec"] = {"env": [{"name": f"VARIABLE_{i}", "value": "x" * 40} for i in range(30)]}
    before = _malloc_in_use()
    packed = [Packed.of(deployment) for _ in range(2000)]
    per_body = (_malloc_in_use() - before) / len(packed)
    assert len(packed[0].text) > 2000  # past pymalloc's 512 bytes: glibc's malloc holds it
    assert per_body < 1.2 * len(packed[0].text), per_body
    assert packed[0].body() == deployment
