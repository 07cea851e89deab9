#!/usr/bin/env bash
# Regenerates go.mod/go.sum for a Kubernetes version: k8s.io/kubernetes maps its staging
# modules to ./staging/src, which Go ignores in a dependency, so each one is replaced here with
# its published twin (Kubernetes v1.N.P <-> staging v0.N.P).
# Usage: testbed/update-go-mod.sh v1.34.4 v0.7.0
set -euo pipefail
k8s=${1:?kubernetes version, e.g. v1.34.4}
kwok=${2:?kwok version, e.g. v0.7.0}
staging=v0.${k8s#v1.}
cd "$(dirname "$0")"

gomod=$(go mod download -json "k8s.io/kubernetes@$k8s" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2; exit}' "$gomod")

{
  echo "module github.com/dockercloud-operator/testbed"
  echo
  echo "go 1.24.0"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes $k8s"
  echo "	go.etcd.io/etcd/server/v3 $etcd"
  echo ")"
  echo
  echo "replace ("
  grep -E '=> \./staging/src/' "$gomod" | awk -v v="$staging" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
  echo
  echo "tool ("
  echo "	go.etcd.io/etcd/server/v3"
  echo "	k8s.io/kubernetes/cmd/kube-apiserver"
  echo "	k8s.io/kubernetes/cmd/kube-controller-manager"
  echo "	k8s.io/kubernetes/cmd/kube-scheduler"
  echo "	k8s.io/kubernetes/cmd/kubectl"
  echo ")"
} > go.mod
go mod tidy

# kwok resolves its own Kubernetes libraries (it does not build against the pinned staging set),
# so it has a module of its own.
mkdir -p kwok
cat > kwok/go.mod <<MOD
module github.com/dockercloud-operator/testbed/kwok

go 1.24.0

require sigs.k8s.io/kwok $kwok

tool sigs.k8s.io/kwok/cmd/kwok
MOD
(cd kwok && go mod tidy)
echo "go.mod: kubernetes $k8s (staging $staging), etcd $etcd, kwok $kwok"
