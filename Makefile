# The two commands: `make run` and `make test`. Each creates .venv and installs what it needs.
# The database is ORDERMESH_DATABASE_URL (default: sqlite:///./ordermesh.db); see README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help run test lint bench install demo worker check clean

help:
	@echo "make run     install, migrate, load demo data (once) and serve on http://$(HOST):$(PORT)"
	@echo "make test    install, lint, then run the tests on SQLite and PostgreSQL"
	@echo "make lint    ruff check and format, mypy, and the import contracts (domains one way)"
	@echo "make bench   order intake under load (bench/README.md)"
	@echo "make worker  deliver webhooks until Ctrl-C"
	@echo "make check   verify that inventory levels equal their ledger and reserved units have owners"
	@echo "make clean   remove .venv and the SQLite database"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ordermesh migrate
	$(BIN)/ordermesh demo --if-empty
	$(BIN)/ordermesh serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/intake.py

demo: $(STAMP)
	$(BIN)/ordermesh migrate
	$(BIN)/ordermesh demo --if-empty

worker: $(STAMP)
	$(BIN)/ordermesh worker

check: $(STAMP)
	$(BIN)/ordermesh check

clean:
	rm -rf $(VENV) ordermesh.db ordermesh.db-wal ordermesh.db-shm
