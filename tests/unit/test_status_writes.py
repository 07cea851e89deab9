"""Which of a transition's statuses are worth a write once its start is written (`status.news`)."""

from __future__ import annotations

from typing import Any

import pytest

from dockercloud_operator.controller import status as statuses


def status(state: str, running_of_target: str, synchronized: bool = False, **extra: Any) -> Any:
    return {"state": state, "running_of_target": running_of_target,
            "synchronized": synchronized, **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("before", "after", "news"),
    [
        # containers replaced while as many as wanted run: told by the end
        (status("Redeploying", "2/1"), status("Redeploying", "1/1"), False),
        (status("Redeploying", "1/1"), status("Redeploying", "2/1"), False),
        (status("Redeploying", "3/3"), status("Redeploying", "2/3"), False),
        # containers coming up: progress
        (status("Starting", "0/4"), status("Starting", "1/4"), True),
        (status("Scaling", "2/5"), status("Scaling", "4/5"), True),
        (status("Starting", "2/4"), status("Starting", "1/4"), False),
        # going away: told by the end
        (status("Stopping", "3/0"), status("Stopping", "1/0"), False),
        # a new state, or synchronized changing
        (status("Running", "1/1"), status("Redeploying", "1/1"), True),
        (status("Scaling", "2/2", True), status("Scaling", "2/2", False), True),
        # a new spec seen mid-rollout: GitOps tools wait for its observedGeneration
        (
            status("Redeploying", "4/3", observedGeneration=2),
            status("Redeploying", "4/3", observedGeneration=4),
            True,
        ),
        # an action held
        (
            status("Redeploying", "1/1", conditions=[{"type": "ActionsAllowed", "status": "True"}]),
            status("Redeploying", "1/1", conditions=[
                {"type": "ActionsAllowed", "status": "False", "message": "scale held"}]),
            True,
        ),
        # the Ready condition only repeats the counts
        (
            status("Redeploying", "2/1", conditions=[{"type": "Ready", "message": "2/1"}]),
            status("Redeploying", "1/1", conditions=[{"type": "Ready", "message": "1/1"}]),
            False,
        ),
    ],
)  # fmt: skip
def test_news(before: Any, after: Any, news: bool) -> None:
    assert statuses.news(after, before) is news


def test_moving() -> None:
    assert statuses.moving(status("Redeploying", "1/1", True))
    assert statuses.moving(status("Running", "1/1", False))
    assert not statuses.moving(status("Running", "1/1", True))
    assert not statuses.moving({})
