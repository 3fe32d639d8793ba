# Everything runs from a local virtualenv that these targets create on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := crm-packages/node_modules/.installed

.PHONY: install demo test lint bench faults eval clean crm-packages browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)  ## run the whole pipeline on embedded defaults and print the result
	$(BIN)/cem-connector demo

$(NODE_STAMP): crm-packages/package.json crm-packages/package-lock.json
	cd crm-packages && npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

crm-packages:  ## the CRM vendors' validators, pinned (npm ci); without Node.js their tests skip
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "Node.js/npm not found: tests that validate the generated CRM packages will be skipped."; fi

# The browser tests drive Debian's Chromium (Playwright's own browser download does not work offline).
# Installed when missing and we are root (CI); elsewhere those tests skip and say how to install it.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver >/dev/null) || echo "Could not install chromium: browser tests will skip."; \
	else echo "No chromium/chromedriver and not root: browser tests will skip (apt-get install chromium chromium-driver)."; fi

test: $(STAMP) crm-packages browser  ## lint, then the full test suite (real Redis, PostgreSQL, sandbox CRMs, headless Chromium)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)  ## side-by-side performance ratios
	$(BIN)/python -m bench

eval: $(STAMP)  ## engine quality on the golden, public and blind labelled sets (eval/README.md)
	$(BIN)/python -m eval

faults: $(STAMP)  ## fault-injection scenarios, one row each
	$(BIN)/python -m tests.faults

clean:
	rm -rf crm-packages/node_modules
	rm -rf $(VENV) .pytest_cache .hypothesis cem-connector.db .cem-connector
