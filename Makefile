# dockercloud-operator: the two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_KUBECONFIG := $(CURDIR)/.testbed/kubeconfig
KIND_CLUSTER ?= dockercloud-operator
KIND_VERSION ?= v0.30.0
CACHE ?= $(HOME)/.cache/dockercloud-operator
PYTEST_ARGS ?=
CHAOS_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# -- set-up -------------------------------------------------------------------------------------

$(STAMP): pyproject.toml
	@bash testbed/check-prerequisites.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

.PHONY: venv
venv: $(STAMP) ## create .venv with the package and its test tools

.PHONY: testbed
testbed: $(STAMP) ## build the local control plane's binaries (cached under ~/.cache)
	$(PY) -m testbed.controlplane build

.PHONY: crds
crds: $(STAMP) ## regenerate crds/ (the Service and Stack CRDs from the pydantic models, the finalizer policy)
	$(BIN)/dockercloud-operator crd > crds/service.yaml
	$(BIN)/dockercloud-operator crd --kind stack > crds/stack.yaml
	cp crds/service.yaml crds/stack.yaml manifests/crd/  # kustomize reads only below manifests/
	cp crds/service.yaml crds/stack.yaml charts/dockercloud-operator/crds/  # Helm installs crds/ untemplated
	$(BIN)/dockercloud-operator finalizer-policy > crds/finalizer-policy.yaml

# -- checks -------------------------------------------------------------------------------------

.PHONY: lint
lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check operator testbed tests
	$(BIN)/ruff format --check operator testbed tests
	$(BIN)/mypy

.PHONY: test
test: lint testbed ## everything: lint, unit tests, integration tests on a real control plane
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: helm-test
helm-test: testbed ## the Helm chart: lint, renders against manifests/, install on a real control plane
	$(PY) -m testbed.build helm
	$(BIN)/pytest tests/unit/test_chart.py tests/integration/test_helm.py $(PYTEST_ARGS)

.PHONY: chaos
chaos: testbed ## the fault suite on a control plane of its own (CHAOS_ARGS="--services 60 ...")
	env -u KUBECONFIG $(PY) -m chaos.run $(CHAOS_ARGS)

# -- clusters -----------------------------------------------------------------------------------

.PHONY: cluster-up
cluster-up: testbed ## start the local control plane in the background (.testbed/kubeconfig)
	$(PY) -m testbed.controlplane up --background --kubeconfig $(LOCAL_KUBECONFIG)

.PHONY: cluster-down
cluster-down: $(STAMP) ## stop the demo's operator and REST API, and the local control plane
	@for pid in .testbed/operator.pid .testbed/api.pid; do \
	  if [ -f $$pid ]; then kill $$(cat $$pid) 2>/dev/null || true; rm -f $$pid; fi; done
	@rm -f .testbed/api.url
	$(PY) -m testbed.controlplane down

.PHONY: kind-up
kind-up: ## for machines with Docker: a kind cluster (.testbed/kind.kubeconfig)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || \
	  { echo "kind needs a running Docker engine; use 'make cluster-up' for the local control plane."; exit 1; }
	@command -v kind >/dev/null || GOBIN=$(CACHE)/kind-$(KIND_VERSION) go install sigs.k8s.io/kind@$(KIND_VERSION)
	PATH="$(CACHE)/kind-$(KIND_VERSION):$$PATH" kind create cluster --name $(KIND_CLUSTER) \
	  --config testbed/kind.yaml --kubeconfig $(CURDIR)/.testbed/kind.kubeconfig
	@echo "export KUBECONFIG=$(CURDIR)/.testbed/kind.kubeconfig   # then: make demo, make test"

# -- demo ---------------------------------------------------------------------------------------

.PHONY: demo
demo: testbed ## a cluster (KUBECONFIG or local), the CRD, the operator, the example stack Running, the REST API
	@bash testbed/demo.sh

# -- benchmarks ---------------------------------------------------------------------------------

SIZES ?= 100
ROUNDS ?= 1

.PHONY: bench
bench: testbed ## the operator against direct applies on the local control plane (SIZES="100 1000" ROUNDS=3)
	@$(PY) -c 'import matplotlib' 2>/dev/null || $(PY) -m pip install --quiet matplotlib
	$(PY) -m bench.run --sizes $(SIZES) --rounds $(ROUNDS) --out bench/results

API_SERVICES ?= 1000

.PHONY: bench-api
bench-api: testbed ## the REST API against the Kubernetes requests it makes (API_SERVICES=1000)
	$(PY) -m bench.rest_api --services $(API_SERVICES) --out bench/results
