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
# # Scale out on dask.distributed
#
# The same `pmap`, `pmap_chunks`, `%%parallel` and `choose_k`, on a dask cluster:
# only the backend changes. Here a `LocalCluster` (two worker processes on
# 127.0.0.1); for a real cluster, connect a `Client` to its scheduler
# (`Client("tcp://scheduler:8786")`) or set `nbp.config(dask_address=...)`.
# Needs the extra: `pip install 'nbparallel[dask]'`.

# %%
import time

import numpy as np
from dask.distributed import Client, LocalCluster

import nbparallel as nbp

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
)
client = Client(cluster)
print("workers:", len(client.nthreads()), "| threads:", sum(client.nthreads().values()))


# %% [markdown]
# ## The same calls, `backend="dask"`


# %%
def bogosort(row):
    import random

    row = [int(v) for v in row]
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row


rows = np.random.default_rng(0).integers(0, 100, size=(60, 6))
on_dask = nbp.pmap(bogosort, rows, backend="dask", progress=False)
local = nbp.pmap(bogosort, rows, progress=False)
print("pmap on dask == loky:", on_dask == local)

big = np.arange(1_000_000, dtype=np.float64)
print("pmap_chunks:", np.array_equal(nbp.pmap_chunks(lambda c: c * 2, big, backend="dask", progress=False), big * 2))

# %% [markdown]
# Or make dask the default for a block (or for the session with `nbp.config(backend="dask")`):

# %%
from sklearn.datasets import make_blobs

X, _ = make_blobs(n_samples=2000, n_features=20, centers=5, cluster_std=0.8, random_state=7)
with nbp.config(backend="dask"):
    res = nbp.choose_k(X, k=range(2, 10), progress=False)
print(res.picks, "->", res.best_k)

# %%
# %load_ext nbparallel

# %%
# %%parallel --split rows --out sorted_rows --backend dask --no-progress
sorted_rows = [bogosort(r) for r in rows]

# %%
print(sorted_rows == local)

# %%
client.close()
cluster.close()

# %% [markdown]
# ## A cluster at a scheduler address
#
# A real cluster is a `dask scheduler` and `dask worker` processes, usually on
# other machines: nothing nbparallel sends them names a file on this one. Here
# we start one with dask's own command line on 127.0.0.1 (as you would on each
# host) and point nbparallel at the scheduler's address.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

dask_cli = str(Path(sys.executable).with_name("dask"))
folder = tempfile.mkdtemp()
scheduler_file = os.path.join(folder, "scheduler.json")
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs = [
    subprocess.Popen(
        [
            dask_cli,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            scheduler_file,
        ],
        **quiet,
    )
]
while not os.path.exists(scheduler_file):
    time.sleep(0.1)
time.sleep(0.2)
address = json.loads(Path(scheduler_file).read_text())["address"]
procs += [
    subprocess.Popen(
        [
            dask_cli,
            "worker",
            address,
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            folder,
        ],
        **quiet,
    )
    for _ in range(2)
]
client = Client(address)  # or, without a Client of your own: nbp.config(dask_address=address)
client.wait_for_workers(2, timeout=60)
print("connected to a scheduler on 127.0.0.1 with", len(client.nthreads()), "workers")

# %%
print(nbp.pmap(bogosort, rows, backend="dask", progress=False) == local)


# %% [markdown]
# Cancel and timeouts stop a chunk running on a remote worker, even one stuck in
# a Python loop that never returns: the worker's thread gets an exception. A call
# in native code that never comes back to Python cannot be interrupted: at its
# timeout (or 1.5 s after a cancel) its task is *released*, the job goes on, and
# that worker thread stays busy until the call returns.


# %%
def stuck(x):
    while True:
        pass


began = time.monotonic()
try:
    nbp.pmap(stuck, [1], timeout=2, backend="dask", progress=False)
except nbp.ChunkTimeout as err:
    print(type(err).__name__, "after less than 8 s:", time.monotonic() - began < 8)

job = nbp.pmap(stuck, range(2), chunks=2, backend="dask", background=True, progress=False)
time.sleep(1)
asked = time.monotonic()
job.cancel()
job.wait()
print(job.status, "within 5 s:", time.monotonic() - asked < 5)

# %% [markdown]
# ## What behaves differently on dask
#
# - **Errors, retries, seeds, worker output, finished results kept, the cache**
#   (read and written here, in the kernel): the same.
# - **A worker that dies**: its chunk runs again with `retries=` (a default
#   scheduler may also re-run it by itself first). nbparallel never kills dask
#   workers.
# - **Data**: the function is packed once per call (scattered once when large);
#   each chunk over 1 MiB is scattered straight to a worker. Nothing goes through
#   `/dev/shm` or a shared file system.

# %%
client.close()
for p in procs[::-1]:
    p.terminate()
for p in procs:
    p.wait(30)
import shutil

shutil.rmtree(folder, ignore_errors=True)
