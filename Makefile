# Two entry points (see README.md):
#   make demo   set up a virtualenv, build the dashboard and run the demo twin on the embedded engine
#   make test   install what the tests need (Python packages, Debian packages, Neo4j from
#               Maven Central, the dashboard's npm packages) and run every test on both real engines
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-deps lint bench clean web

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The dashboard (web/): npm packages from package-lock.json, bundled by Vite into web/dist, which
# `kgtwin serve` serves at /. Reinstalled when the lock file changes, rebuilt when a source does.
WEB_SOURCES := web/index.html web/vite.config.js web/package.json $(wildcard web/src/*)

web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: the dashboard needs Node.js 20.19+ with npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run --silent build

web: web/dist/index.html

demo: $(STAMP) web
	$(BIN)/kgtwin demo

# Debian packages the tests use: the Mosquitto broker, the Compose file parser, a JDK and
# Maven for the local Neo4j, Chromium for the dashboard's browser tests (Playwright drives
# /usr/bin/chromium; it never downloads a browser). Installed only when missing (root or sudo needed then).
test-deps: $(STAMP)
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: test-deps web
	$(BIN)/ruff check kgtwin tests bench
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check kgtwin tests bench
	$(BIN)/ruff format --check kgtwin tests bench

bench: $(STAMP)
	$(BIN)/python bench/store.py

clean:
	rm -rf $(VENV) .kgtwin .pytest_cache web/dist web/node_modules test-artifacts
