# TaxPoynt: the two README commands (`make demo`, `make test`) and their parts.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/taxpoynt
REDIS_TEST_URL ?= redis://127.0.0.1:6379/1

.PHONY: demo test venv services screenshots clean

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt changed.
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# Start PostgreSQL and Redis if they are not answering (SPEC §9), then make
# sure the role and database the tests use exist.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "starting Redis"; \
	  mkdir -p /var/lib/redis /var/log/redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
	    --dir /var/lib/redis --logfile /var/log/redis/ci.log; \
	  for i in $$(seq 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 1; done; }
	@psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='taxpoynt'" | grep -q 1 || \
	  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE taxpoynt"

test: venv services
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest $(PYTEST_ARGS)

# The demo uses PostgreSQL + Redis (real workers and beat) when they answer or
# can be started; otherwise the zero-setup default: SQLite + in-process tasks.
DEMO_PG_URL ?= postgres://postgres@127.0.0.1:5432/taxpoynt_demo
DEMO_REDIS_URL ?= redis://127.0.0.1:6379/2
demo: venv
	@if [ -z "$$DATABASE_URL" ] && $(MAKE) -s services >/dev/null 2>&1 && \
	   psql -h 127.0.0.1 -U postgres -tAc "SELECT 1" >/dev/null 2>&1; then \
	  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='taxpoynt_demo'" | grep -q 1 || \
	    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE taxpoynt_demo"; \
	  echo "demo on PostgreSQL + Redis"; \
	  export DATABASE_URL=$(DEMO_PG_URL) REDIS_URL=$(DEMO_REDIS_URL); \
	else echo "demo on SQLite with in-process tasks"; fi; \
	$(PY) manage.py migrate --noinput -v0 && $(PY) manage.py demo_setup && exec $(PY) manage.py run_demo

# Refresh docs/screenshots/ from the browser suite.
screenshots: venv services
	SAVE_SCREENSHOTS=1 DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest tests/browser -q

clean:
	rm -rf $(VENV) var staticfiles
