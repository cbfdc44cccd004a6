# Two commands do all the set-up on a fresh machine:
#   make dev    installs into .venv and runs the embedded default (dev server, worker, Web UI)
#   make test   installs into .venv and runs format check, lint, types and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test check fmt lint typecheck pytest install clean lock

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/escalations dev

test: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/pytest

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# requirements.lock (the Docker image installs from it): what pip resolves for the runtime
# dependencies of pyproject.toml alone, in a throwaway venv, without the project itself.
LOCK_VENV := build/lockvenv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet .
	{ sed -n '/^#/p' requirements.lock; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | grep -v '^helpdesk-escalations'; \
	} > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .data build *.egg-info
