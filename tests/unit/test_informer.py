"""What a watch that lists again tells its consumer (`informer.Mirror`): the listed objects,
and, as deleted, those it knew that the list lacks (deleted while the watch was away)."""

from __future__ import annotations

from typing import Any

from dockercloud_operator.controller.informer import DELETED, Mirror, identity


def pod(name: str, service: str = "web", **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name,
                     "labels": {"service": service, **labels}},
        "status": {"phase": "Running"},
    }  # fmt: skip


def relist(mirror: Mirror, items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A new list, as the informer makes it (page by page, then what it lacks)."""
    for item in items:
        mirror.seen("MODIFIED", item)
    gone = mirror.forget_unlisted({identity(item) for item in items})
    return [(kind, body["metadata"]["name"]) for kind, body in gone]


def test_a_list_forgets_nothing_that_is_in_it() -> None:
    mirror = Mirror(owner_label="service")
    assert relist(mirror, [pod("a"), pod("b")]) == []
    assert mirror.known == {("ns", "a"): "web", ("ns", "b"): "web"}


def test_what_a_new_list_lacks_is_delivered_as_deleted_with_the_label_that_says_whose() -> None:
    mirror = Mirror(owner_label="service")
    relist(mirror, [pod("a"), pod("b", "api", tier="x")])
    mirror.seen("ADDED", pod("c"))
    gone = mirror.forget_unlisted({("ns", "a")})
    assert sorted(body["metadata"]["name"] for _, body in gone) == ["b", "c"]
    assert {kind for kind, _ in gone} == {DELETED}
    b = next(body for _, body in gone if body["metadata"]["name"] == "b")
    assert b["metadata"] == {"namespace": "ns", "name": "b", "labels": {"service": "api"}}
    assert set(mirror.known) == {("ns", "a")}
    assert relist(mirror, [pod("a")]) == []  # nothing more to forget


def test_an_object_without_the_label_is_forgotten_without_it() -> None:
    mirror = Mirror(owner_label="service")
    mirror.seen("ADDED", {"metadata": {"namespace": "ns", "name": "stray"}})
    [(kind, body)] = mirror.forget_unlisted(set())
    assert (kind, body["metadata"]) == (DELETED, {"namespace": "ns", "name": "stray", "labels": {}})


def test_a_watched_deletion_is_forgotten_at_once() -> None:
    mirror = Mirror()
    mirror.seen("ADDED", pod("a"))
    assert mirror.seen(DELETED, pod("a")) == DELETED
    assert mirror.forget_unlisted(set()) == []
