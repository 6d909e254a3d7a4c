# dcp-upload developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := common api checksum batch_validator client
STAMP := $(VENV)/.installed
# checkov and the deploy command's dependencies (see the Deployment section below).
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed

.PHONY: help install run test lint format typecheck tox check migrate clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt $(foreach p,$(PACKAGES),packages/$(p)/pyproject.toml)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or set PYTHON=" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt $(foreach p,$(PACKAGES),-e packages/$(p)[test])
	touch $@

install: $(STAMP) ## Create .venv and install the five packages (editable) and the dev tools

run: $(STAMP) ## Run the service locally on the embedded default (API and workers; Ctrl-C stops)
	$(BIN)/upload-db upgrade
	$(BIN)/python tools/supervise.py Procfile

test: $(STAMP) $(TOOLS_STAMP) ## Run the whole test suite (starts and stops a throwaway PostgreSQL itself)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy (strict) on every package's src/
	$(BIN)/mypy $(foreach p,$(PACKAGES),packages/$(p)/src) deploy tools

tox: $(STAMP) ## Each package's tests in its own environment that installs only that package
	$(BIN)/tox run-parallel -p 2

check: lint typecheck test tox ## Everything CI runs

migrate: $(STAMP) ## Upgrade the database named by UPLOAD_DATABASE_URL (default: the embedded SQLite) to the latest schema
	$(BIN)/upload-db upgrade

clean: ## Remove the virtual environment, caches and local data
	rm -rf $(VENV) .tox .mypy_cache .ruff_cache .pytest_cache var

# The checksum benchmark compares with the seed's engine (dcplib), which lives only in its own venv.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
.PHONY: bench-checksum

$(BENCH_STAMP): packages/common/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or set PYTHON=" >&2; exit 1; }
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q -e packages/common "dcplib==3.12.0"
	touch $@

bench-checksum: $(BENCH_STAMP) ## Checksum engine vs the seed's (dcplib) and the machine's limit (~1 min, 4 GiB of disk)
	$(BENCH_VENV)/bin/python benchmarks/checksum.py $(BENCH_ARGS)

.PHONY: bench-store
bench-store: $(STAMP) ## RSS growth of put + get of a 2 GiB object, local store and S3 (moto server) (~2 min, 2 GiB of disk)
	$(BIN)/python benchmarks/store_memory.py $(BENCH_ARGS)

# --- Deployment: artifacts, Terraform checks, deploy (terraform/, deploy/, docs/deployment.md) ---
CHECKOV_VERSION := 3.3.30

.PHONY: dist tf-tools tf-check tf-test

dist: $(STAMP) ## Build a wheel per package and the Lambda zips (Linux x86_64, deterministic) into dist/
	$(BIN)/python -m deploy.dist --out dist

# checkov lives in its own venv: its pins conflict with the packages' dependencies.
$(TOOLS_STAMP): deploy/requirements.txt $(STAMP)
	test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install -q checkov==$(CHECKOV_VERSION)
	$(BIN)/python -m pip install -q -r deploy/requirements.txt
	touch $@

tf-tools: $(TOOLS_STAMP) ## Install checkov (in .venv-tools) and the deploy command's dependencies

tf-check: $(TOOLS_STAMP) ## terraform fmt, validate of every module and env, terraform test, checkov
	$(BIN)/mypy deploy
	$(BIN)/pytest tests/terraform -m "not slow" $(PYTEST_ARGS)

tf-test: $(TOOLS_STAMP) ## tf-check plus make dist, apply and destroy of the local env against moto
	$(BIN)/pytest tests/terraform $(PYTEST_ARGS)
