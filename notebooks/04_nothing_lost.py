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
# # Nothing lost
#
# An hour of parallel work must not vanish because one chunk failed, a worker died,
# a chunk hung, or the kernel restarted.

# %%
import random
import tempfile
import time

import nbparallel as nbp


def parse(text):
    return int(text)


data = ["1", "2", "3", "4", "five", "6", "7", "8"]

# %% [markdown]
# ## A failing chunk: the error says where, the finished chunks stay
#
# The original exception type comes back (`except ValueError` works). The job is
# reachable from the exception (`err.job`) or with `nbp.last_job()`.

# %%
try:
    nbp.pmap(parse, data, chunks=4, n_jobs=2, progress=False)
except ValueError as err:
    job = err.job
    print(type(err).__name__, "-", err.__notes__[0])
print(job.status, "| finished chunks kept:", job.n_ok, "of", job.n_total)

# %%
part = job.partial_result()
print("values:", part.value)
print("items covered:", part.items, "missing:", part.missing)


# %% [markdown]
# ## Fix the function, run only what is missing


# %%
def parse(text):
    words = {"five": 5}
    return words[text] if text in words else int(text)


print(job.retry_failed(parse), job.status)


# %% [markdown]
# ## Retries and timeouts
#
# `retries=N` runs a failing chunk again (flaky I/O); `timeout=` stops a chunk that
# runs too long and names it. The worker is interrupted, not killed, so the pool
# stays warm.


# %%
def slow_or_stuck(seconds):
    time.sleep(seconds)
    return seconds


try:
    nbp.pmap(slow_or_stuck, [0.1, 0.1, 60, 0.1], chunks=4, n_jobs=2, timeout=1.0, progress=False)
except nbp.ChunkTimeout as err:
    print(err)
    print("kept:", err.job.partial_result().value)

# %% [markdown]
# ## Checkpoints: resume after a crash or a kernel restart
#
# With `cache=` every finished chunk is stored on disk, keyed by the function's
# code and the chunk's data. Here the first run is cancelled half-way (it could as
# well have been a kernel restart); the second computes only what is missing.

# %%
cache_dir = tempfile.mkdtemp(prefix="nbparallel-demo-cache-")


def slow_square(x):
    time.sleep(0.3)
    return x * x


first = nbp.pmap(slow_square, range(16), chunks=16, n_jobs=2, cache=cache_dir, background=True, progress=False)
time.sleep(1.5)
first.cancel()
try:
    first.result()
except nbp.JobCancelled:
    print("first run cancelled; some chunks had finished:", first.n_ok > 0)

# %%
again = nbp.pmap(slow_square, range(16), chunks=16, n_jobs=2, cache=cache_dir, progress=False)
job = nbp.last_job()
print(
    again == [x * x for x in range(16)],
    "| read from the cache:",
    job.n_cached > 0,
    "| computed now:",
    job.n_total - job.n_cached < 16,
)


# %% [markdown]
# ## Reproducible randomness
#
# With `seed=`, each item runs with `random` and NumPy seeded from
# `SeedSequence(seed, spawn_key=(item index,))`: a bogosort that calls
# `random.shuffle` gives the same answer *and the same number of shuffles* for any
# `n_jobs`, chunking and backend, and the same as a sequential loop using
# `nbp.seed_item`.


# %%
def bogosort_count(row):
    row, shuffles = list(row), 0
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
        shuffles += 1
    return shuffles


rows = [[5, 3, 1, 4, 2, 0]] * 12
runs = [
    nbp.pmap(bogosort_count, rows, seed=2024, n_jobs=1, progress=False),
    nbp.pmap(bogosort_count, rows, seed=2024, n_jobs=2, chunks=5, progress=False),
    nbp.pmap(bogosort_count, rows, seed=2024, backend="threading", n_jobs=2, progress=False),
]
sequential = []
for i, row in enumerate(rows):
    nbp.seed_item(2024, i)
    sequential.append(bogosort_count(row))
print(runs[0])
print(all(r == sequential for r in runs))

# %%
import shutil

shutil.rmtree(cache_dir)  # tidy up the demo's cache folder
