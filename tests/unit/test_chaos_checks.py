"""The fault suite's own arithmetic: when each kind of problem was last seen in a convergence."""

from __future__ import annotations

from collections import Counter

from chaos.checks import Verdict


def test_cleared_says_when_each_kind_of_problem_was_last_seen() -> None:
    verdict = Verdict(seconds=9.5)
    verdict.timeline = [
        (0.0, Counter({"drifted": 3, "state": 10, "stale status": 10})),
        (1.1, Counter({"state": 8, "stale status": 2})),
        (2.2, Counter({"state": 5})),
        (3.3, Counter({"state": 1, "pods": 1})),
        (9.5, Counter()),
    ]
    # a kind is gone from the look after the last one that saw it
    assert verdict.cleared() == {"drifted": 1.1, "stale status": 2.2, "pods": 9.5, "state": 9.5}


def test_a_convergence_with_no_problem_clears_nothing() -> None:
    verdict = Verdict(seconds=0.8)
    verdict.timeline = [(0.0, Counter())]
    assert verdict.cleared() == {}
