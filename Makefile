# dcp-upload developer commands. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := common api checksum batch_validator
STAMP := $(VENV)/.installed

.PHONY: help install test lint format typecheck tox check migrate clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt $(foreach p,$(PACKAGES),packages/$(p)/pyproject.toml)
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or set PYTHON=" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt $(foreach p,$(PACKAGES),-e packages/$(p)[test])
	touch $@

install: $(STAMP) ## Create .venv and install the four packages (editable) and the dev tools

test: $(STAMP) ## Run the whole test suite (starts and stops a throwaway PostgreSQL itself)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy (strict) on every package's src/
	$(BIN)/mypy $(foreach p,$(PACKAGES),packages/$(p)/src)

tox: $(STAMP) ## Each package's tests in its own environment that installs only that package
	$(BIN)/tox run-parallel -p 2

check: lint typecheck test tox ## Everything CI runs

migrate: $(STAMP) ## Upgrade the database named by UPLOAD_DATABASE_URL (default: the embedded SQLite) to the latest schema
	$(BIN)/upload-db upgrade

clean: ## Remove the virtual environment, caches and local data
	rm -rf $(VENV) .tox .mypy_cache .ruff_cache .pytest_cache var
