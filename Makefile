# Two commands for a fresh machine: `make run` and `make test`. Everything below installs
# what is missing and skips what is done (stamp files), so both are cheap to repeat.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := .tools/bin/uv
# Our code runs on Python >= 3.11; resolve the real interpreter (pyenv shims confuse uv).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
  $$p -c 'import sys; assert sys.version_info >= (3, 11); print(sys.executable)' 2>/dev/null && break; done)
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test test-unit test-integration lint format train catalog bench bench-nlu chromium haproxy run-prod clean

help:
	@echo "make run    install what is missing, build the demo catalogue, train if needed, start everything"
	@echo "make test   install what is missing and run every test"
	@echo "make lint   ruff + mypy"
	@echo "make train  retrain the Rasa model if config.yml or bot/ changed"
	@echo "make bench  run the benchmarks (prints figures; builds catalogues up to 1 M products)"
	@echo "make bench-nlu  intent precision, recall and F1 per language on a held-out split"

$(UV):
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is needed (python3.11 on PATH)"; exit 1; }
	@echo "installing uv into .tools/…"
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	@echo "installing our environment (.venv) from uv.lock…"
	$(UV) sync --frozen --python "$(PYTHON)"
	@touch $@

.venv-rasa/.installed: bot/rasa-requirements.lock scripts/find-python310.sh | $(UV)
	@echo "installing Rasa 3.6.21 into .venv-rasa (Python 3.10)…"
	@PY310="$$(UV=$(UV) scripts/find-python310.sh)" || exit 1; \
	  $(UV) venv --no-project --allow-existing --python "$$PY310" .venv-rasa && \
	  $(UV) pip install --python .venv-rasa/bin/python -r bot/rasa-requirements.lock
	@touch $@

install: .venv/.installed .venv-rasa/.installed

catalog: .venv/.installed
	.venv/bin/catalog build-demo

train: .venv-rasa/.installed
	scripts/train.sh

# Browser tests use Debian's chromium (never a browser download); installed when we can.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "chromium could not be installed: browser tests will be skipped"; \
	else echo "no /usr/bin/chromium: browser tests will be skipped"; fi

# HAProxy guards the action server (a bounded call per action: Rasa 3.6 waits five
# minutes otherwise) and balances over several of them in production.
haproxy:
	@if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's haproxy (the action server's guard)…"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) \
	    || echo "haproxy could not be installed: fault tests will be skipped"; \
	else echo "no haproxy: action calls are not bounded, fault tests will be skipped"; fi

run: install catalog train haproxy
	.venv/bin/python -m web.stack

# The production profile on this machine: PostgreSQL, Redis, several Rasa instances,
# action servers and web processes behind HAProxy, under supervisord (web/production.py).
run-prod: install train haproxy
	.venv/bin/python -m web.production

test: install train chromium haproxy lint
	.venv/bin/pytest -p no:cacheprovider

test-unit: .venv/.installed
	.venv/bin/pytest -m "not integration and not browser and not postgres and not redis"

test-integration: install train
	.venv/bin/pytest -m integration

lint: .venv/.installed
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: .venv/.installed
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench-nlu: .venv-rasa/.installed
	.venv-rasa/bin/python bench/nlu.py

bench: install catalog train
	.venv/bin/python bench/conversation.py
	.venv/bin/python bench/recommend.py
	.venv/bin/python bench/console.py

clean:
	rm -rf var bot/models .pytest_cache .mypy_cache .ruff_cache
