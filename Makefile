# The two commands: `make demo` and `make test`. Each bootstraps what it needs:
# uv (project-local in .tools/ when missing), .venv from uv.lock, Debian's chromium,
# and (for tests) Debian's PostgreSQL. A second run does no needless work.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/uv/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.synced
MEMBERS_PYPROJECT := $(wildcard plugins/*/pyproject.toml) reference_provider/pyproject.toml

.PHONY: help demo test lint typecheck pytest browser-tests bench deps chromium postgresql clean

help:
	@echo "make demo   start the reference provider and the aggregator with a demo household"
	@echo "make test   ruff, mypy and every test (starts a throwaway PostgreSQL)"
	@echo "make bench  run the benchmarks under bench/"

.tools/uv/bin/uv:
	@echo "uv not found: installing uv $(UV_VERSION) into .tools/uv"
	python3 -m pip install --quiet --disable-pip-version-check --target .tools/uv "uv==$(UV_VERSION)"

$(STAMP): uv.lock pyproject.toml $(MEMBERS_PYPROJECT) | $(UV)
	$(UV) sync --frozen --all-packages --all-extras
	@touch $(STAMP)

deps: $(STAMP)

chromium:
	@scripts/ensure-debian-package.sh /usr/bin/chromium chromium

postgresql:
	@scripts/ensure-debian-package.sh "$$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -n1)" postgresql

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: deps
	$(VENV)/bin/mypy aggregator
	$(VENV)/bin/mypy plugins/*/aggregator_* reference_provider/reference_provider

pytest: deps chromium postgresql
	scripts/with-postgres.sh $(VENV)/bin/pytest -m "not browser" -q

browser-tests: deps chromium postgresql
	$(VENV)/bin/pytest -m browser -q

test: lint typecheck pytest browser-tests

demo: deps chromium
	$(VENV)/bin/aggregator demo

bench: deps chromium
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf .venv .tools .pgtest .data
