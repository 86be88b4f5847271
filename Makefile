# Entry points: `make run` (the playground) and `make test` (lint, types, every test on SQLite and
# a throwaway PostgreSQL). Both build .venv from uv.lock first, so a fresh clone needs nothing else.
.DEFAULT_GOAL := help
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV ?= $(shell command -v uv 2>/dev/null)
PY := .venv/bin/python

.PHONY: help venv lint typecheck test test-fast run serve migrate bench format

help:
	@echo "make run    - the playground at http://127.0.0.1:3000 (real bot + local Slack stand-in)"
	@echo "make test   - lint, type check and every test (SQLite and PostgreSQL)"
	@echo "make bench  - benchmarks under bench/ (slow; prints ratios)"

# uv installs exactly what uv.lock pins (--locked fails if pyproject and lock disagree).
venv:
	@if [ -z "$(UV)" ]; then python3 -m pip install --quiet "uv==$(UV_VERSION)"; fi
	@$${UV:-uv} sync --locked --quiet

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: venv
	.venv/bin/mypy

# Two workers (pytest-xdist): the tests mostly wait on loopback HTTP, the relay and PostgreSQL, so two
# processes fill a 2-core box; each worker starts its own throwaway PostgreSQL. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2

test: lint typecheck
	.venv/bin/pytest -n $(TEST_WORKERS)

test-fast: venv
	.venv/bin/pytest -x -q -m "not e2e and not drill and not install"

run: venv
	.venv/bin/incident-tracker dev

serve: venv
	.venv/bin/incident-tracker serve

migrate: venv
	.venv/bin/incident-tracker migrate

bench: venv
	$(PY) -m bench.pagination
	$(PY) -m bench.list_history
	$(PY) -m bench.ack_latency
	$(PY) -m bench.relay
	$(PY) -m bench.war_room --throughput-compare
	$(PY) -m bench.alerts
	$(PY) -m bench.api
	$(PY) -m bench.stats

format: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
