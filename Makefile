# Every target creates $(VENV) (python3 -m venv) and installs the project if needed,
# pinned to the exact versions in $(LOCK), the set `make test` last passed with.
PYTHON ?= python3
VENV   ?= .venv
LOCK   ?= requirements/lock.txt
EXTRAS := test,lint,dask,e2e,docs,bench
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-unit test-notebooks lint e2e bench docs clean test-latest lock

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade $(if $(LOCK),-c $(LOCK)) pip
	$(PY) -m pip install --quiet $(if $(LOCK),-c $(LOCK),--upgrade --upgrade-strategy eager) -e '.[$(EXTRAS)]'
	touch $(STAMP)

# Debian's chromium for the browser test (Playwright drives it; it never downloads
# a browser). Needs root and apt; without them the browser test skips and says why.
CHROMIUM_STAMP := $(VENV)/.chromium-stamp
$(CHROMIUM_STAMP):
	@if command -v chromium >/dev/null 2>&1; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium missing and cannot be installed here (not root or no apt-get)"; fi
	touch $(CHROMIUM_STAMP)

## make demo: the main job (bogosort and skewed workloads, k-search) with progress bars
demo: $(STAMP)
	$(PY) -m nbparallel demo

## make test: unit, shell, kernel and dask tests, docstring examples, every notebook under nbval,
## and the browser test
test: lint docs test-unit test-notebooks e2e

## make lint: ruff (lint and format) and mypy over the package, no errors allowed
lint: $(STAMP)
	$(VENV)/bin/ruff check nbparallel tests notebooks/make_notebooks.py
	$(VENV)/bin/ruff format --check nbparallel tests notebooks/make_notebooks.py
	$(VENV)/bin/mypy

test-unit: $(STAMP)
	$(PY) -m pytest tests nbparallel --doctest-modules --ignore=tests/e2e

## make e2e: JupyterLab in headless Chromium: the widget, another cell running, worker output, Cancel
e2e: $(STAMP) $(CHROMIUM_STAMP)
	$(PY) -m pytest tests/e2e -p no:cacheprovider

## dask's scratch space (the notebooks start dask clusters) goes to a folder removed afterwards
test-notebooks: $(STAMP)
	scratch=$$(mktemp -d) && DASK_TEMPORARY_DIRECTORY=$$scratch $(PY) -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:randomly notebooks; \
	status=$$?; rm -rf $$scratch; exit $$status

## make bench: every speed claim, measured in one run
bench: $(STAMP)
	$(PY) -m nbparallel bench

## make test-latest (not run by CI): the newest versions pyproject.toml allows, in .venv-latest,
## and the whole suite on them. Finds upstream breakage on purpose.
test-latest:
	rm -rf .venv-latest
	$(MAKE) test VENV=.venv-latest LOCK=

## make lock: refresh the lock from a passing `make test-latest` (review the diff, then commit it)
lock: test-latest
	.venv-latest/bin/python -m pip freeze --all --exclude-editable > requirements/lock.txt

## make docs: the documentation site in docs/_build/html (warnings are errors; no network,
## the notebooks are rendered with their stored outputs)
docs: $(STAMP)
	rm -rf docs/generated
	$(PY) -m sphinx -E -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache .hypothesis *.egg-info e2e-output
