# Every target creates .venv (python3 -m venv) and installs the project if needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-unit test-notebooks bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask]'
	touch $(STAMP)

## make demo: the main job (bogosort and skewed workloads, k-search) with progress bars
demo: $(STAMP)
	$(PY) -m nbparallel demo

## make test: unit, shell and kernel tests, docstring examples, then every notebook under nbval
test: test-unit test-notebooks

test-unit: $(STAMP)
	$(PY) -m pytest tests nbparallel --doctest-modules

test-notebooks: $(STAMP)
	$(PY) -m pytest --nbval --nbval-current-env --nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:randomly notebooks

## make bench: every speed claim, measured in one run
bench: $(STAMP)
	$(PY) -m nbparallel bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
