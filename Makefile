# org-operator Makefile (kubebuilder v4 conventions).

# Image URL to use for all building/pushing image targets.
IMG ?= ghcr.io/org-operator/org-operator:latest

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set).
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# CONTAINER_TOOL defines the container tool to be used for building images.
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD, RBAC ClusterRole/Role objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code (every build tag: integration, e2e, chaos).
	go vet -tags integration,e2e,chaos ./...

.PHONY: test
test: manifests generate fmt vet envtest-assets openapi-tools clients ferretdb helm ## Run unit and integration tests (real kube-apiserver, etcd and FerretDB).
	# Unit tests: every package's tests that need nothing but Go, all under the race detector.
	go test -race -count=1 -timeout 10m ./...
	# Integration tests (build tag integration): a real kube-apiserver, etcd and FerretDB.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -tags integration -count=1 -timeout 30m \
		$$(go list -tags integration ./... | grep -v /test/e2e) -coverprofile cover.out $(TEST_ARGS)
	# test/alerts is a module of its own (Prometheus's rule parser and PromQL engine stay out of go.mod).
	cd test/alerts && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -timeout 10m ./...
	# test/helm is a module of its own too (Helm's packages stay out of go.mod).
	cd test/helm && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -count=1 -timeout 10m ./...

FUZZTIME ?= 60s
# Attempts to minimize each new interesting input: the REST target runs a
# whole HTTP exchange per input, and the default (60s per input) stalls it.
FUZZMINIMIZE ?= 10x
# Package and name of every fuzz target.
FUZZ_TARGETS = ./api/v1alpha1:FuzzParseEmail ./internal/controller:FuzzLocationNaming \
	./internal/tokens:FuzzVerifyRandom ./internal/tokens:FuzzVerifyMutated ./internal/tokens:FuzzParseRefreshToken \
	./internal/password:FuzzPHC ./internal/password:FuzzFastHash ./internal/restapi:FuzzRequestDecoding \
	./internal/access:FuzzPrivilegesStayOnTheTenant

.PHONY: fuzz
fuzz: envtest-assets ## Run every Go fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m); their seeds also run in make test.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -tags integration -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) -timeout 0 $$pkg || exit 1; \
	done

.PHONY: helm-chart
helm-chart: manifests kubectl ## Regenerate the Helm chart's copies of config/ (dist/chart: CRD, RBAC, Services, PDB, NetworkPolicy, alerts).
	go run ./hack/helmchart

# Modules nested in the repository, linted with the same configuration.
NESTED_MODULES = test/alerts test/helm

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (kubebuilder's set plus depguard layer rules, .golangci.yml) on every module.
	"$(GOLANGCI_LINT)" run
	@for m in $(NESTED_MODULES); do echo "golangci-lint: $$m"; (cd $$m && "$(GOLANGCI_LINT)" run --config "$(CURDIR)/.golangci.yml") || exit 1; done

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint and apply the fixes it can make.
	"$(GOLANGCI_LINT)" run --fix

.PHONY: lint-config
lint-config: golangci-lint ## Verify golangci-lint's configuration.
	"$(GOLANGCI_LINT)" config verify

.PHONY: test-e2e
test-e2e: envtest-assets ferretdb clients ## Run the end-to-end suite: the make dev environment driven by kubectl and HTTP.
	go build -o bin/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -tags e2e ./test/e2e/ -timeout 30m -count=1 -v -ginkgo.v $(TEST_ARGS)

.PHONY: test-e2e-seeded
test-e2e-seeded: envtest-assets ferretdb ## Run only the e2e journey driven by a seed (E2E_SEED=n; random when unset).
	go build -o bin/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" E2E_SEED=$(E2E_SEED) go test -tags e2e ./test/e2e/ -timeout 20m -count=1 -v \
		-ginkgo.v -ginkgo.focus "Moves reversed in flight" $(TEST_ARGS)

CHAOS_ORGS ?= 50
CHAOS_MANAGER_KILLS ?= 20
CHAOS_STORE_KILLS ?= 3
.PHONY: test-chaos
test-chaos: envtest-assets ferretdb ## Chaos suite: mixed workload on the make dev environment with SIGKILLs of the manager and store, kube-apiserver and etcd restarts (CHAOS_SEED=n replays).
	go build -o bin/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" CHAOS_ORGS=$(CHAOS_ORGS) CHAOS_MANAGER_KILLS=$(CHAOS_MANAGER_KILLS) CHAOS_STORE_KILLS=$(CHAOS_STORE_KILLS) CHAOS_SEED=$(CHAOS_SEED) \
		go test -tags chaos ./test/chaos/ -timeout 90m -count=1 -v -ginkgo.v $(TEST_ARGS)

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build manager binary.
	go build -o bin/manager ./cmd

.PHONY: dev
dev: envtest-assets ferretdb clients ## Run the whole system locally: control plane, FerretDB (data in .dev/), the manager; Ctrl-C stops it.
	@echo "building the manager and the dev tool..."
	@go build -o bin/manager ./cmd && go build -o bin/dev ./hack/dev
	@KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" bin/dev

.PHONY: run
run: manifests generate fmt vet ## Run the manager from your host against the cluster in ~/.kube/config (needs MONGODB_URI).
	go run ./cmd --leader-elect=false

.PHONY: docker-build
docker-build: ## Build docker image with the manager.
	$(CONTAINER_TOOL) build -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push docker image with the manager.
	$(CONTAINER_TOOL) push ${IMG}

.PHONY: build-installer
build-installer: manifests generate kustomize ## Generate dist/install.yaml with the CRDs and the deployment.
	mkdir -p dist
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default > dist/install.yaml

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the K8s cluster specified in ~/.kube/config.
	"$(KUSTOMIZE)" build config/crd | $(KUBECTL) apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the K8s cluster. Call with ignore-not-found=true to ignore resource not found errors.
	"$(KUSTOMIZE)" build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy controller to the K8s cluster specified in ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | $(KUBECTL) apply -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy controller from the K8s cluster. Call with ignore-not-found=true to ignore resource not found errors.
	"$(KUSTOMIZE)" build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
HELM ?= $(LOCALBIN)/helm

## Tool Versions
KUSTOMIZE_VERSION ?= v5.7.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0
GOLANGCI_LINT_VERSION ?= v2.15.0
# The helm CLI test/helm drives (the same version as its Go SDK there).
HELM_VERSION ?= v3.22.0

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: helm
helm: $(HELM) ## Build the helm CLI into bin/ from helm.sh/helm/v3 if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

## FerretDB's server command with users and SCRAM (hack/ferretdb): vendored
## in a scratch folder (its module lacks build/version/version.txt, which
## its build needs), built, and the folder removed. Rebuilt when the pin changes.
FERRETDB ?= $(LOCALBIN)/ferretdb
FERRETDB_VERSION = $(shell sed -n 's/^\tgithub.com\/FerretDB\/FerretDB \(v[^ ]*\).*/\1/p' hack/ferretdb/go.mod)

.PHONY: ferretdb
ferretdb: $(FERRETDB) ## Build FerretDB's server (bin/ferretdb) from the module pinned in hack/ferretdb.
$(FERRETDB): hack/ferretdb/go.mod hack/ferretdb/go.sum | $(LOCALBIN)
	@echo "building FerretDB $(FERRETDB_VERSION) (cmd/ferretdb) into $(FERRETDB)..."
	@rm -rf "$(LOCALBIN)/ferretdb-build" && mkdir -p "$(LOCALBIN)/ferretdb-build"
	@cp hack/ferretdb/go.mod hack/ferretdb/go.sum "$(LOCALBIN)/ferretdb-build/"
	@cd "$(LOCALBIN)/ferretdb-build" && go mod vendor && \
		echo "$(FERRETDB_VERSION)" > vendor/github.com/FerretDB/FerretDB/build/version/version.txt && \
		go build -mod=vendor -o "$(FERRETDB).tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
	@mv "$(FERRETDB).tmp" "$(FERRETDB)" && rm -rf "$(LOCALBIN)/ferretdb-build"

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint into bin/ from its Go module if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

## npm tools pinned in hack/openapi/package.json (spectral and the OWASP
## ruleset, which lint the REST API's served OpenAPI document in make test).
OPENAPI_TOOLS = hack/openapi/node_modules/.bin/spectral
.PHONY: openapi-tools
openapi-tools: $(OPENAPI_TOOLS) ## Install the OpenAPI linters pinned in hack/openapi (npm ci).
$(OPENAPI_TOOLS): hack/openapi/package.json hack/openapi/package-lock.json
	cd hack/openapi && npm ci --no-audit --no-fund --ignore-scripts
	@touch "$@"

## The API reference page's assets (internal/restapi/docsassets), served by
## the binary so that /docs works offline: @stoplight/elements, the version
## huma pins (npm pack checks the registry's integrity hash; a unit test checks
## the files against huma's subresource-integrity hashes).
DOCS_ELEMENTS_VERSION = 9.0.15
.PHONY: docs-assets
docs-assets: ## Refresh internal/restapi/docsassets from @stoplight/elements $(DOCS_ELEMENTS_VERSION).
	@tmp=$$(mktemp -d) && cd "$$tmp" && npm pack --silent @stoplight/elements@$(DOCS_ELEMENTS_VERSION) >/dev/null && \
		tar xzf stoplight-elements-$(DOCS_ELEMENTS_VERSION).tgz && \
		cp package/web-components.min.js package/styles.min.css "$(CURDIR)/internal/restapi/docsassets/" && rm -rf "$$tmp"

## Real MongoDB clients pinned in hack/clients/package.json (mongosh, which
## the access suite connects with an application's Secret).
MONGOSH = hack/clients/node_modules/.bin/mongosh
.PHONY: clients
clients: $(MONGOSH) ## Install the MongoDB clients pinned in hack/clients (npm ci).
$(MONGOSH): hack/clients/package.json hack/clients/package-lock.json
	cd hack/clients && npm ci --no-audit --no-fund --ignore-scripts
	@touch "$@"

##@ Test control plane
#
# envtest needs kube-apiserver and etcd binaries (and the tests kubectl). Their usual download site is
# not reachable everywhere, so they are built from Go modules (hack/envtest/*,
# each its own module so the main go.mod stays free of replace lines) into the
# folder where setup-envtest keeps its assets. The build is skipped when the
# binaries are already there, so every clone on a machine shares one build.

ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= $(shell awk '{for (i = 1; i < NF; i++) if ($$i == "go.etcd.io/etcd/server/v3") {print $$(i+1); exit}}' hack/envtest/etcd/go.mod)
ENVTEST_DATA_DIR ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/kubebuilder-envtest
ENVTEST_ASSETS ?= $(ENVTEST_DATA_DIR)/k8s/$(ENVTEST_K8S_VERSION)-org-operator-etcd$(ENVTEST_ETCD_VERSION:v%=%)-$(shell go env GOOS)-$(shell go env GOARCH)
# The tests, make dev and the tools they start find this kubectl first.
export PATH := $(ENVTEST_ASSETS):$(PATH)
K8S_VERSION_LDFLAGS = -s -w \
	-X k8s.io/component-base/version.gitVersion=v$(ENVTEST_K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(ENVTEST_K8S_VERSION))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(ENVTEST_K8S_VERSION))) \
	-X k8s.io/client-go/pkg/version.gitVersion=v$(ENVTEST_K8S_VERSION)

.PHONY: envtest-assets
envtest-assets: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd $(ENVTEST_ASSETS)/kubectl ## Build kube-apiserver, etcd and kubectl for envtest (cached outside the clone).
	@echo "envtest assets: $(ENVTEST_ASSETS)"

$(ENVTEST_ASSETS)/kube-apiserver:
	@mkdir -p "$(ENVTEST_ASSETS)"
	@echo "building kube-apiserver v$(ENVTEST_K8S_VERSION) from k8s.io/kubernetes (cold build: about 8 minutes on 2 cores)..."
	@cd hack/envtest/kube-apiserver && ../../progress.sh kube-apiserver \
		go build -trimpath -ldflags "$(K8S_VERSION_LDFLAGS)" -o "$@.tmp" . && mv "$@.tmp" "$@"

# kubectl of the apiserver's own version (the machine's may be outside
# kubectl's one-minor skew), from the same module; every target runs with it
# first on PATH.
.PHONY: kubectl
kubectl: $(ENVTEST_ASSETS)/kubectl ## Build kubectl v$(ENVTEST_K8S_VERSION) into the envtest folder (first on PATH for every target).
$(ENVTEST_ASSETS)/kubectl:
	@mkdir -p "$(ENVTEST_ASSETS)"
	@echo "building kubectl v$(ENVTEST_K8S_VERSION) from k8s.io/kubernetes..."
	@cd hack/envtest/kube-apiserver && ../../progress.sh kubectl \
		go build -trimpath -ldflags "$(K8S_VERSION_LDFLAGS)" -o "$@.tmp" ./kubectl && mv "$@.tmp" "$@"

$(ENVTEST_ASSETS)/etcd:
	@mkdir -p "$(ENVTEST_ASSETS)"
	@echo "building etcd $(ENVTEST_ETCD_VERSION) from go.etcd.io/etcd/server/v3..."
	@cd hack/envtest/etcd && ../../progress.sh etcd \
		go build -trimpath -ldflags "-s -w" -o "$@.tmp" . && mv "$@.tmp" "$@"

.PHONY: envtest-assets-path
envtest-assets-path: ## Print the folder holding the envtest binaries.
	@echo "$(ENVTEST_ASSETS)"

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(realpath "$(1)-$(3)")" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef

##@ Benchmarks

N ?= 200
.PHONY: bench-controller
bench-controller: envtest-assets ## Create N Organizations against envtest + FerretDB and print rates and ratios.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/bench/controller -n $(N)

BACKEND ?= sqlite
# DEDICATED: how many of the N are Dedicated (the rest alternately Shared and Auto); -1: all.
DEDICATED ?= -1
# BACKENDS=2 spreads the organizations over two deployments (a MongoBackend on a second FerretDB).
BACKENDS ?= 1
.PHONY: bench-scale
bench-scale: envtest-assets ferretdb ## Scale benchmark against the real manager process: make bench-scale N=2000 BACKEND=sqlite|postgresql [DEDICATED=5000] [BACKENDS=2].
	go build -o bin/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/bench/scale -n $(N) -dedicated $(DEDICATED) -backend $(BACKEND) -backends $(BACKENDS) \
		-manager-args "$(MANAGER_ARGS)"

DURATION ?= 30m
.PHONY: bench-soak
bench-soak: envtest-assets ferretdb ## Soak: steady mixed workload on the make dev environment for DURATION; prints RSS, goroutines, sockets, reconcile latency per minute and fails on growth.
	go build -o bin/manager ./cmd
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/bench/soak -duration $(DURATION) $(SOAK_ARGS)

.PHONY: bench-api
bench-api: envtest-assets ## Measure login req/s vs the hashing limit and authenticated GET req/s vs a bare handler.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run ./hack/bench/api
