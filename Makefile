# executor-dind: `make demo` renders the demo overlay, `make test` runs every test against the real tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := $(CURDIR)/.tools/bin
# Newest kustomize v5 the Go module proxy serves that builds with the Go here (v5.8.3 needs go >= 1.27).
KUSTOMIZE_VERSION := v5.8.2
export PATH := $(CURDIR)/$(BIN):$(TOOLS):$(PATH)

.PHONY: demo test test-runtime lint tools bench components venv bytecode clean

# Its output goes to stderr: `make demo` prints only YAML on stdout, also on the first run.
$(BIN)/executor-dind: setup.cfg pyproject.toml
	@echo "installing executor-dind and the test tools into $(VENV)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/pip install -q --upgrade pip >&2
	@$(BIN)/pip install -q -e '.[test,checkers]' >&2
	@touch $@

# Bytecode for the editable install, so even PYTHONDONTWRITEBYTECODE=1 runs start from .pyc files.
bytecode: venv
	@$(BIN)/python -m compileall -q plugin

venv: $(BIN)/executor-dind

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

tools: $(TOOLS)/kustomize $(TOOLS)/netpolicy

test: venv tools
	$(BIN)/pytest -q -p no:cacheprovider

# The runtime tier (root): real dockerd, registry, runsc and a control plane built from pinned Go modules into
# .tools. Without root or apt it installs nothing and its tests skip with the reason (fail with CI=true).
test-runtime: venv
	bash tools/runtime/install.sh
	EXECUTOR_DIND_RUNTIME=1 $(BIN)/pytest -q -p no:cacheprovider tests/runtime

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

components: venv
	$(BIN)/executor-dind components --write components

demo: venv bytecode
	@sh overlays/demo/render.sh

bench: venv tools bytecode
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) .tools
