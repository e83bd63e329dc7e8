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
# # Background jobs: keep working while the workers compute
#
# `background=True` returns a `Job` at once. Its widget (bar, a line of text,
# Cancel, and an output area for what the workers print) lives in the cell that
# started it and keeps updating while you run other cells.
#
# *(Cells that display a live widget are excluded from the saved-output check.)*

# %%
import time

import nbparallel as nbp


def slow(x):
    print("working on", x)
    time.sleep(0.4)
    return x * x


# %%
# NBVAL_IGNORE_OUTPUT
job = nbp.pmap(slow, range(20), chunks=10, background=True)
job

# %% [markdown]
# The kernel is free: this cell runs while the job works.

# %%
print("2 + 2 =", 2 + 2, "| job finished already?", job.done())

# %%
result = job.result()  # waits; or `await job`
print(result == [x * x for x in range(20)], job.status, f"{job.n_done}/{job.n_total} chunks")

# %% [markdown]
# What the workers printed is kept on the job too, labelled by chunk:

# %%
print(job.output.splitlines()[:4])

# %% [markdown]
# ## Cancel
#
# The Cancel button or `job.cancel()`: running chunks are interrupted within a
# second or two, queued ones never start, finished chunks are kept, and the workers
# stay warm for the next call.

# %%
# NBVAL_IGNORE_OUTPUT
long_job = nbp.pmap(slow, range(200), chunks=100, background=True)
time.sleep(1.5)
long_job.cancel()

# %%
try:
    long_job.result()
except nbp.JobCancelled:
    print("status:", long_job.status)
print("the next call works at once:", nbp.pmap(abs, [-1, -2, -3], progress=False))


# %% [markdown]
# ## Errors in the background
#
# The job fails with the chunk's own exception, a note naming the chunk and item,
# and the worker traceback.


# %%
def parse(text):
    return int(text)


bad = nbp.pmap(parse, ["1", "2", "x", "4"], chunks=2, background=True, progress=False)
try:
    bad.result()
except ValueError as err:
    print(err)
    print(err.__notes__[0])
print(bad.status, [e.index for e in bad.errors])

# %% [markdown]
# ## `await`, and threads for I/O-bound work

# %%
squares = await nbp.pmap(lambda x: x * x, range(5), background=True, progress=False)
print(squares)


def fetch(i):
    time.sleep(0.2)  # stands in for a network call: threads suit I/O
    return f"page {i}"


print(nbp.pmap(fetch, range(6), backend="threading", n_jobs=6, progress=False))
