# Two entry points (see README.md):
#   make demo   set up a virtualenv and run the demo twin on the embedded engine
#   make test   install what the tests need (Python packages, Debian packages, Neo4j from
#               Maven Central) and run every test on both real engines
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kgtwin demo

# Debian packages the tests use: the Mosquitto broker, the Compose file parser, a JDK and
# Maven for the local Neo4j. Installed only when missing (root or sudo needed then).
test-deps: $(STAMP)
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v docker-compose >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	command -v java >/dev/null 2>&1 || missing="$$missing openjdk-17-jdk-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

test: test-deps
	$(BIN)/ruff check kgtwin tests bench
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check kgtwin tests bench
	$(BIN)/ruff format --check kgtwin tests bench

bench: $(STAMP)
	$(BIN)/python bench/store.py

clean:
	rm -rf $(VENV) .kgtwin .pytest_cache
