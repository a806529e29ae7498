# Conversation Studio. `make run` starts the studio on the sandbox; `make test` runs every test.
SHELL := /bin/bash
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run dev test lint chromium node migrate static bench clean
NODE_STAMP := node_modules/.package-lock.json

$(BIN)/python:
	@py=$$(bin/find-python) || exit 1; \
	echo "Creating $(VENV) with $$py"; \
	"$$py" -m venv $(VENV) && $(BIN)/pip install -q --upgrade pip

# Reinstall only when pyproject.toml changes, so a second `make run` starts in seconds.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	@touch $@ $(STAMP)

# Front-end packages at the versions package-lock.json pins: `npm ci` checks every tarball
# against the integrity hash recorded there, so a fresh clone serves the same daily-js bytes.
$(NODE_STAMP): package.json package-lock.json | node
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

migrate: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py ensure_admin

# Collected, compressed and fingerprinted static files, for DEBUG=false; redone when they change.
STATIC_SOURCES := $(shell find static studio -path '*/static/*' -type f 2>/dev/null)
staticfiles/staticfiles.json: $(STAMP) $(NODE_STAMP) $(STATIC_SOURCES)
	DEBUG=false $(BIN)/python manage.py collectstatic --noinput --clear -v 0
static: staticfiles/staticfiles.json

# --ws-max-size: the largest websocket message the server reads at all (64 KiB; a relayed
# in-room event is at most 4,096 characters, RELAY_MAX_CHARS); anything bigger is closed unread.
# permessage-deflate off: at 200 sockets on a conversation it cost a third of the event loop's
# time per message for bytes nobody is short of (bench/RESULTS.md, "Fan-out, third pass").
WS_MAX_SIZE := 65536
SERVE = $(BIN)/uvicorn studio.asgi:application --host 127.0.0.1 --port $(PORT) --lifespan on --ws websockets-sansio --ws-max-size $(WS_MAX_SIZE) --ws-per-message-deflate false

# What staff start: production-like (DEBUG off, the studio's own error pages, a secret key
# generated once and kept in the instance's data), on the sandbox unless a Tavus key is set.
run: migrate static
	@echo "Conversation Studio: http://127.0.0.1:$(PORT)/  (sandbox unless TAVUS_API_KEY is set)"
	DEBUG=false PORT=$(PORT) $(SERVE) --no-access-log

# For developers: Django's debug pages, static files straight from the source folders, and a
# server that restarts when the code changes.
dev: migrate
	DEBUG=true PORT=$(PORT) $(SERVE) --reload

# Debian's Chromium drives the browser tests; Playwright never downloads a browser here.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Node.js and npm fetch the front-end packages (Debian's, when the machine has none).
node:
	@if ! command -v npm >/dev/null; then \
	  echo "Installing Debian's nodejs and npm for the front-end packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	fi

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: chromium $(TEST_STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) node_modules staticfiles .test-db.sqlite3*

# --- Scale-out: PostgreSQL + Redis + several server processes (README: "Running at scale") ---
.PHONY: services test-scale bench-scale
SCALE_DATABASE_URL ?= postgres://studio:studio@127.0.0.1:5432/studio
SCALE_REDIS_URL ?= redis://127.0.0.1:6379/0
# The database-backed tests that run again on PostgreSQL + Redis, then the two-process proof.
SCALE_TESTS ?= tests/conversations tests/history tests/accounts tests/sandbox tests/security tests/invites tests/scale
SCALE_ENV = DATABASE_URL=$(SCALE_DATABASE_URL) REDIS_URL=$(SCALE_REDIS_URL)

# Installs (apt) and starts redis-server and PostgreSQL on 127.0.0.1 when missing; idempotent.
services:
	scripts/scale-services

test-scale: chromium $(TEST_STAMP) $(NODE_STAMP) services
	$(SCALE_ENV) $(BIN)/python -m pytest $(SCALE_TESTS) $(PYTEST_ARGS)

# The webhook benchmark again on PostgreSQL with two server processes (and fan-out on Redis).
bench-scale: $(TEST_STAMP) services
	$(SCALE_ENV) $(BIN)/python bench/run.py --scale
