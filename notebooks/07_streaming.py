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
# # Streaming, keep-going errors, per-worker setup
#
# Three things this notebook shows: `nbp.imap` hands out results as they finish
# while reading its input lazily (so it works on endless or huge inputs);
# `errors="collect"` keeps going past failing items; `@nbp.per_worker` computes a
# setup (a model, a connection) once per worker process and reuses it.

# %%
import itertools
import os
import shutil
import tempfile
import time
import warnings

import nbparallel as nbp

nbp.config(progress=False)  # keeps the saved outputs stable; try progress=True
n_jobs = 2


# %% [markdown]
# ## `imap`: results as they finish, input read lazily
#
# The input below is an endless generator. `imap` reads only a few chunks per
# worker ahead, so breaking out of the loop is fine: the rest is cancelled and
# the workers go idle at once.


# %%
def lines():
    for i in itertools.count():
        yield f"record {i}: {i * 7 % 11}"


def parse(line):
    return int(line.rsplit(":", 1)[1])


total = 0
for n, value in enumerate(nbp.imap(parse, lines(), n_jobs=n_jobs), start=1):
    total += value
    if n == 1000:
        break
print(
    n, "records, total", total, "== sequential:", total == sum(parse(line) for line in itertools.islice(lines(), 1000))
)
print("the rest:", nbp.last_job().wait(2) and nbp.last_job().status)


# %% [markdown]
# The first result arrives about one item's time after the call: chunks start
# with one item and grow while items are cheap. `ordered=False` hands results
# out in the order they finish.


# %%
def slow_square(x):
    time.sleep(0.2)
    return x * x


began = time.perf_counter()
stream = nbp.imap(slow_square, range(20), n_jobs=n_jobs)
first = next(stream)
print("first result", first, "within 1 s:", time.perf_counter() - began < 1)
print(sorted([first, *stream]) == [x * x for x in range(20)])
print(sorted(nbp.imap(slow_square, range(8), n_jobs=n_jobs, ordered=False)))


# %% [markdown]
# ## `errors="collect"`: keep going
#
# A failing item becomes an `nbp.Failed` record in its place (the exception, the
# item's index and a short repr, the worker traceback); every other item is
# computed, and one line says how many failed. `job.retry_failed(fixed)` reruns
# only those items.


# %%
def inverse(x):
    return round(1 / (x % 5), 3)


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = nbp.pmap(inverse, range(12), n_jobs=n_jobs, errors="collect")
print(caught[0].message)
print(out)
job = nbp.last_job()
print([(f.index, f.item_repr, type(f.exception).__name__) for f in job.errors])
print(job.retry_failed(lambda x: float("inf") if x % 5 == 0 else inverse(x)))

# %% [markdown]
# ## `@nbp.per_worker`: set up once per worker
#
# The setup below stands in for loading a model: it runs once in each worker
# process and is reused by every chunk of both calls (it runs again only if its
# code or the globals it reads change).

# %%
setup_log = os.path.join(tempfile.mkdtemp(), "setups")


@nbp.per_worker
def model():
    with open(setup_log, "a") as fh:
        fh.write(f"{os.getpid()}\n")
    return {"weight": 3}


def predict(x):
    return model()["weight"] * x


print(nbp.pmap(predict, range(40), chunks=20, n_jobs=n_jobs)[:5])
print(nbp.pmap(predict, range(40), chunks=20, n_jobs=n_jobs)[-5:])
with open(setup_log) as log:
    runs = log.read().split()
print("setups:", len(runs), "| once per worker:", len(runs) == len(set(runs)) <= n_jobs)
shutil.rmtree(os.path.dirname(setup_log))  # tidy up the demo's log
