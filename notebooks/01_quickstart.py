# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # nbparallel quick start
#
# A slow cell, the hand-written joblib recipe people usually write for it, and the
# same work with `nbp.pmap` and `nbp.pmap_chunks`. Every parallel result is checked
# against the sequential one. Timings differ from machine to machine (this notebook
# is tested with them masked); the claims in the README come from
# `python -m nbparallel bench`.

# %%
import itertools
import random
import time

import numpy as np
from joblib import Parallel, delayed

import nbparallel as nbp

nbp.config(progress=False)  # keeps this notebook's saved outputs stable; try progress=True
n_jobs = 2


# %% [markdown]
# ## A slow function, defined right here in the notebook
#
# `bogosort` shuffles a row until it is sorted: about 7! = 5040 shuffles for a row of 7.
# Functions, lambdas and closures defined in a notebook work with `pmap`
# (`multiprocessing.Pool` cannot pickle them).


# %%
def bogosort(row):
    row = [int(v) for v in row]
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row


rows = np.random.default_rng(0).integers(0, 100, size=(200, 7))

start = time.perf_counter()
expected = [bogosort(r) for r in rows]
sequential = time.perf_counter() - start
print(f"sequential: {sequential:.2f} s, first row {expected[0]}")


# %% [markdown]
# ## The hand-written recipe
#
# Split into `n_jobs` pieces, run them with `joblib.Parallel`, glue the pieces back.
# Eight lines, no progress, and a bad split when items cost different amounts.


# %%
def sort_part(part):
    return [bogosort(r) for r in part]


start = time.perf_counter()
parts = np.array_split(rows, n_jobs)
results = Parallel(n_jobs=n_jobs)(delayed(sort_part)(p) for p in parts)
by_recipe = list(itertools.chain.from_iterable(results))
recipe = time.perf_counter() - start
print(f"recipe: {recipe:.2f} s, same result: {by_recipe == expected}")

# %% [markdown]
# ## The same with `pmap`: one call, order kept

# %%
start = time.perf_counter()
by_pmap = nbp.pmap(bogosort, rows, n_jobs=n_jobs)
elapsed = time.perf_counter() - start
print(f"pmap: {elapsed:.2f} s, same result: {by_pmap == expected}")


# %% [markdown]
# ## Uneven work
#
# Item `i` costs `i` units. The recipe gives the second worker three quarters of the
# work; `pmap` makes chunks that shrink as the work runs out, so both workers stay
# busy to the end.


# %%
def skewed(i):
    total = 0
    for k in range(i * 2000):
        total += k
    return total


items = list(range(200))
start = time.perf_counter()
expected = [skewed(i) for i in items]
t_seq = time.perf_counter() - start
start = time.perf_counter()
by_recipe = list(
    itertools.chain.from_iterable(
        Parallel(n_jobs=n_jobs)(delayed(lambda p: [skewed(i) for i in p])(p) for p in np.array_split(items, n_jobs))
    )
)
t_recipe = time.perf_counter() - start
start = time.perf_counter()
by_pmap = nbp.pmap(skewed, items, n_jobs=n_jobs)
t_pmap = time.perf_counter() - start
print(f"recipe correct: {by_recipe == expected}, pmap correct: {by_pmap == expected}")
print(f"speed-up over sequential: recipe {t_seq / t_recipe:.2f}x, pmap {t_seq / t_pmap:.2f}x")

# %% [markdown]
# ## Whole chunks: `pmap_chunks`
#
# The function gets a whole chunk (a view of the array, a slice of the list, rows of
# a DataFrame) and the results are merged back into the input's kind.

# %%
big = np.arange(1_000_000, dtype=np.float64)
doubled = nbp.pmap_chunks(lambda chunk: chunk * 2, big, n_jobs=n_jobs)
print(type(doubled).__name__, doubled.shape, np.array_equal(doubled, big * 2))

total = nbp.pmap_chunks(np.sum, big, merge="sum", n_jobs=n_jobs)
print(total == big.sum())


# %% [markdown]
# ## Errors say where
#
# The original exception type comes back (so `except ValueError` works), with a note
# naming the chunk and the item, and the worker's traceback.


# %%
def parse(text):
    return int(text)


try:
    nbp.pmap(parse, ["1", "2", "three", "4"], chunks=2, n_jobs=n_jobs)
except ValueError as err:
    print(type(err).__name__, err)
    print(*err.__notes__, sep="\n")
