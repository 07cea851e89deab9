#!/usr/bin/env bash
# `make demo`: a cluster (KUBECONFIG's, or else the local control plane), the Service CRD, the
# operator, and the example stack (a web service linked to a database) until it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
state=.testbed
mkdir -p "$state"

if [ -z "${KUBECONFIG:-}" ]; then
  echo "KUBECONFIG is not set: using the local control plane (make cluster-down stops it)."
  "$py" -m testbed.controlplane up --background --kubeconfig "$PWD/$state/kubeconfig"
  export KUBECONFIG=$PWD/$state/kubeconfig
fi
kubectl="$("$py" -m testbed.controlplane bin)/kubectl"
show() { echo; echo "\$ kubectl $*"; "$kubectl" "$@"; }

show get nodes -L tags.dockercloud.dev/ssd
show apply --server-side -f crds/service.yaml -f crds/stack.yaml
"$kubectl" wait --for=condition=Established crd/services.app.dockercloud.dev --timeout=60s >/dev/null
# Where the cluster has MutatingAdmissionPolicies, new services get their finalizer on creation.
for version in v1 v1beta1; do
  if "$kubectl" get --raw "/apis/admissionregistration.k8s.io/$version" 2>/dev/null | grep -q '"mutatingadmissionpolicies"'; then
    echo; echo "\$ dockercloud-operator finalizer-policy --api-version $version | kubectl apply --server-side -f -"
    .venv/bin/dockercloud-operator finalizer-policy --api-version "$version" | "$kubectl" apply --server-side -f -
    # The policy needs the new kind's schema, which the API server learns a moment after the
    # CRD: until then creates are refused (503), so wait for a dry run to pass.
    for _ in $(seq 1 60); do
      "$kubectl" apply --dry-run=server -f examples/wordpress.yaml >/dev/null 2>&1 && break
      sleep 0.5
    done
    break
  fi
done

pid_file=$state/operator.pid
if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo; echo "The operator is already running (pid $(cat "$pid_file"), log $state/operator.log)."
else
  echo; echo "Starting the operator (log: $state/operator.log)."
  nohup .venv/bin/dockercloud-operator run >"$state/operator.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
fi

show apply -f examples/wordpress.yaml
echo; echo "Waiting for the services to be Running..."
for _ in $(seq 1 120); do
  states=$("$kubectl" get dcs db web -o jsonpath='{.items[*].status.state}' 2>/dev/null || true)
  printf '\r  db, web: %-40s' "${states:-(no status yet)}"
  [ "$states" = "Running Running" ] && break
  sleep 1
done
echo
show get dcs
show get deployments,statefulsets,services,pods -l app.kubernetes.io/managed-by=dockercloud-operator -o wide
[ "$states" = "Running Running" ] || { echo "The services did not reach Running; see $state/operator.log" >&2; exit 1; }

# The containers' logs (on the local control plane, the lines its log writer gives each one).
export PATH="$PWD/.venv/bin:$PATH"  # kubectl finds its plugin kubectl-dcs there
echo; echo "\$ kubectl dcs logs web --tail 3"
for _ in $(seq 1 30); do
  logs=$("$kubectl" dcs logs web --tail 3 2>&1) && [ -n "$logs" ] && ! grep -q "no logs" <<<"$logs" && break
  sleep 1
done
echo "$logs"

# The documented REST API, on a token of a ServiceAccount that may edit services here.
show apply -f manifests/user-roles.yaml
"$kubectl" create serviceaccount dockercloud-demo --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
"$kubectl" create rolebinding dockercloud-demo --clusterrole=dockercloud-service-editor \
  --serviceaccount=default:dockercloud-demo --dry-run=client -o yaml | "$kubectl" apply -f - >/dev/null
echo; echo "\$ kubectl create token dockercloud-demo --duration=24h > $state/api-token"
"$kubectl" create token dockercloud-demo --duration=24h >"$state/api-token"
api_pid=$state/api.pid
api_url=$(cat "$state/api.url" 2>/dev/null || true)
if ! { [ -f "$api_pid" ] && kill -0 "$(cat "$api_pid")" 2>/dev/null; }; then
  port=8080
  "$py" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)" \
    && port=$("$py" -c "from testbed.controlplane import free_port; print(free_port())")
  api_url=http://127.0.0.1:$port
  echo; echo "Starting the REST API at $api_url (log: $state/api.log)."
  nohup .venv/bin/dockercloud-operator api --listen "127.0.0.1:$port" >"$state/api.log" 2>&1 </dev/null &
  echo $! >"$api_pid"
  echo "$api_url" >"$state/api.url"
  for _ in $(seq 1 50); do curl -sf "$api_url/healthz" >/dev/null && break; sleep 0.2; done
fi
echo; echo "\$ curl -s -u \"demo:\$(cat $state/api-token)\" $api_url/api/app/v1/service/?name=web"
curl -s -u "demo:$(cat "$state/api-token")" "$api_url/api/app/v1/service/?name=web" \
  | "$py" -m json.tool | awk 'NR <= 45 { print } NR == 46 { print "    ... (docs/rest-api.md has every endpoint)" }'

# The same application as a stack, from its Docker Cloud stackfile.
echo; echo "\$ kubectl dcs stack up -f examples/wordpress/docker-cloud.yml --name blog --sync"
"$kubectl" dcs stack up -f examples/wordpress/docker-cloud.yml --name blog --sync --timeout 180
show get dcs -l app.dockercloud.dev/stack=blog
show get dcstack blog

echo
echo "Next: kubectl scale dcs/web --replicas=5; kubectl get dcs -w; kubectl describe dcs web"
echo "      kubectl dcs stack stop blog --sync; kubectl dcs stack export blog   (docs/stacks.md)"
echo "      curl -u \"demo:\$(cat $state/api-token)\" $api_url/api/app/v1/service/   (docs/rest-api.md)"
echo "      kubectl delete -f examples/wordpress.yaml; make cluster-down (stops the operator and the API too)"
