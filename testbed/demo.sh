#!/usr/bin/env bash
# `make demo`: the cluster KUBECONFIG names, or else the local control plane, and what runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python

if [ -z "${KUBECONFIG:-}" ]; then
  echo "KUBECONFIG is not set: using the local control plane (make cluster-down stops it)."
  "$py" -m testbed.controlplane up --background --kubeconfig "$PWD/.testbed/kubeconfig"
  export KUBECONFIG=$PWD/.testbed/kubeconfig
fi
kubectl="$("$py" -m testbed.controlplane bin)/kubectl"

echo
echo "\$ kubectl get nodes -L tags.dockercloud.dev/ssd"
"$kubectl" get nodes -L tags.dockercloud.dev/ssd
