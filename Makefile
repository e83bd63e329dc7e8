# Every target creates .venv (python3 -m venv) and installs the project if needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-unit test-notebooks e2e bench docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask,e2e,docs]'
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
test: docs test-unit test-notebooks e2e

test-unit: $(STAMP)
	$(PY) -m pytest tests nbparallel --doctest-modules --ignore=tests/e2e

## make e2e: JupyterLab in headless Chromium: the widget, another cell running, worker output, Cancel
e2e: $(STAMP) $(CHROMIUM_STAMP)
	$(PY) -m pytest tests/e2e -p no:cacheprovider

test-notebooks: $(STAMP)
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:randomly notebooks

## make bench: every speed claim, measured in one run
bench: $(STAMP)
	$(PY) -m nbparallel bench

## make docs: the documentation site in docs/_build/html (warnings are errors; no network,
## the notebooks are rendered with their stored outputs)
docs: $(STAMP)
	rm -rf docs/generated
	$(PY) -m sphinx -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info e2e-output
