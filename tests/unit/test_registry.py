"""Registry push notifications and the images they update (autoredeploy's pure part)."""

from __future__ import annotations

from typing import Any

import pytest

from dockercloud_operator.documented.registry import (
    Image,
    Push,
    parse_image,
    parse_notification,
    updates,
)
from dockercloud_operator.documented.requests import BadRequest

DIGEST = "sha256:fc2d1ea48ab7e1d43e7b1c1a2e1cc1b7e0e5bca93b0b6e0f0c8c2a0a3a4c5d6e"


def distribution(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}


def pushed(repository: str, tag: str | None, host: str = "registry.example.com:5000",
           action: str = "push") -> dict[str, Any]:  # fmt: skip
    target: dict[str, Any] = {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": DIGEST, "repository": repository,
        "url": f"https://{host}/v2/{repository}/manifests/{DIGEST}",
    }  # fmt: skip
    if tag is not None:
        target["tag"] = tag
    return {"id": "e1", "action": action, "target": target,
            "request": {"id": "r1", "host": host, "method": "PUT"}}  # fmt: skip


def hub(repo_name: str, tag: str | None = "latest") -> dict[str, Any]:
    push_data: dict[str, Any] = {"pushed_at": 1417566161, "pusher": "someone"}
    if tag is not None:
        push_data["tag"] = tag
    namespace, _, name = repo_name.rpartition("/")
    return {
        "callback_url": "https://registry.hub.docker.com/u/x/hook/1/",
        "push_data": push_data,
        "repository": {"repo_name": repo_name, "name": name, "namespace": namespace},
    }


@pytest.mark.parametrize(
    ("reference", "image"),
    [
        ("nginx", Image("docker.io", "library/nginx", "latest")),
        ("nginx:1.27", Image("docker.io", "library/nginx", "1.27")),
        ("tutum/hello-world", Image("docker.io", "tutum/hello-world", "latest")),
        ("docker.io/library/nginx:1", Image("docker.io", "library/nginx", "1")),
        ("index.docker.io/tutum/x:2", Image("docker.io", "tutum/x", "2")),
        ("registry.example.com:5000/team/app:v2",
         Image("registry.example.com:5000", "team/app", "v2")),
        ("localhost/app", Image("localhost", "app", "latest")),
        ("localhost:5000/app:1", Image("localhost:5000", "app", "1")),
        ("Registry.Example.com/app", Image("registry.example.com", "app", "latest")),
    ],
)  # fmt: skip
def test_images_are_read_as_docker_reads_them(reference: str, image: Image) -> None:
    assert parse_image(reference) == image


@pytest.mark.parametrize("reference", [f"nginx@{DIGEST}", f"nginx:1@{DIGEST}", "Nginx", "a:b:c"])
def test_digests_and_non_references_are_never_updated(reference: str) -> None:
    assert parse_image(reference) is None


def test_a_distribution_envelope_tells_of_its_tag_pushes_only() -> None:
    pushes = parse_notification(
        distribution(
            pushed("team/app", "v2"),
            pushed("team/app", None),  # by digest, or a blob
            pushed("team/app", "v3", action="pull"),
        )
    )
    assert pushes == [
        Push(Image("registry.example.com:5000", "team/app", "v2"), "registry notification", DIGEST)
    ]
    assert "registry.example.com:5000/team/app:v2" in pushes[0].describe()


def test_the_host_comes_from_the_url_when_the_request_has_none() -> None:
    event = pushed("app", "1", host="reg.local:5000")
    del event["request"]
    [push] = parse_notification(distribution(event))
    assert push.image == Image("reg.local:5000", "app", "1")


def test_a_docker_hub_webhook_is_a_push_to_docker_hub() -> None:
    assert parse_notification(hub("svendowideit/testhook", "v1")) == [
        Push(Image("docker.io", "svendowideit/testhook", "v1"), "Docker Hub webhook")
    ]
    [official] = parse_notification(hub("nginx", None))
    assert official.image == Image("docker.io", "library/nginx", "latest")


def test_a_push_updates_the_services_whose_image_it_names() -> None:
    pushes = parse_notification(hub("tutum/hello-world", "latest"))
    assert updates("tutum/hello-world", pushes) == pushes[0]
    assert updates("docker.io/tutum/hello-world:latest", pushes) == pushes[0]
    assert updates("tutum/hello-world:v2", pushes) is None  # another tag
    assert updates("other/hello-world", pushes) is None
    assert updates(f"tutum/hello-world@{DIGEST}", pushes) is None
    local = parse_notification(distribution(pushed("tutum/hello-world", "latest")))
    assert updates("tutum/hello-world", local) is None  # the same name on another registry


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "a registry notification is a JSON object"),
        ({"hello": 1}, 'expected "events"'),
        ({"events": {}}, '"events" must be a list'),
        ({"events": ["x"]}, "events[0] must be an object"),
        ({"events": [{"action": "push"}]}, "events[0].target must be an object"),
        ({"events": [{"action": "push", "target": {"tag": "1"}}]},
         "events[0].target.repository must be a non-empty string"),
        ({"events": [{"action": "push", "target": {"repository": "a", "tag": 5}}]},
         "events[0].target.tag must be a non-empty string"),
        ({"events": [{"action": "push", "target": {"repository": "a", "tag": "1"}}]},
         "events[0].request.host must be a non-empty string"),
        ({"events": [pushed("Bad Name", "1")]}, 'events[0].target.repository "Bad Name"'),
        ({"events": [pushed("a", "-x")]}, 'events[0].target.tag "-x" is not a tag'),
        ({"push_data": {"tag": "1"}}, '"repository" must be an object'),
        ({"push_data": {}, "repository": {}}, '"repository.repo_name" must be a non-empty'),
        ({"push_data": "x", "repository": {"repo_name": "a"}}, '"push_data" must be an object'),
    ],
)  # fmt: skip
def test_malformed_notifications_name_what_is_wrong(body: Any, words: str) -> None:
    with pytest.raises(BadRequest, match=None) as refused:
        parse_notification(body)
    assert words in str(refused.value)
