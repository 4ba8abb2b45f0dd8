# SLA Watchdog: one command per habit. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run stack test test-fast fuzz lint format typecheck check-deploy lock clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.lock
	@touch $@

install: $(BIN)/.installed  ## Create .venv and install the pinned dependencies

run: install  ## Migrate, then serve the API and run the SLA checker loop beside it
	$(BIN)/python manage.py migrate --noinput --skip-checks
	PYTHON=$(BIN)/python scripts/serve-dev

# HOST and PORT are not passed on here: gunicorn.conf.py reads them, from .env too, and a
# value set here would win over .env's.
stack: install  ## gunicorn + Celery worker + beat on DATABASE_URL (PostgreSQL) and REDIS_URL
	PYTHON=$(BIN)/python scripts/stack

test: install  ## Run the test suite (DATABASE_URL / REDIS_URL pick the backends)
	$(BIN)/pytest $(PYTEST_ARGS)

# The tests marked slow (subprocess start-ups, multi-process races, the hypothesis state
# machines, the real stack) take most of `make test`'s time; CI runs them all.
test-fast: install  ## The suite without the tests marked slow: the inner loop, under a minute
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

fuzz: install  ## Schemathesis against a real gunicorn on PostgreSQL + Redis (docs/fuzzing.md)
	PYTHON=$(BIN)/python scripts/fuzz

lint: install typecheck  ## ruff (lint and format check), mypy --strict, the import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install  ## mypy --strict
	$(BIN)/mypy .

format: install  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check-deploy: install  ## Django's deployment checklist against a production-like configuration
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	ALLOWED_HOSTS=watchdog.example.com REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

lock: install  ## Re-pin requirements*.lock from pyproject.toml
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile -q pyproject.toml --python-version 3.11 --no-header -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra dev --python-version 3.11 --no-header -o requirements-dev.lock

clean:  ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .mypy_cache .ruff_cache .hypothesis .import_linter_cache .grimp_cache
