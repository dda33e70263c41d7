# The two commands of README.md: `make demo` runs the app with a demo tenant, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Azurite, the local Azure Blob Storage server the connector tests pull from (npm registry).
AZURITE := tests/servers/azurite/node_modules/.installed
PORT ?= 8000

.PHONY: demo test lint run worker

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(AZURITE): tests/servers/azurite/package.json tests/servers/azurite/package-lock.json
	cd tests/servers/azurite && npm ci --no-audit --no-fund --omit=dev --loglevel=error
	touch $(AZURITE)

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	@echo "Open http://127.0.0.1:$(PORT)/ and log in with the e-mail and password above."
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

test: $(STAMP) $(AZURITE) lint
	$(PY) -m pytest -n auto --dist loadscope; rc=$$?; [ $$rc -ne 5 ] || echo "pytest collected no tests: a broken suite, not a pass"; exit $$rc

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

worker: $(STAMP)
	$(VENV)/bin/celery -A finops worker -l info -Q default,ingest,rollup,email
