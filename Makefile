# Two commands do everything on a fresh machine:
#   make app   - create .venv, install, start the app (embedded MNIST sample, no network needed)
#   make test  - create .venv, install, run the whole test suite (browser test included)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test test-fast bench browser-deps clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py

# The browser test drives Debian's chromium; install it when we can (root, apt) and it is missing.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium for the browser test..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

test: $(STAMP) browser-deps
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser"

bench: $(STAMP)
	$(PY) bench/bench_training_throughput.py
	$(PY) bench/bench_latency.py

clean:
	rm -rf $(VENV) .pytest_cache
