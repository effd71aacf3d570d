# shortcutlab: the two commands are `make study` and `make test` (both bootstrap .venv when missing).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# the first Python >= 3.11 among these (the pinned numpy and ipython need 3.11); empty when there is none
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRESET ?= default
ENGINE ?= ray
PYTEST_ARGS ?=
export HF_HUB_OFFLINE ?= 1
export PYTHONHASHSEED ?= 0
# the local mirror warns about each missing index folder; keep the log readable
QUIET_PIP := grep -v -e "is ignored: it is neither a file nor a directory" || true

.PHONY: install study lesson test test-slow lab kernel clean bench help

help:
	@echo "make study   - install (first time) and run every notebook with params/$(PRESET).yaml into reports/$(PRESET)/"
	@echo "               (ENGINE=ray: the training jobs first, in parallel on Ray; Ray comes with the install)"
	@echo "make lesson  - install (first time) and run the five-minute lesson (params/lesson.yaml) into reports/lesson/"
	@echo "make test    - install (first time) and run the test suite (the slow tests are left to make test-slow)"
	@echo "make test-slow - the slow tests (browser, kill-and-resume), then the outcome tests again with the"
	@echo "               arithmetic perturbed (SHORTCUTLAB_PERTURB=1); CI runs both"
	@echo "make lab     - JupyterLab on notebooks/ with the shortcutlab kernel (PRESET=smoke: every notebook takes it)"
	@echo "make kernel  - register the shortcutlab kernel for your user, so that any Jupyter finds it"
	@echo "make bench   - performance ratios (shortcutlab bench)"
	@echo "make clean   - remove reports/, runs/ and caches (keeps .venv)"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || test -n "$(PYTHON)" || { echo "shortcutlab needs Python >= 3.11 (the pinned numpy \
	and ipython do); found: $$(for p in python3.13 python3.12 python3.11 python3.10 python3; do command -v $$p \
	>/dev/null 2>&1 && v=$$($$p -c 'import platform; print(platform.python_version())' 2>/dev/null) && printf '%s ' "$$p=$$v"; done)\
	; install one or run make PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing shortcutlab into $(VENV) with the pinned versions in constraints.txt (first time: ~4 min)"
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[test]' 2>&1 | { $(QUIET_PIP); }
	$(BIN)/python -m ipykernel install --sys-prefix --name shortcutlab --display-name "Python (shortcutlab)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

study: $(STAMP)
	$(BIN)/shortcutlab run --preset $(PRESET) --engine $(ENGINE) $(if $(filter ray,$(ENGINE)),--notebook-jobs 2)

lesson: $(STAMP)
	$(BIN)/shortcutlab run --preset lesson --only lesson --engine $(ENGINE)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)
	SHORTCUTLAB_PERTURB=1 $(BIN)/python -m pytest -m "outcome and not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/shortcutlab bench --preset smoke

lab: $(STAMP)
	SHORTCUTLAB_PRESET=$(PRESET) $(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name shortcutlab --display-name "Python (shortcutlab)"

clean:
	rm -rf reports runs .pytest_cache
