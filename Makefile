# Oak Maillist: `make run` (install and serve on SQLite) and `make test` (everything, all backends).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install frontend services lint format test-sqlite test-postgresql test-mysql clean

run: install frontend
	mkdir -p data storage
	$(BIN)/oak-maillist migrate up
	@echo "Oak Maillist: HTTP on http://localhost:3000, SMTP on :2525."
	@echo "First run: POST /api/v1/setup creates the first administrator (or: $(BIN)/oak-maillist user create --admin --email you@example.org --password-stdin)."
	exec $(BIN)/oak-maillist serve

test: install frontend services lint
	scripts/test-all.sh

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spamassassin]'
	touch $(STAMP)

# The web app (type check + build); the backend serves frontend/dist at "/". Under `make test`
# its lint (eslint) and unit tests (vitest) run too; the browser tests (tests/web) run from
# scripts/test-all.sh.
frontend:
	cd frontend && npm ci --no-audit --no-fund && npm run build$(if $(filter test,$(MAKECMDGOALS)), && npm run lint && npm test)

services:
	scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-sqlite test-postgresql test-mysql: install
	$(BIN)/pytest --db $(@:test-%=%)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
