"""What a watch that lists again tells its consumer (`informer.Mirror`): the listed objects,
and, as deleted, those it knew that the list lacks (deleted while the watch was away)."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.controller.informer import DELETED, Mirror


def pod(name: str, service: str = "web", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name,
                     "labels": {"service": service, **labels}},
        "status": {"phase": "Running"},
    }  # fmt: skip


def test_a_list_brings_every_object_and_forgets_nothing_on_its_own() -> None:
    mirror = Mirror(owner_label="service")
    events = mirror.relisted([pod("a"), pod("b")])
    assert [(kind, body["metadata"]["name"]) for kind, body in events] == [
        ("MODIFIED", "a"), ("MODIFIED", "b"),
    ]  # fmt: skip
    assert set(mirror.known) == {("ns", "a"), ("ns", "b")}


def test_what_a_new_list_lacks_is_delivered_as_deleted_with_the_labels_that_say_whose() -> None:
    mirror = Mirror(owner_label="service")
    mirror.relisted([pod("a"), pod("b", "api", tier="x")])
    mirror.seen("ADDED", pod("c"))
    events = mirror.relisted([pod("a")])
    deleted = [body for kind, body in events if kind == DELETED]
    assert sorted(body["metadata"]["name"] for body in deleted) == ["b", "c"]
    b = next(body for body in deleted if body["metadata"]["name"] == "b")
    assert b["metadata"] == {"namespace": "ns", "name": "b", "labels": {"service": "api"}}
    assert set(mirror.known) == {("ns", "a")}
    assert mirror.relisted([pod("a")]) == [("MODIFIED", pod("a"))]  # nothing more to forget


def test_a_watched_deletion_is_forgotten_at_once() -> None:
    mirror = Mirror()
    mirror.seen("ADDED", pod("a"))
    assert mirror.seen(DELETED, pod("a")) == DELETED
    assert mirror.relisted([]) == []
