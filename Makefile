# Set-up and everyday commands. `make run` and `make test` work from a fresh clone (they create .venv first).
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test lint bench setup clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install scribe with its pinned dependencies

run: $(STAMP)  ## open the TUI on the bundled model (offline)
	$(VENV)/bin/scribe $(ARGS)

test: $(STAMP)  ## run the test suite
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff, mypy and the import contracts (tests/test_import_contracts.py)
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q tests/test_import_contracts.py tests/ui/test_textual_private.py

bench: $(STAMP)  ## run every benchmark in bench/
	for script in bench/*.py; do $(VENV)/bin/python $$script || exit 1; done

clean:
	rm -rf $(VENV)
