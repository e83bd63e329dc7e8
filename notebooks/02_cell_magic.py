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
# # `%%parallel`: a slow cell, made parallel without rewriting it
#
# `%load_ext nbparallel` registers the magics. `--split` names the notebook
# variables to partition; inside the body each is bound to one chunk. `--out`
# names what the body assigns; the chunks' values are merged and assigned in the
# notebook. Functions and constants the body uses are sent to the workers (only
# those). `%%parallel?` shows every option.

# %%
# %load_ext nbparallel
import random
import time

import numpy as np


def bogosort(row):
    row = [int(v) for v in row]
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row


bigdata = np.random.default_rng(0).integers(0, 100, size=(200, 7))

# %% [markdown]
# ## The sequential cell

# %%
start = time.perf_counter()
sorted_rows = [bogosort(r) for r in bigdata]
sequential = time.perf_counter() - start
expected = sorted_rows
print(f"{len(sorted_rows)} rows sorted in {sequential:.2f} s")

# %% [markdown]
# ## The same cell, parallel: one line added

# %%
# %%parallel --split bigdata --out sorted_rows --no-progress
sorted_rows = [bogosort(r) for r in bigdata]

# %%
print("same result as the sequential cell:", sorted_rows == expected)

# %% [markdown]
# ## A DataFrame, and what the body prints
#
# DataFrames are split by rows (index kept) and merged with `pd.concat`. What the
# body prints shows up here, labelled by chunk.

# %%
import pandas as pd

df = pd.DataFrame({"x": np.arange(12), "label": list("abcdefghijkl")})

# %%
# %%parallel --split df --out scored --chunks 3 --no-progress
print("rows", df.index[0], "to", df.index[-1])
scored = df.assign(score=df.x**2)

# %%
scored

# %% [markdown]
# ## In the background: `--bg`
#
# The cell returns at once; the job is stored in `_job` (or `--name`), and the
# `--out` variables are assigned when it finishes.

# %% tags=["nbval-ignore-output"]
# %%parallel --split bigdata --out bg_rows --bg --name sort_job
bg_rows = [bogosort(r) for r in bigdata]

# %%
print("the kernel is free; job done yet?", sort_job.done())

# %%
sort_job.result()
print(sort_job.status, bg_rows == expected)

# %% [markdown]
# ## Groups: never split one across chunks
#
# A `groupby` in a split cell runs on each chunk. When a group's rows land in two
# chunks, each half is summarised on its own and the halves are concatenated: the
# result has repeated keys and wrong values. nbparallel warns when merged results
# look like that.

# %%
import nbparallel as nbp

rng = np.random.default_rng(1)
sales = pd.DataFrame({"shop": rng.integers(0, 10, 1000), "amount": rng.gamma(2.0, 10.0, 1000)})

# %% tags=["nbval-ignore-output"]
# %%parallel --split sales --out per_shop -n 2 --no-progress
per_shop = sales.groupby("shop").amount.mean()

# %%
print(len(per_shop), "rows for", sales.shop.nunique(), "shops")

# %% [markdown]
# `--by shop` keeps every shop's rows in one chunk (big groups first, so they do
# not leave a worker idle at the end). The body is unchanged and the result equals
# the whole-data one; row-wise outputs come back in the input's order.

# %%
# %%parallel --split sales --by shop --out per_shop -n 2 --no-progress
per_shop = sales.groupby("shop").amount.mean()

# %%
print(len(per_shop), np.allclose(per_shop, sales.groupby("shop").amount.mean()))

# %% [markdown]
# The same as a function call: `nbp.pmap_groups(func, df, by)` equals `df.groupby(by).apply(func)`.

# %%
top2 = nbp.pmap_groups(lambda g: g.nlargest(2, "amount"), sales, "shop", n_jobs=2, progress=False)
print(top2.equals(sales.groupby("shop").apply(lambda g: g.nlargest(2, "amount"))))

# %% [markdown]
# ## State and defaults: `%nbparallel`

# %%
# %nbparallel config progress=auto
