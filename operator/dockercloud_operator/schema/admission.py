"""A MutatingAdmissionPolicy that gives every Service its finalizer as it is written.

Without it the operator adds the finalizer itself: one more write (and one more watch event)
for every new service. With it, the finalizer arrives in the user's own create. The operator
works the same either way; the policy only saves the write. MutatingAdmissionPolicy is beta in
Kubernetes 1.34 and 1.35 (off by default: the `MutatingAdmissionPolicy` feature gate and
`--runtime-config=admissionregistration.k8s.io/v1beta1=true`) and GA, served as v1, from 1.36.
"""

from __future__ import annotations

from typing import Any

import yaml

from dockercloud_operator.schema import constants

GROUP = "admissionregistration.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1")  # newest first
POLICY_NAME = f"{constants.PLURAL}.{constants.GROUP}-finalizer"
PLURALS = {
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "MutatingAdmissionPolicyBinding": "mutatingadmissionpolicybindings",
}
HEADER = (
    "# Generated from operator/dockercloud_operator/schema/admission.py by `make crds`. "
    "Do not edit.\n"
)

# Updates count as well as creates: an update that drops the finalizer (a server-side apply
# that once owned it, a hand edit) gets it back. Not once deletion has begun: the operator's
# own removal of the finalizer is an update too.
NEEDS_FINALIZER = (
    "!has(object.metadata.deletionTimestamp) && "
    f"!(has(object.metadata.finalizers) && '{constants.FINALIZER}' in object.metadata.finalizers)"
)


def finalizer_policy(api_version: str = API_VERSIONS[0]) -> list[dict[str, Any]]:
    """The policy and its binding (cluster-wide), for the given admissionregistration version."""
    policy = {
        "apiVersion": api_version,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [constants.GROUP],
                        "apiVersions": [constants.VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [constants.PLURAL],  # not services/status
                    }
                ]
            },
            "matchConditions": [{"name": "needs-the-finalizer", "expression": NEEDS_FINALIZER}],
            # Should the policy fail, the write goes ahead and the operator adds the finalizer.
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "Never",
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",  # finalizers are a set: merged, not replaced
                    "applyConfiguration": {
                        "expression": "Object{metadata: Object.metadata{finalizers: "
                        f"['{constants.FINALIZER}']}}}}"
                    },
                }
            ],
        },
    }
    binding = {
        "apiVersion": api_version,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY_NAME},
        "spec": {"policyName": POLICY_NAME},
    }
    return [policy, binding]


def render_yaml(api_version: str = API_VERSIONS[0]) -> str:
    return HEADER + yaml.safe_dump_all(finalizer_policy(api_version), sort_keys=False)
