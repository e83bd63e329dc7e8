# Every target creates $(VENV) (python3 -m venv) and installs the project if needed:
# `uv sync --locked` installs exactly the versions in uv.lock, the set `make test` last
# passed with (uv itself pinned here), and nbparallel in editable mode.
PYTHON ?= python3
VENV   ?= .venv
UV_VERSION := 0.13.8
EXTRAS := test lint dask e2e docs bench
PY     := $(VENV)/bin/python
UV     := UV_PROJECT_ENVIRONMENT=$(VENV) $(VENV)/bin/uv
STAMP  := $(VENV)/.installed-stamp
# the oldest versions pyproject.toml allows (make test-oldest), and pandarallel's own tests
OLDEST := .venv-oldest
OLDEST_STAMP := $(OLDEST)/.installed-stamp
PANDARALLEL_VERSION := 1.6.5
PANDARALLEL_TESTS := .cache/pandarallel-$(PANDARALLEL_VERSION)/tests/test_pandarallel.py

.PHONY: demo test test-quick test-unit test-oldest test-oldest-dask test-notebooks notebooks lint e2e bench docs clean lock fuzz

$(STAMP): pyproject.toml uv.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV) sync --quiet --locked --inexact --compile-bytecode $(addprefix --extra ,$(EXTRAS))
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

## make lint: ruff (lint and format), mypy over the package, and the one-way layering (lint-imports), no errors allowed
lint: $(STAMP)
	$(VENV)/bin/ruff check nbparallel tests notebooks/*.py
	$(VENV)/bin/ruff format --check nbparallel tests notebooks/*.py
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	@# one owner for a job's state: only jobs/job.py reads or writes a job's private fields
	@if grep -rnE "\b(job|self\.job)\._[a-z]" nbparallel --include=*.py | grep -v "^nbparallel/jobs/job.py:"; then \
		echo "lint: the lines above touch a job's private fields outside nbparallel/jobs/job.py"; exit 1; fi

## make test-quick: the inner loop (a few minutes; 12 min at load 12): unit and shell tests,
## no kernels, dask clusters, browsers or long suites
test-quick: $(STAMP)
	$(PY) -m pytest tests -m "not kernel and not dask and not browser and not slow" --ignore=tests/e2e -q

test-unit: $(STAMP) $(PANDARALLEL_TESTS)
	$(PY) -m pytest tests nbparallel --doctest-modules --ignore=tests/e2e

## make fuzz: the differential suite (every front end against its reference) with many random
## examples; `make test` runs it with the quick profile
fuzz: $(STAMP)
	$(PY) -m pytest tests/differential -p no:randomly --hypothesis-profile thorough

# pandarallel's own test file (tests/pandarallel_suite runs it on the drop-in): from pandarallel's
# source release on PyPI, which ships it (its wheel does not); never committed here.
$(PANDARALLEL_TESTS): | $(STAMP)
	rm -rf .cache/pandarallel-sdist && mkdir -p .cache/pandarallel-sdist
	$(PY) -m pip download --quiet --no-deps --no-binary :all: -d .cache/pandarallel-sdist pandarallel==$(PANDARALLEL_VERSION)
	tar -xzf .cache/pandarallel-sdist/pandarallel-$(PANDARALLEL_VERSION).tar.gz -C .cache \
		pandarallel-$(PANDARALLEL_VERSION)/tests/test_pandarallel.py
	rm -rf .cache/pandarallel-sdist
	touch $@

## make test-oldest: the unit suite on the oldest versions pyproject.toml declares, in $(OLDEST)
## (uv's --resolution lowest-direct: every direct dependency at its lower bound), with the real
## pandarallel beside the drop-in. Kernel, dask, browser and notebook tests are left out.
$(OLDEST_STAMP): pyproject.toml
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	$(OLDEST)/bin/uv pip install --quiet --python $(OLDEST)/bin/python --resolution lowest-direct \
		-e '.[test,dask]' pandarallel==$(PANDARALLEL_VERSION)
	touch $(OLDEST_STAMP)

# left out by their tier markers (tests/conftest.py's TIERS): kernel, dask and browser tests; and by
# path: the import-graph test (grimp comes with the lint extra) and the dask benchmark's examples
OLDEST_MARKERS := not kernel and not dask and not browser
test-oldest: $(OLDEST_STAMP) $(PANDARALLEL_TESTS)
	$(OLDEST)/bin/python -m pip list --format=freeze 2>/dev/null | grep -iE '^(numpy|pandas|polars|pyarrow|scipy|matplotlib|joblib|loky|cloudpickle|scikit-learn|threadpoolctl|ipywidgets|ipython|tqdm|xxhash|dask|distributed|pandarallel)=' | tr '\n' ' '; echo
	$(OLDEST)/bin/python -m pytest tests nbparallel --doctest-modules -p no:cacheprovider -m "$(OLDEST_MARKERS)" \
		--ignore=tests/test_layers.py --ignore=nbparallel/bench/dask.py

## make test-oldest-dask: the dask tests (they start LocalClusters) in the same environment, on the
## oldest dask the dask extra declares (about 3 to 6 minutes; kept out of make test-oldest for its time)
test-oldest-dask: $(OLDEST_STAMP)
	$(OLDEST)/bin/python -m pip list --format=freeze 2>/dev/null | grep -iE '^(dask|distributed|pandas|numpy)=' | tr '\n' ' '; echo
	$(OLDEST)/bin/python -m pytest tests nbparallel/bench/dask.py --doctest-modules -p no:cacheprovider \
		-m "dask and not kernel and not browser" --ignore=tests/test_layers.py

## make e2e: JupyterLab in headless Chromium: the widget, another cell running, worker output, Cancel
e2e: $(STAMP) $(CHROMIUM_STAMP)
	$(PY) -m pytest tests/e2e -p no:cacheprovider

## dask's scratch space (the notebooks start dask clusters) goes to a folder removed afterwards
test-notebooks: $(STAMP)
	scratch=$$(mktemp -d) && DASK_TEMPORARY_DIRECTORY=$$scratch $(PY) -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:randomly notebooks; \
	status=$$?; rm -rf $$scratch; exit $$status

## make notebooks: re-execute the demo notebooks from their sources. Each notebook is a jupytext
## pair: notebooks/NN_name.py (percent format) is what you edit and review, the .ipynb beside it
## keeps the outputs nbval checks. `make notebooks NB=03_choosing_k` re-executes one.
NB ?= [0-9]*
notebooks: $(STAMP)
	cd notebooks && for f in $(NB).py; do \
		../$(VENV)/bin/jupytext --quiet --to ipynb --update "$$f" && \
		../$(VENV)/bin/jupyter-execute --inplace --timeout=600 "$${f%.py}.ipynb" || exit 1; \
	done

## make bench: every speed claim, measured in one run
bench: $(STAMP)
	$(PY) -m nbparallel bench

## make lock (not run by CI): move uv.lock to the newest versions pyproject.toml allows and run
## the whole suite on them in .venv-latest. Review the diff of uv.lock and commit it if the suite
## passed; `git checkout uv.lock` drops it.
lock: $(STAMP)
	$(UV) lock --upgrade
	rm -rf .venv-latest
	$(MAKE) test VENV=.venv-latest

## make docs: the documentation site in docs/_build/html (warnings are errors; no network,
## the notebooks are rendered with their stored outputs)
docs: $(STAMP)
	rm -rf docs/generated
	$(PY) -m sphinx -E -W --keep-going -n -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .venv-latest $(OLDEST) .cache .pytest_cache .hypothesis *.egg-info e2e-output
