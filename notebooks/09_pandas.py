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
# # pandas: the pandarallel drop-in and `df.parallel`
#
# pandarallel 1.6.5 does not import on pandas 3. Changing its import line to
# nbparallel's is the whole switch; for new code there is a `parallel` accessor
# with nbparallel's run options. Every parallel result below is checked `.equals`
# to pandas' own.

# %%
import time

import numpy as np
import pandas as pd

import nbparallel as nbp
from nbparallel import pandarallel  # was: from pandarallel import pandarallel

nbp.config(progress=False)  # keeps this notebook's saved outputs stable
pandarallel.initialize(nb_workers=2, progress_bar=False)  # progress_bar=True shows the widget
print("pandas", pd.__version__)

# %% [markdown]
# ## Row-wise `apply`: a slow row function
#
# Each worker runs pandas' own `chunk.apply(f, axis=1)` on a chunk of rows, so the
# result has pandas' index, name and dtype.

# %%
rng = np.random.default_rng(0)
df = pd.DataFrame(
    {
        "price": rng.uniform(1, 100, 4000),
        "qty": rng.integers(1, 20, 4000),
        "shop": rng.choice(["north", "south", "east", "west"], 4000),
    }
)


def score(row):
    end = time.perf_counter() + 200e-6  # ~200 microseconds of work per row
    while time.perf_counter() < end:
        pass
    return row.price * row.qty


start = time.perf_counter()
expected = df.apply(score, axis=1)
sequential = time.perf_counter() - start
start = time.perf_counter()
got = df.parallel_apply(score, axis=1)
parallel = time.perf_counter() - start
print(f"pandas {sequential:.2f} s, parallel_apply {parallel:.2f} s, equal: {got.equals(expected)}")

# %% [markdown]
# ## `map`, with a function or a dict, and rolling windows across chunk borders

# %%
s = df.shop
print(s.parallel_map(str.upper).equals(s.map(str.upper)))
print(s.parallel_map({"north": 1, "south": 2}).equals(s.map({"north": 1, "south": 2})))
print(df[["price", "qty"]].parallel_applymap(round).equals(df[["price", "qty"]].map(round)))


def spread(w):
    return w.max() - w.min()


print(df.price.rolling(50).parallel_apply(spread, raw=True).equals(df.price.rolling(50).apply(spread, raw=True)))

# %% [markdown]
# ## Groupby: `parallel_apply`, `rolling`, `expanding`


# %%
def summary(g):
    return pd.Series({"revenue": (g.price * g.qty).sum(), "orders": len(g)})


print(df.groupby("shop").parallel_apply(summary).equals(df.groupby("shop").apply(summary)))
print(
    df.groupby("shop")
    .rolling(10)
    .parallel_apply(spread, raw=True)
    .equals(df.groupby("shop").rolling(10).apply(spread, raw=True))
)
print(
    df.groupby("shop")
    .expanding()
    .parallel_apply(spread, raw=True)
    .equals(df.groupby("shop").expanding().apply(spread, raw=True))
)
df.groupby("shop").parallel_apply(summary)


# %% [markdown]
# ## An error names its row
#
# The row's own exception comes back, catchable by its type, with a note that says
# which row failed.


# %%
def fragile(row):
    if row.name == 1234:
        raise ValueError("bad row")
    return row.qty


try:
    df.parallel_apply(fragile, axis=1)
except ValueError as exc:
    print("ValueError:", exc)
    print(exc.__notes__[0])

# %% [markdown]
# ## New code: `df.parallel` and `s.parallel`
#
# The accessor takes the pandas method's arguments and nbparallel's run options:
# `n_jobs`, `progress`, `background`, `errors`, `timeout`, `retries`. With
# `background=True` it returns a job at once and the kernel stays free.

# %%
revenue = df.parallel.apply(lambda r: r.price * r.qty, axis=1, n_jobs=2)
print(revenue.equals(df.apply(lambda r: r.price * r.qty, axis=1)))

job = df.parallel.apply(score, axis=1, background=True)
print("returned at once:", job.status in ("pending", "running", "done"))
print(job.result().equals(expected))

per_shop = df.groupby("shop").pipe(nbp.groupby_apply, summary, n_jobs=2)
print(per_shop.equals(df.groupby("shop").apply(summary)))
