# Two commands do everything on a fresh machine:
#   make app   - create .venv, install, start the app (embedded MNIST sample, no network needed)
#   make test  - create .venv, install, run the whole test suite (browser test included)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

BROWSER_ASSETS := static/onnxruntime-web/.installed

.PHONY: app test test-fast bench browser-deps browser-assets clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The in-browser decoder's runtime: onnxruntime-web from the npm registry (web/package-lock.json),
# copied where the app serves it. Without npm or the registry the app still works: pages say so
# in one line and decode on the server.
$(BROWSER_ASSETS): web/package.json web/package-lock.json
	@if command -v npm >/dev/null 2>&1 && (cd web && npm ci --ignore-scripts --no-audit --no-fund --silent \
			--fetch-retries 1 --fetch-timeout 60000); then \
		mkdir -p static/onnxruntime-web && \
		cp web/node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs \
		   web/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs \
		   web/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm static/onnxruntime-web/ && \
		touch $@; \
	else \
		echo "onnxruntime-web not installed (npm or the npm registry missing): pages will decode on the server."; \
	fi

browser-assets: $(BROWSER_ASSETS)

app: $(STAMP) browser-assets
	$(VENV)/bin/streamlit run app.py

# The browser test drives Debian's chromium; install it when we can (root, apt) and it is missing.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium for the browser test..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# Test files run in parallel, one worker per core (at most 4): most tests wait on a subprocess, a
# server or a browser, so two workers halve the time on two cores. A file's tests stay together.
test: $(STAMP) browser-deps browser-assets
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile -m "not browser"

bench: $(STAMP)
	$(PY) bench/bench_training_throughput.py
	$(PY) bench/bench_latency.py

clean:
	rm -rf $(VENV) .pytest_cache web/node_modules static
