"""The operator's API calls send the client's credentials, read again as they are rotated."""

from __future__ import annotations

import pytest
from kubernetes import client

from dockercloud_operator.controller import kube as kube_module
from dockercloud_operator.controller.kube import CREDENTIALS_TTL, Kube


def test_a_rotated_token_is_sent_once_the_credentials_are_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = iter(["first", "second", "third"])
    refreshes = []

    def refresh(configuration: client.Configuration) -> None:  # as a kubeconfig's hook does
        refreshes.append(1)
        configuration.api_key["BearerToken"] = next(tokens)

    configuration = client.Configuration(
        host="https://127.0.0.1:6443",
        api_key={"BearerToken": "as loaded"},
        api_key_prefix={"BearerToken": "Bearer"},
    )
    configuration.refresh_api_key_hook = refresh
    kube = Kube(client.ApiClient(configuration))
    now = [1000.0]
    monkeypatch.setattr(kube_module.time, "monotonic", lambda: now[0])

    assert kube.credentials()["authorization"] == "Bearer first"
    now[0] += CREDENTIALS_TTL / 2
    assert kube.credentials()["authorization"] == "Bearer first"
    assert len(refreshes) == 1  # not for every request
    now[0] += CREDENTIALS_TTL
    assert kube.credentials()["authorization"] == "Bearer second"
    assert "User-Agent" in kube.credentials()  # the client's own headers go too
