"""Write the demo notebooks from their cell sources (run, then execute with nbclient).

    python notebooks/make_notebooks.py            # writes notebooks/*.ipynb without outputs
    jupyter nbconvert --execute --inplace ...     # or: make notebooks

Kept as code so the notebooks' sources can be reviewed as plain diffs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).parent


def md(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip())


def code(text: str, *tags: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


QUICKSTART = [
    md("""
# nbparallel quick start

A slow cell, the hand-written joblib recipe people usually write for it, and the
same work with `nbp.pmap` and `nbp.pmap_chunks`. Every parallel result is checked
against the sequential one. Timings differ from machine to machine (this notebook
is tested with them masked); the claims in the README come from
`python -m nbparallel bench`.
"""),
    code("""
import itertools
import random
import time

import numpy as np
from joblib import Parallel, delayed

import nbparallel as nbp

nbp.config(progress=False)  # keeps this notebook's saved outputs stable; try progress=True
n_jobs = 2
"""),
    md("""
## A slow function, defined right here in the notebook

`bogosort` shuffles a row until it is sorted: about 7! = 5040 shuffles for a row of 7.
Functions, lambdas and closures defined in a notebook work with `pmap`
(`multiprocessing.Pool` cannot pickle them).
"""),
    code("""
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
"""),
    md("""
## The hand-written recipe

Split into `n_jobs` pieces, run them with `joblib.Parallel`, glue the pieces back.
Eight lines, no progress, and a bad split when items cost different amounts.
"""),
    code("""
def sort_part(part):
    return [bogosort(r) for r in part]

start = time.perf_counter()
parts = np.array_split(rows, n_jobs)
results = Parallel(n_jobs=n_jobs)(delayed(sort_part)(p) for p in parts)
by_recipe = list(itertools.chain.from_iterable(results))
recipe = time.perf_counter() - start
print(f"recipe: {recipe:.2f} s, same result: {by_recipe == expected}")
"""),
    md("## The same with `pmap`: one call, order kept"),
    code("""
start = time.perf_counter()
by_pmap = nbp.pmap(bogosort, rows, n_jobs=n_jobs)
elapsed = time.perf_counter() - start
print(f"pmap: {elapsed:.2f} s, same result: {by_pmap == expected}")
"""),
    md("""
## Uneven work

Item `i` costs `i` units. The recipe gives the second worker three quarters of the
work; `pmap` makes chunks that shrink as the work runs out, so both workers stay
busy to the end.
"""),
    code("""
def skewed(i):
    total = 0
    for k in range(i * 2000):
        total += k
    return total

items = list(range(200))
start = time.perf_counter(); expected = [skewed(i) for i in items]; t_seq = time.perf_counter() - start
start = time.perf_counter()
by_recipe = list(itertools.chain.from_iterable(
    Parallel(n_jobs=n_jobs)(delayed(lambda p: [skewed(i) for i in p])(p) for p in np.array_split(items, n_jobs))
))
t_recipe = time.perf_counter() - start
start = time.perf_counter(); by_pmap = nbp.pmap(skewed, items, n_jobs=n_jobs); t_pmap = time.perf_counter() - start
print(f"recipe correct: {by_recipe == expected}, pmap correct: {by_pmap == expected}")
print(f"speed-up over sequential: recipe {t_seq / t_recipe:.2f}x, pmap {t_seq / t_pmap:.2f}x")
"""),
    md("""
## Whole chunks: `pmap_chunks`

The function gets a whole chunk (a view of the array, a slice of the list, rows of
a DataFrame) and the results are merged back into the input's kind.
"""),
    code("""
big = np.arange(1_000_000, dtype=np.float64)
doubled = nbp.pmap_chunks(lambda chunk: chunk * 2, big, n_jobs=n_jobs)
print(type(doubled).__name__, doubled.shape, np.array_equal(doubled, big * 2))

total = nbp.pmap_chunks(np.sum, big, merge="sum", n_jobs=n_jobs)
print(total == big.sum())
"""),
    md("""
## Errors say where

The original exception type comes back (so `except ValueError` works), with a note
naming the chunk and the item, and the worker's traceback.
"""),
    code("""
def parse(text):
    return int(text)

try:
    nbp.pmap(parse, ["1", "2", "three", "4"], chunks=2, n_jobs=n_jobs)
except ValueError as err:
    print(type(err).__name__, err)
    print(*err.__notes__, sep="\\n")
"""),
]

CHOOSING_K = [
    md("""
# Choosing k for KMeans, in parallel and correctly

The data: `make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)`,
so the right answer is 7. First the recipe often copied into notebooks, then
nbparallel's searches. Every fit, every gap reference set and every stability
split runs on a worker; `X` is shared through one memory-mapped file; each task
gets its own seed from `np.random.SeedSequence`.
"""),
    code("""
%matplotlib inline
import numpy as np
from sklearn.datasets import make_blobs

import nbparallel as nbp

X, _ = make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)
ks = range(2, 15)
"""),
    md("""
## The recipe that goes wrong

"The elbow is where the silhouette jumps most": `argmax(diff(silhouette)) + 1`.
The biggest *jump* is not the best *value*: differences of a curve say where it
rises fastest, not where it peaks.
"""),
    code("""
search = nbp.silhouette_search(X, k=ks, progress=False)
jumps = np.diff(search.scores["silhouette"])
wrong_k = search.k[int(np.argmax(jumps)) + 1]
print("argmax(diff(silhouette)) says k =", wrong_k)
print("the highest silhouette is at k =", search.best_k)
"""),
    md("""
## The elbow: Kneedle on the inertia curve

The inertia curve is convex and decreasing; its knee is found with the Kneedle
method (Satopaa et al. 2011). The curve starts at k = 1 (the total sum of
squares), so the knee can be the first k of the range. `plot()` returns the Figure.
"""),
    code("""
elbow = nbp.elbow_search(X, k=ks, progress=False)
print("knee at k =", elbow.best_k)
elbow.plot()
"""),
    md("""
## All criteria at once, and one answer

One fit per k (the best of three k-means++ runs) is scored by the knee of
inertia, the silhouette (on one shared subsample), Calinski-Harabasz,
Davies-Bouldin, and the BIC and ICL of a Gaussian mixture whose clusters share
one covariance (the ICL is the BIC plus the entropy of the cluster
memberships: it counts well-separated clusters, the BIC counts components). The
gap statistic (Tibshirani, Walther & Hastie 2001, with the 1-SE rule from its
largest gap) clusters uniform reference sets, one task each; prediction strength
(Tibshirani & Walther 2005) clusters random halves.

`best_k` is a majority vote, as R's NbClust takes over its indices, in which
criteria that fail alike share one vote. The families are the mixture (BIC and
ICL), k-means' partition (Calinski-Harabasz, silhouette, Davies-Bouldin), the
knee, the gap and prediction strength; each has one vote, split between its
members' picks. "No structure" (1) is one more candidate, backed by the
criteria that can say so (ICL, gap, prediction strength). So no family outvotes
all the others: a mixture that splits stretched clusters into many Gaussians,
or a gap that sees nothing in overlapping clusters, is outvoted. A pick of the
largest k tried says "at least this many": when it wins, it is reported as a
bound. `confidence`, `reason` and `split` (which criterion picked what) say when
the answer is weak.
"""),
    code("""
res = nbp.choose_k(X, k=ks, progress=False)
print("picks:", res.picks)
print("best_k:", res.best_k, "agreement:", res.agreement, "confidence:", res.confidence)
res.plot()
"""),
    code("""
columns = ["inertia", "gap", "silhouette", "calinski_harabasz", "davies_bouldin", "bic", "icl", "prediction_strength"]
res.to_frame()[columns].round(3)
"""),
    md("""
## No structure, and a range that is too small

On a uniform cube there are no clusters: `best_k` is 1 and `reason` says so,
instead of the top of the range. One stretched Gaussian is one cluster too:
criteria built on sums of squares cut it along its long axis, the BIC's shared
covariance does not. An answer at an end of the range is a bound, not an
answer: `edge` says which end, and `reason` gives a wider range to try.
"""),
    code("""
rng = np.random.default_rng(0)
cube = rng.uniform(size=(2000, 5))
none = nbp.choose_k(cube, progress=False)
print(none.best_k, "-", none.reason)
stretched = nbp.choose_k(rng.normal(size=(600, 2)) @ np.array([[3.0, 2.5], [0.0, 0.5]]), progress=False)
print(stretched.best_k, stretched.picks)
narrow = nbp.choose_k(X, k=range(2, 6), progress=False)
print(narrow.best_k, narrow.confidence, "-", narrow.reason)
"""),
    md("""
## How stable are the picks?

With `n_repeats`, every k is fitted with several seeds; the table gets a spread
per score and `stability` tells how often each k won per criterion.
"""),
    code("""
stable = nbp.choose_k(X, k=range(5, 10), n_repeats=3, progress=False)
print(stable.best_k, stable.stability["calinski_harabasz"])
"""),
]

CELL_MAGIC = [
    md("""
# `%%parallel`: a slow cell, made parallel without rewriting it

`%load_ext nbparallel` registers the magics. `--split` names the notebook
variables to partition; inside the body each is bound to one chunk. `--out`
names what the body assigns; the chunks' values are merged and assigned in the
notebook. Functions and constants the body uses are sent to the workers (only
those). `%%parallel?` shows every option.
"""),
    code("""
%load_ext nbparallel
import random
import time
import numpy as np

def bogosort(row):
    row = [int(v) for v in row]
    while any(a > b for a, b in zip(row, row[1:])):
        random.shuffle(row)
    return row

bigdata = np.random.default_rng(0).integers(0, 100, size=(200, 7))
"""),
    md("## The sequential cell"),
    code("""
start = time.perf_counter()
sorted_rows = [bogosort(r) for r in bigdata]
sequential = time.perf_counter() - start
expected = sorted_rows
print(f"{len(sorted_rows)} rows sorted in {sequential:.2f} s")
"""),
    md("## The same cell, parallel: one line added"),
    code("""
%%parallel --split bigdata --out sorted_rows --no-progress
sorted_rows = [bogosort(r) for r in bigdata]
"""),
    code("""
print("same result as the sequential cell:", sorted_rows == expected)
"""),
    md("""
## A DataFrame, and what the body prints

DataFrames are split by rows (index kept) and merged with `pd.concat`. What the
body prints shows up here, labelled by chunk.
"""),
    code("""
import pandas as pd
df = pd.DataFrame({"x": np.arange(12), "label": list("abcdefghijkl")})
"""),
    code("""
%%parallel --split df --out scored --chunks 3 --no-progress
print("rows", df.index[0], "to", df.index[-1])
scored = df.assign(score=df.x ** 2)
"""),
    code("""
scored
"""),
    md("""
## In the background: `--bg`

The cell returns at once; the job is stored in `_job` (or `--name`), and the
`--out` variables are assigned when it finishes.
"""),
    code(
        """
%%parallel --split bigdata --out bg_rows --bg --name sort_job
bg_rows = [bogosort(r) for r in bigdata]
""",
        "nbval-ignore-output",
    ),
    code("""
print("the kernel is free; job done yet?", sort_job.done())
"""),
    code("""
sort_job.result()
print(sort_job.status, bg_rows == expected)
"""),
    md("""
## Groups: never split one across chunks

A `groupby` in a split cell runs on each chunk. When a group's rows land in two
chunks, each half is summarised on its own and the halves are concatenated: the
result has repeated keys and wrong values. nbparallel warns when merged results
look like that.
"""),
    code("""
import nbparallel as nbp
rng = np.random.default_rng(1)
sales = pd.DataFrame({"shop": rng.integers(0, 10, 1000), "amount": rng.gamma(2.0, 10.0, 1000)})
"""),
    code(
        """
%%parallel --split sales --out per_shop -n 2 --no-progress
per_shop = sales.groupby("shop").amount.mean()
""",
        "nbval-ignore-output",
    ),
    code("""
print(len(per_shop), "rows for", sales.shop.nunique(), "shops")
"""),
    md("""
`--by shop` keeps every shop's rows in one chunk (big groups first, so they do
not leave a worker idle at the end). The body is unchanged and the result equals
the whole-data one; row-wise outputs come back in the input's order.
"""),
    code("""
%%parallel --split sales --by shop --out per_shop -n 2 --no-progress
per_shop = sales.groupby("shop").amount.mean()
"""),
    code("""
print(len(per_shop), np.allclose(per_shop, sales.groupby("shop").amount.mean()))
"""),
    md("The same as a function call: `nbp.pmap_groups(func, df, by)` equals `df.groupby(by).apply(func)`."),
    code("""
top2 = nbp.pmap_groups(lambda g: g.nlargest(2, "amount"), sales, "shop", n_jobs=2, progress=False)
print(top2.equals(sales.groupby("shop").apply(lambda g: g.nlargest(2, "amount"))))
"""),
    md("## State and defaults: `%nbparallel`"),
    code("""
%nbparallel config progress=auto
"""),
]

NOTHING_LOST = [
    md("""
# Nothing lost

An hour of parallel work must not vanish because one chunk failed, a worker died,
a chunk hung, or the kernel restarted.
"""),
    code("""
import os
import random
import tempfile
import time

import nbparallel as nbp

def parse(text):
    return int(text)

data = ["1", "2", "3", "4", "five", "6", "7", "8"]
"""),
    md("""
## A failing chunk: the error says where, the finished chunks stay

The original exception type comes back (`except ValueError` works). The job is
reachable from the exception (`err.job`) or with `nbp.last_job()`.
"""),
    code("""
try:
    nbp.pmap(parse, data, chunks=4, n_jobs=2, progress=False)
except ValueError as err:
    job = err.job
    print(type(err).__name__, "-", err.__notes__[0])
print(job.status, "| finished chunks kept:", job.n_ok, "of", job.n_total)
"""),
    code("""
part = job.partial_result()
print("values:", part.value)
print("items covered:", part.items, "missing:", part.missing)
"""),
    md("## Fix the function, run only what is missing"),
    code("""
def parse(text):
    words = {"five": 5}
    return words[text] if text in words else int(text)

print(job.retry_failed(parse), job.status)
"""),
    md("""
## Retries and timeouts

`retries=N` runs a failing chunk again (flaky I/O); `timeout=` stops a chunk that
runs too long and names it. The worker is interrupted, not killed, so the pool
stays warm.
"""),
    code("""
def slow_or_stuck(seconds):
    time.sleep(seconds)
    return seconds

try:
    nbp.pmap(slow_or_stuck, [0.1, 0.1, 60, 0.1], chunks=4, n_jobs=2, timeout=1.0, progress=False)
except nbp.ChunkTimeout as err:
    print(err)
    print("kept:", err.job.partial_result().value)
"""),
    md("""
## Checkpoints: resume after a crash or a kernel restart

With `cache=` every finished chunk is stored on disk, keyed by the function's
code and the chunk's data. Here the first run is cancelled half-way (it could as
well have been a kernel restart); the second computes only what is missing.
"""),
    code("""
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
"""),
    code("""
again = nbp.pmap(slow_square, range(16), chunks=16, n_jobs=2, cache=cache_dir, progress=False)
job = nbp.last_job()
print(again == [x * x for x in range(16)], "| read from the cache:", job.n_cached > 0,
      "| computed now:", job.n_total - job.n_cached < 16)
"""),
    md("""
## Reproducible randomness

With `seed=`, each item runs with `random` and NumPy seeded from
`SeedSequence(seed, spawn_key=(item index,))`: a bogosort that calls
`random.shuffle` gives the same answer *and the same number of shuffles* for any
`n_jobs`, chunking and backend, and the same as a sequential loop using
`nbp.seed_item`.
"""),
    code("""
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
"""),
    code("""
import shutil
shutil.rmtree(cache_dir)  # tidy up the demo's cache folder
"""),
]

SCALE_OUT = [
    md("""
# Scale out on dask.distributed

The same `pmap`, `pmap_chunks`, `%%parallel` and `choose_k`, on a dask cluster:
only the backend changes. Here a `LocalCluster` (two worker processes on
127.0.0.1); for a real cluster, connect a `Client` to its scheduler
(`Client("tcp://scheduler:8786")`) or set `nbp.config(dask_address=...)`.
Needs the extra: `pip install 'nbparallel[dask]'`.
"""),
    code("""
import time
import numpy as np
from dask.distributed import Client, LocalCluster
import nbparallel as nbp

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       host="127.0.0.1", dashboard_address=None, silence_logs=40)
client = Client(cluster)
print("workers:", len(client.nthreads()), "| threads:", sum(client.nthreads().values()))
"""),
    md('## The same calls, `backend="dask"`'),
    code("""
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
"""),
    md('Or make dask the default for a block (or for the session with `nbp.config(backend="dask")`):'),
    code("""
from sklearn.datasets import make_blobs
X, _ = make_blobs(n_samples=2000, n_features=20, centers=5, cluster_std=0.8, random_state=7)
with nbp.config(backend="dask"):
    res = nbp.choose_k(X, k=range(2, 10), progress=False)
print(res.picks, "->", res.best_k)
"""),
    code("""
%load_ext nbparallel
"""),
    code("""
%%parallel --split rows --out sorted_rows --backend dask --no-progress
sorted_rows = [bogosort(r) for r in rows]
"""),
    code("""
print(sorted_rows == local)
"""),
    code("""
client.close()
cluster.close()
"""),
    md("""
## A cluster at a scheduler address

A real cluster is a `dask scheduler` and `dask worker` processes, usually on
other machines: nothing nbparallel sends them names a file on this one. Here
we start one with dask's own command line on 127.0.0.1 (as you would on each
host) and point nbparallel at the scheduler's address.
"""),
    code("""
import json, os, subprocess, sys, tempfile
from pathlib import Path

dask_cli = str(Path(sys.executable).with_name("dask"))
folder = tempfile.mkdtemp()
scheduler_file = os.path.join(folder, "scheduler.json")
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                           "--scheduler-file", scheduler_file], **quiet)]
while not os.path.exists(scheduler_file):
    time.sleep(0.1)
time.sleep(0.2)
address = json.loads(Path(scheduler_file).read_text())["address"]
procs += [subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                            "--no-dashboard", "--local-directory", folder], **quiet) for _ in range(2)]
client = Client(address)  # or, without a Client of your own: nbp.config(dask_address=address)
client.wait_for_workers(2, timeout=60)
print("connected to a scheduler on 127.0.0.1 with", len(client.nthreads()), "workers")
"""),
    code("""
print(nbp.pmap(bogosort, rows, backend="dask", progress=False) == local)
"""),
    md("""
Cancel and timeouts stop a chunk running on a remote worker, even one stuck in
a Python loop that never returns: the worker's thread gets an exception. A call
in native code that never comes back to Python cannot be interrupted: at its
timeout (or 1.5 s after a cancel) its task is *released*, the job goes on, and
that worker thread stays busy until the call returns.
"""),
    code("""
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
job.cancel(); job.wait()
print(job.status, "within 5 s:", time.monotonic() - asked < 5)
"""),
    md("""
## What behaves differently on dask

- **Errors, retries, seeds, worker output, finished results kept, the cache**
  (read and written here, in the kernel): the same.
- **A worker that dies**: its chunk runs again with `retries=` (a default
  scheduler may also re-run it by itself first). nbparallel never kills dask
  workers.
- **Data**: the function is packed once per call (scattered once when large);
  each chunk over 1 MiB is scattered straight to a worker. Nothing goes through
  `/dev/shm` or a shared file system.
"""),
    code("""
client.close()
for p in procs[::-1]:
    p.terminate()
for p in procs:
    p.wait(30)
import shutil
shutil.rmtree(folder, ignore_errors=True)
"""),
]

BACKGROUND = [
    md("""
# Background jobs: keep working while the workers compute

`background=True` returns a `Job` at once. Its widget (bar, a line of text,
Cancel, and an output area for what the workers print) lives in the cell that
started it and keeps updating while you run other cells.

*(Cells that display a live widget are excluded from the saved-output check.)*
"""),
    code("""
import time
import nbparallel as nbp

def slow(x):
    print("working on", x)
    time.sleep(0.4)
    return x * x
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
job = nbp.pmap(slow, range(20), chunks=10, background=True)
job
"""),
    md("The kernel is free: this cell runs while the job works."),
    code("""
print("2 + 2 =", 2 + 2, "| job finished already?", job.done())
"""),
    code("""
result = job.result()          # waits; or `await job`
print(result == [x * x for x in range(20)], job.status, f"{job.n_done}/{job.n_total} chunks")
"""),
    md("What the workers printed is kept on the job too, labelled by chunk:"),
    code("""
print(job.output.splitlines()[:4])
"""),
    md("""
## Cancel

The Cancel button or `job.cancel()`: running chunks are interrupted within a
second or two, queued ones never start, finished chunks are kept, and the workers
stay warm for the next call.
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
long_job = nbp.pmap(slow, range(200), chunks=100, background=True)
time.sleep(1.5)
long_job.cancel()
"""),
    code("""
try:
    long_job.result()
except nbp.JobCancelled:
    print("status:", long_job.status)
print("the next call works at once:", nbp.pmap(abs, [-1, -2, -3], progress=False))
"""),
    md("""
## Errors in the background

The job fails with the chunk's own exception, a note naming the chunk and item,
and the worker traceback.
"""),
    code("""
def parse(text):
    return int(text)

bad = nbp.pmap(parse, ["1", "2", "x", "4"], chunks=2, background=True, progress=False)
try:
    bad.result()
except ValueError as err:
    print(err)
    print(err.__notes__[0])
print(bad.status, [e.index for e in bad.errors])
"""),
    md("## `await`, and threads for I/O-bound work"),
    code("""
squares = await nbp.pmap(lambda x: x * x, range(5), background=True, progress=False)
print(squares)

def fetch(i):
    time.sleep(0.2)   # stands in for a network call: threads suit I/O
    return f"page {i}"

print(nbp.pmap(fetch, range(6), backend="threading", n_jobs=6, progress=False))
"""),
]

STREAMING = [
    md("""
# Streaming, keep-going errors, per-worker setup

Three things this notebook shows: `nbp.imap` hands out results as they finish
while reading its input lazily (so it works on endless or huge inputs);
`errors="collect"` keeps going past failing items; `@nbp.per_worker` computes a
setup (a model, a connection) once per worker process and reuses it.
"""),
    code("""
import itertools
import os
import shutil
import tempfile
import time
import warnings

import nbparallel as nbp

nbp.config(progress=False)  # keeps the saved outputs stable; try progress=True
n_jobs = 2
"""),
    md("""
## `imap`: results as they finish, input read lazily

The input below is an endless generator. `imap` reads only a few chunks per
worker ahead, so breaking out of the loop is fine: the rest is cancelled and
the workers go idle at once.
"""),
    code("""
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
print(n, "records, total", total, "== sequential:", total == sum(parse(l) for l in itertools.islice(lines(), 1000)))
print("the rest:", nbp.last_job().wait(2) and nbp.last_job().status)
"""),
    md("""
The first result arrives about one item's time after the call: chunks start
with one item and grow while items are cheap. `ordered=False` hands results
out in the order they finish.
"""),
    code("""
def slow_square(x):
    time.sleep(0.2)
    return x * x

began = time.perf_counter()
stream = nbp.imap(slow_square, range(20), n_jobs=n_jobs)
first = next(stream)
print("first result", first, "within 1 s:", time.perf_counter() - began < 1)
print(sorted([first, *stream]) == [x * x for x in range(20)])
print(sorted(nbp.imap(slow_square, range(8), n_jobs=n_jobs, ordered=False)))
"""),
    md("""
## `errors="collect"`: keep going

A failing item becomes an `nbp.Failed` record in its place (the exception, the
item's index and a short repr, the worker traceback); every other item is
computed, and one line says how many failed. `job.retry_failed(fixed)` reruns
only those items.
"""),
    code("""
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
"""),
    md("""
## `@nbp.per_worker`: set up once per worker

The setup below stands in for loading a model: it runs once in each worker
process and is reused by every chunk of both calls (it runs again only if its
code or the globals it reads change).
"""),
    code("""
setup_log = os.path.join(tempfile.mkdtemp(), "setups")

@nbp.per_worker
def model():
    with open(setup_log, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    return {"weight": 3}

def predict(x):
    return model()["weight"] * x

print(nbp.pmap(predict, range(40), chunks=20, n_jobs=n_jobs)[:5])
print(nbp.pmap(predict, range(40), chunks=20, n_jobs=n_jobs)[-5:])
runs = open(setup_log).read().split()
print("setups:", len(runs), "| once per worker:", len(runs) == len(set(runs)) <= n_jobs)
shutil.rmtree(os.path.dirname(setup_log))  # tidy up the demo's log
"""),
]

TIMELINE = [
    md("""
# Where the time went: timeline and report

A skewed workload: the first ten items are slow, the rest quick. Split into
four even chunks, the first chunk gets all the slow items, and one worker
computes while the other waits. The job's timeline and report show it, and say
what to do. (Timings differ from machine to machine; this notebook is tested
with them masked.)
"""),
    code("""
import time

import nbparallel as nbp

nbp.config(progress=False)  # keeps the saved outputs stable; try progress=True and open "details"
n_jobs = 2
_ = nbp.warm(n_jobs, wait=True)  # a cold pool would show up in the report as start-up time

def work(i):
    time.sleep(0.12 if i < 10 else 0.02)
    return i * i

job = nbp.pmap(work, range(40), n_jobs=n_jobs, chunks=4, background=True)
print(job.result() == [i * i for i in range(40)])
"""),
    md("""
## The timeline: a row per chunk

When each chunk was queued, started and ended (wall clock, one time base for
all workers), on which worker, how long it took to send its inputs, compute,
and send its result back, the bytes each way, and how it ended.
"""),
    code("""
df = job.timeline()
print(len(df), "rows:", ", ".join(df.columns))
print("items per chunk:", df["items"].tolist(), "| outcomes:", df["outcome"].unique().tolist())
print("every chunk inside the job's wall time:",
      bool(((df["started"] >= df.attrs["job_started"]) & (df["ended"] <= df.attrs["job_ended"])).all()))
"""),
    md("""
## The report

Wall time, the speed-up over the sum of the chunk times, each worker's
utilisation, the share of time spent moving data, and the five slowest chunks.
"""),
    code(
        """
report = job.report()
report
""",
        "nbval-ignore-output",
    ),
    md("""
The plain mistake, in one line, with a fix:
"""),
    code(
        """
straggler = [a.text for a in report.advice if a.kind == "straggler"]
print(*straggler, sep="\\n")
""",
        "nbval-ignore-output",  # which chunks queue behind the slow one depends on timing
    ),
    md("""
A Gantt chart: one row per worker, each chunk a bar coloured by how it ended,
transfers hatched at the ends of the bars.
"""),
    code("""
_ = report.plot()
"""),
    md("""
## The fix

With `chunk_size=1` the slow items spread over both workers.
"""),
    code("""
fixed = nbp.pmap(work, range(40), n_jobs=n_jobs, chunk_size=1, background=True)
print(fixed.result() == job.result())
print("a straggler left:", any(a.kind == "straggler" for a in fixed.report().advice))
print(f"wall time: {report.wall_s:.1f} s before, {fixed.report().wall_s:.1f} s after")
"""),
]

PANDAS = [
    md("""
# pandas: the pandarallel drop-in and `df.parallel`

pandarallel 1.6.5 does not import on pandas 3. Changing its import line to
nbparallel's is the whole switch; for new code there is a `parallel` accessor
with nbparallel's run options. Every parallel result below is checked `.equals`
to pandas' own.
"""),
    code("""
import time

import numpy as np
import pandas as pd

import nbparallel as nbp
from nbparallel import pandarallel  # was: from pandarallel import pandarallel

nbp.config(progress=False)  # keeps this notebook's saved outputs stable
pandarallel.initialize(nb_workers=2, progress_bar=False)  # progress_bar=True shows the widget
print("pandas", pd.__version__)
"""),
    md("""
## Row-wise `apply`: a slow row function

Each worker runs pandas' own `chunk.apply(f, axis=1)` on a chunk of rows, so the
result has pandas' index, name and dtype.
"""),
    code("""
rng = np.random.default_rng(0)
df = pd.DataFrame({"price": rng.uniform(1, 100, 4000), "qty": rng.integers(1, 20, 4000),
                   "shop": rng.choice(["north", "south", "east", "west"], 4000)})

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
"""),
    md("""
## `map`, with a function or a dict, and rolling windows across chunk borders
"""),
    code("""
s = df.shop
print(s.parallel_map(str.upper).equals(s.map(str.upper)))
print(s.parallel_map({"north": 1, "south": 2}).equals(s.map({"north": 1, "south": 2})))
print(df[["price", "qty"]].parallel_applymap(round).equals(df[["price", "qty"]].map(round)))

spread = lambda w: w.max() - w.min()
print(df.price.rolling(50).parallel_apply(spread, raw=True).equals(df.price.rolling(50).apply(spread, raw=True)))
"""),
    md("""
## Groupby: `parallel_apply`, `rolling`, `expanding`
"""),
    code("""
summary = lambda g: pd.Series({"revenue": (g.price * g.qty).sum(), "orders": len(g)})
print(df.groupby("shop").parallel_apply(summary).equals(df.groupby("shop").apply(summary)))
print(df.groupby("shop").rolling(10).parallel_apply(spread, raw=True)
      .equals(df.groupby("shop").rolling(10).apply(spread, raw=True)))
print(df.groupby("shop").expanding().parallel_apply(spread, raw=True)
      .equals(df.groupby("shop").expanding().apply(spread, raw=True)))
df.groupby("shop").parallel_apply(summary)
"""),
    md("""
## An error names its row

The row's own exception comes back, catchable by its type, with a note that says
which row failed.
"""),
    code("""
def fragile(row):
    if row.name == 1234:
        raise ValueError("bad row")
    return row.qty

try:
    df.parallel_apply(fragile, axis=1)
except ValueError as exc:
    print("ValueError:", exc)
    print(exc.__notes__[0])
"""),
    md("""
## New code: `df.parallel` and `s.parallel`

The accessor takes the pandas method's arguments and nbparallel's run options:
`n_jobs`, `progress`, `background`, `errors`, `timeout`, `retries`. With
`background=True` it returns a job at once and the kernel stays free.
"""),
    code("""
revenue = df.parallel.apply(lambda r: r.price * r.qty, axis=1, n_jobs=2)
print(revenue.equals(df.apply(lambda r: r.price * r.qty, axis=1)))

job = df.parallel.apply(score, axis=1, background=True)
print("returned at once:", job.status in ("pending", "running", "done"))
print(job.result().equals(expected))

per_shop = df.groupby("shop").pipe(nbp.groupby_apply, summary, n_jobs=2)
print(per_shop.equals(df.groupby("shop").apply(summary)))
"""),
]


SCIKIT_LEARN = [
    md("""
# scikit-learn's `n_jobs` on nbparallel

`import nbparallel` registers a joblib backend called `"nbparallel"`. Select it
with `joblib.parallel_config`, and every `joblib.Parallel` call runs on nbparallel's
warm pool, scikit-learn's `n_jobs` included (GridSearchCV, cross_val_score,
RandomForest, permutation_importance...). Each call that runs longer than about a
second shows nbparallel's widget (tasks done and dispatched, elapsed time, Cancel);
worker prints land in the cell; Ctrl-C (the stop button) returns at once and stops
the workers.

*(Cells that display a live widget are excluded from the saved-output check.)*
"""),
    code("""
import time

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC

import nbparallel as nbp

joblib.parallel_config(backend="nbparallel")  # from now on, in this notebook
X, y = make_classification(n_samples=1500, n_features=20, random_state=0)
"""),
    md("""
## GridSearchCV with the widget

Each fit of the search is one joblib task; joblib batches them and nbparallel runs
the batches. `n_jobs=2` means what it means to joblib.
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": ["scale", 0.01, 0.1]}, cv=5, n_jobs=2)
search.fit(X, y)
"""),
    code("""
print(search.best_params_, round(search.best_score_, 3))
"""),
    md("""
## In the background, with Cancel

`nbp.background(fn, *args)` runs any callable on a kernel thread, its joblib calls on
nbparallel: the cell returns at once and other cells run. `result()` (or `await job`)
gives what `fn` returned; `cancel()` stops its tasks, and `result()` then raises
`JobCancelled`. The pool stays warm.
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
job = nbp.background(search.fit, X, y)
job
"""),
    code("""
print("this cell ran while the search works; done already?", job.done())
fitted = job.result()
print(fitted is search, job.status, search.best_params_)
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
big = GridSearchCV(SVC(), {"C": np.logspace(-2, 3, 12), "gamma": ["scale", 0.01, 0.1]}, cv=5, n_jobs=2)
long_job = nbp.background(big.fit, X, y)
time.sleep(2)
long_job.cancel()
"""),
    code("""
try:
    long_job.result()
except nbp.JobCancelled:
    print("status:", long_job.status)
"""),
    md("## cross_val_score"),
    code("""
scores = cross_val_score(SVC(), X, y, cv=5, n_jobs=2)
print(np.round(scores, 3))
"""),
    md("""
## RandomForestClassifier(n_jobs=...)

The trees are fitted on the pool (joblib's `prefer="threads"` hint gives way to the
backend you chose); prediction, which needs shared memory, stays in threads.
"""),
    code("""
forest = RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=0).fit(X, y)
print("training accuracy:", forest.score(X, y))
_ = joblib.parallel_config(backend="loky")  # back to joblib's default for the rest of the session
"""),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_cell_magic.ipynb": CELL_MAGIC,
    "03_choosing_k.ipynb": CHOOSING_K,
    "04_nothing_lost.ipynb": NOTHING_LOST,
    "05_scale_out.ipynb": SCALE_OUT,
    "06_background_jobs.ipynb": BACKGROUND,
    "07_streaming.ipynb": STREAMING,
    "08_timeline.ipynb": TIMELINE,
    "09_pandas.ipynb": PANDAS,
    "10_scikit_learn.ipynb": SCIKIT_LEARN,
}


def build(name: str, cells: list, execute: bool = True) -> Path:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = HERE / name
    if execute:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    wanted = sys.argv[1:] or list(NOTEBOOKS)
    for name in wanted:
        print("wrote", build(name, NOTEBOOKS[name]))
