"""The fault suite: the operator on its own local control plane, under faults.

    .venv/bin/python -m chaos.run            # `make chaos`: the default sizes
    .venv/bin/python -m chaos.run --help     # the knobs (counts, rounds, examples, bounds)

Scenarios (`chaos/scenarios.py`), each a function of a `Bed` and its sizes:

- `operator_kills`: SIGKILL the operator at random moments while services roll out, restart it;
  afterwards every service runs with exactly its children.
- `control_plane_outage`: kube-apiserver stopped, killed and frozen, etcd frozen, mid-rollout;
  the operator reconnects, never exits, and applies the spec changes made around the outage.
- `conflicting_writers`: another field manager edits the children and the services; the
  operator's fields win, the other manager's stay, and write conflicts are retried quietly.
- `spec_fuzz`: hypothesis-generated specs, valid and invalid, against the real API server.
- `deletions`: deletion mid-reconcile, of a linked-to service, of a namespace, and while the
  operator is down; no stuck finalizer, no leaked object.
- `known_findings`: the smallest service showing each failure the suite found
  (`chaos/findings.py`), as regression checks.

`chaos/checks.py` holds the invariants; `chaos/report.py` the report
(`chaos/results/report.json`). `tests/integration/test_reliability.py` runs a small version.
"""
