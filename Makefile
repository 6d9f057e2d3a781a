# Two commands for a newcomer: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MYSQL ?= mysql -u root
ARGS ?=
# make run LINK=4g: the server behind an emulated link (needs root), on every address of its
# namespace; the page is at the address the link prints (docs/links.md).
LINK ?=

.PHONY: run test bench schema lint

run: $(VENV)/.run-installed schema
ifeq ($(LINK),)
	$(PY) websocket_server.py $(ARGS)
else
	$(PY) -m wsbench.link '$(LINK)' -- $(PY) websocket_server.py --host 0.0.0.0 $(ARGS)
endif

# As root (sudo make test), scripts/setup-tests.sh first installs and starts what the tests need
# (docs/testing.md). As a user, a test that lacks something skips (fails with CI=true), and the
# last line names the command that installs the rest.
test:
ifeq ($(shell id -u),0)
	scripts/setup-tests.sh
endif
	@$(MAKE) -s --no-print-directory $(VENV)/.dev-installed
	@status=0; $(PY) -m pytest $(ARGS) || status=$$?; \
	if [ "$$(id -u)" != 0 ]; then scripts/setup-tests.sh --check | tail -n 1; fi; exit $$status

bench: $(VENV)/.dev-installed schema
	$(PY) benchmarks/browser.py $(ARGS)

# ruff for style, mypy --strict for the types of wsbench/ (pyproject.toml says what it checks).
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy

# Applying schema.sql is harmless when it was applied before. With no MySQL here (none answers, or
# no client) one line says so and the server falls back to SQLite; a MySQL that answers but
# refuses schema.sql stops here with the fix.
schema: $(VENV)/.run-installed
	@MYSQL='$(MYSQL)' PY='$(PY)' scripts/apply-schema.sh

$(VENV)/.run-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The project itself goes in editable, so benchmarks/ and tests import it from anywhere.
$(VENV)/.dev-installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@ $(VENV)/.run-installed
