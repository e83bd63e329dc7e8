"""Functions defined in a notebook (a real IPython shell) run on worker processes."""

from __future__ import annotations

from IPython.utils.capture import capture_output


def run(shell, code):
    with capture_output() as captured:
        result = shell.run_cell(code)
    if not result.success:
        raise AssertionError(
            f"cell failed: {result.error_in_exec or result.error_before_exec}\n{captured.stdout}{captured.stderr}"
        )
    return captured


def test_notebook_function_closure_and_lambda(shell):
    run(
        shell,
        """
import random
import numpy as np
import nbparallel as nbp

def bogosort(row):
    row = list(row)
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row

rows = np.random.default_rng(1).integers(0, 100, size=(30, 5))
sorted_rows = nbp.pmap(bogosort, rows, n_jobs=2, progress=False)
scale = 3
scaled = nbp.pmap(lambda r: [v * scale for v in r], sorted_rows, n_jobs=2, progress=False)
def make_adder(k):
    def add(x):
        return x + k
    return add
added = nbp.pmap_chunks(make_adder(5), rows, n_jobs=2, progress=False)
""",
    )
    ns = shell.user_ns
    assert ns["sorted_rows"] == [sorted(r.tolist()) for r in ns["rows"]]
    assert ns["scaled"] == [[v * 3 for v in sorted(r.tolist())] for r in ns["rows"]]
    assert (ns["added"] == ns["rows"] + 5).all()


def test_notebook_error_shows_worker_traceback(shell):
    with capture_output() as captured:
        result = shell.run_cell("""
def parse(s):
    return int(s)
nbp.pmap(parse, ["1", "2", "three", "4"], chunks=2, n_jobs=2, progress=False)
""")
    assert isinstance(result.error_in_exec, ValueError)
    shown = captured.stdout + captured.stderr
    assert "invalid literal for int() with base 10: 'three'" in shown
    assert "item 2 ('three') in chunk 1 of 2 (items 2-3)" in shown
    assert "RemoteTraceback" in shown and "return int(s)" in shown


def test_notebook_worker_prints_reach_the_cell(shell):
    captured = run(
        shell,
        """
def noisy(x):
    print("processing", x)
    return x
nbp.pmap(noisy, range(4), chunks=2, n_jobs=2, progress=False)
""",
    )
    assert "[chunk 0] processing 0" in captured.stdout
    assert "[chunk 1] processing 3" in captured.stdout


def test_worker_traceback_source_for_nested_functions_and_cell_bodies(shell):
    run(shell, "def outer(k):\n    def inner(x):\n        return x // k\n    return inner\n")
    run(shell, "def checked(v):\n    assert v < 3, f'too big: {v}'\n    return v\nvalues = list(range(5))\n")
    with capture_output() as captured:
        result = shell.run_cell("nbp.pmap(outer(0), [1, 2], n_jobs=2, progress=False)")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert "return x // k" in captured.stdout + captured.stderr
    with capture_output() as captured:
        result = shell.run_cell(
            "%%parallel --split values --out got -n 2 --no-progress\ngot = [checked(v) for v in values]"
        )
    shown = captured.stdout + captured.stderr
    assert isinstance(result.error_in_exec, AssertionError)
    assert "assert v < 3, f'too big: {v}'" in shown  # the function from the earlier cell
    assert "got = [checked(v) for v in values]" in shown  # the %%parallel body itself
    assert "<dynamic-code>" not in shown
