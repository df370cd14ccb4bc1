# Real-time card-fraud detection: Kafka -> bridge -> Redis -> Dash. `make help` lists targets.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NATIVE_STAMP := $(VENV)/.native
NATIVE_SRC := native/Cargo.toml native/Cargo.lock native/pyproject.toml native/fraud_native.pyi $(wildcard native/src/*.rs)
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help prereqs setup axe services services-down status run test test-fast lint format typecheck \
        native-check check bench bench-smoke docs soak clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2}'

prereqs: ## Install missing system packages (Debian/Ubuntu as root): redis-server, Java 17+, maven, Rust, Go (compose check)
	@infra/prereqs.sh

$(STAMP): requirements.txt requirements-dev.txt
	@infra/prereqs.sh
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

# The bridge's native engine: a Rust extension built by maturin (pip fetches it for the build).
$(NATIVE_STAMP): $(STAMP) $(NATIVE_SRC)
	@$(BIN)/pip install -q ./native || { echo "setup: building native/ needs cargo (a current Rust); run infra/prereqs.sh" >&2; exit 1; }
	@touch $(NATIVE_STAMP)

setup: $(STAMP) $(NATIVE_STAMP) ## Create the virtualenv, install dependencies, build the native engine (idempotent)

services: setup ## Start local Kafka (127.0.0.1:9092) and Redis (127.0.0.1:6379), waiting until ready
	@$(BIN)/python -m infra.services up

services-down: ## Stop the local Kafka and Redis (leaves no process behind)
	@$(BIN)/python -m infra.services down

status: ## Show whether the local services run
	@$(BIN)/python -m infra.services status

run: setup ## Run the whole system: services + producer + bridge + dashboard on http://127.0.0.1:8050
	@$(BIN)/python -m infra.run

# axe-core for the accessibility browser tests (tests/browser/test_a11y.py), pinned, from npm.
AXE_VERSION := 4.11.1
AXE_JS := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE_JS):
	@command -v npm >/dev/null || { echo "axe: npm (Node.js) is needed to install axe-core" >&2; exit 1; }
	@npm install --silent --no-save --no-audit --no-fund --prefix .cache/axe axe-core@$(AXE_VERSION)

axe: $(AXE_JS) ## Install axe-core (pinned) for the accessibility tests (into .cache/, gitignored)

test: setup $(AXE_JS) ## Run the test suite against real Kafka, Redis and Chromium (started and stopped for you)
	@infra/prereqs.sh --browser
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: setup ## Run only the pure unit tests (no services)
	@$(BIN)/python -m pytest -m 'not integration and not browser' $(PYTEST_ARGS)

lint: setup ## ruff lint + format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: setup ## Apply ruff formatting and safe fixes
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

typecheck: setup ## mypy over all packages
	@$(BIN)/mypy common producer bridge dashapp infra notifier outbox backtest bench model

native-check: ## cargo test + clippy (warnings are errors) in native/
	@cd native && cargo test --quiet
	@cd native && cargo clippy --quiet --all-targets -- -D warnings

check: lint typecheck native-check ## Every static gate CI runs before `make test`

bench: setup ## Full benchmarks on the real local stack -> bench/results.json, README table, plots
	@$(BIN)/python -m bench run

bench-smoke: setup ## Benchmark harness smoke run (under a minute; asserts the harness works, not speed)
	@$(BIN)/python -m bench run --smoke

docs: setup ## Regenerate the configuration table (docs/configuration.md) from the settings dataclasses
	@$(BIN)/python -m infra.config_docs

soak: setup ## Long fault and soak tests (30 min; not part of make test)
	@infra/prereqs.sh --browser
	@$(BIN)/python -m pytest -m soak -o addopts='' $(PYTEST_ARGS)

clean: services-down ## Stop services and remove local state (keeps the Maven jar cache)
	rm -rf .local .pytest_cache .mypy_cache .ruff_cache native/target
