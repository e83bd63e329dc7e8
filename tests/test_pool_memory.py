"""Idle workers cost only what the user uses: no k-search imports until the k-search is reached for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nbparallel.bench.memory import TARGET, bench_idle_memory
from tests.helpers import child_env


def test_an_idle_worker_nobody_asked_to_warm_up_is_as_light_as_a_plain_loky_worker():
    m = bench_idle_memory(2)  # one fresh process that imported scikit-learn, warmed the pool, ran a pmap
    assert not m.sklearn_in_workers
    assert m.ratio <= TARGET, m.as_dict()


LOOKUP = """
import sys, time
import sklearn
import nbparallel as nbp

def loaded(_):
    return "sklearn.cluster" in sys.modules

nbp.warm(2, wait=True)
before = nbp.pmap(loaded, range(2), n_jobs=2, progress=False)
nbp.choose_k  # reached for: the workers import the k-search in the background
deadline = time.monotonic() + 120
while not all(after := nbp.pmap(loaded, range(8), n_jobs=2, chunks=8, progress=False)) and time.monotonic() < deadline:
    time.sleep(0.2)
nbp.shutdown()
nbp.warm(2, wait=True)  # a new pool: its workers run the warm-up as they start
print(any(before), all(after), all(nbp.pmap(loaded, range(4), n_jobs=2, chunks=4, progress=False)))
nbp.shutdown()
"""


def test_the_k_search_warms_the_workers_once_it_is_looked_up():
    done = subprocess.run(
        [sys.executable, "-c", LOOKUP], capture_output=True, text=True, timeout=300, env=child_env(), check=True
    )
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


CLUSTERING = """
import sys, time
MODE = sys.argv[1]
if MODE == "script-imports-first":
    from sklearn.cluster import KMeans  # a script that clusters imports this at its top
import nbparallel as nbp

def loaded(_):
    return "sklearn.cluster" in sys.modules

def all_loaded():  # the workers import in the background: ask until every chunk's worker has it
    deadline = time.monotonic() + 120
    while not all(seen := nbp.pmap(loaded, range(8), n_jobs=2, chunks=8, progress=False)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return all(seen)

if MODE == "script-imports-first":
    nbp.warm(2, wait=True)  # the workers ran the k-search's warm-up as they started
    print(all(nbp.pmap(loaded, range(4), n_jobs=2, chunks=4, progress=False)))
elif MODE == "script-imports-later":
    nbp.warm(2, wait=True)
    before = any(nbp.pmap(loaded, range(2), n_jobs=2, progress=False))
    from sklearn.cluster import KMeans
    print(not before and all_loaded())  # the next call asks for it
else:  # a notebook: the cell that imports it asks, no call needed
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbparallel")
    nbp.warm(2, wait=True)
    before = any(nbp.pmap(loaded, range(2), n_jobs=2, progress=False))
    ip.run_cell("from sklearn.cluster import KMeans")
    workers = nbp.backends.worker_pids()
    deadline = time.monotonic() + 120
    import psutil
    def imported(pid):  # read from outside: no call made
        return any("sklearn/cluster" in m.path for m in psutil.Process(pid).memory_maps())
    while not all(map(imported, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(not before and all(map(imported, workers)) and workers == nbp.backends.worker_pids())
nbp.shutdown()
"""


@pytest.mark.parametrize("mode", ["script-imports-first", "script-imports-later", "notebook-cell"])
def test_a_process_that_imported_sklearn_cluster_gets_workers_ready_for_choose_k_before_calling_it(mode):
    done = subprocess.run(
        [sys.executable, "-c", CLUSTERING, mode],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
        check=True,
    )
    assert done.stdout.split() == ["True"], done.stderr


LIGHT = """
import os, sys
import nbparallel as nbp

KERNEL_SIDE = ("nbparallel.api", "nbparallel.jobs.runtime", "nbparallel.display.follow", "nbparallel.notebook.extension")

def loaded(i):  # what a chunk may use without loading the rest: seeding, per-worker set-up, errors
    nbp.seed_item(7, i)
    assert issubclass(nbp.WorkerDied, Exception) and callable(nbp.per_worker)
    return [m for m in KERNEL_SIDE if m in sys.modules], os.environ.get("NBPARALLEL_LIGHT_IMPORT")

def nested(x):  # the API used inside a chunk loads there, as a kernel's import loads it
    return nbp.pmap(abs, [-x, x], progress=False), [m for m in KERNEL_SIDE if m in sys.modules]

def on_joblib(n):  # joblib's "nbparallel" backend, asked for in a chunk that never named nbparallel
    import joblib
    with joblib.parallel_config(backend="nbparallel"):
        return joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(-i) for i in range(n))

nbp.warm(2, wait=True)
print(repr(nbp.pmap(loaded, range(2), n_jobs=2, chunks=2, progress=False)))
print(repr(nbp.pmap(nested, [1, 2], n_jobs=2, chunks=2, progress=False)))
nbp.shutdown()
nbp.warm(2, wait=True)
print(repr(nbp.pmap(on_joblib, [3, 4], n_jobs=2, chunks=2, progress=False)))
nbp.shutdown()
"""


def test_a_worker_imports_only_what_running_chunks_needs_and_the_rest_on_first_use():
    done = subprocess.run(
        [sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=300, env=child_env(), check=True
    )
    light, nested, on_joblib = (eval(line) for line in done.stdout.splitlines())
    assert light == [([], None), ([], None)], done.stderr  # not the API, runtime, display; nothing passed on
    full = ["nbparallel.api", "nbparallel.jobs.runtime", "nbparallel.display.follow", "nbparallel.notebook.extension"]
    assert nested == [([1, 1], full), ([2, 2], full)], done.stderr
    assert on_joblib == [[0, 1, 2], [0, 1, 2, 3]], done.stderr


USED_IN_A_CHUNK = """
import sys, threading
import pandas as pd
import nbparallel as nbp

def names_at_once(_):  # threads of one chunk reach for names while the rest of the package loads
    wanted = ["pmap", "imap", "config", "Job", "RunOptions", "background", "pmap_chunks", "warm"] * 3
    barrier, missing = threading.Barrier(len(wanted)), []
    def reach(name):
        barrier.wait()
        try:
            getattr(nbp, name)
        except AttributeError as e:
            missing.append(str(e))
    threads = [threading.Thread(target=reach, args=(name,)) for name in wanted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return missing

def settings_and_jobs(_):  # a notebook's function: pickled by value, with nbparallel's submodules it names
    with nbp.config(progress=False):
        return nbp.get_config().progress, [j.id for j in nbp.jobs()]

def listed(_):
    return [name for name in ("pmap", "config", "jobs", "warm") if name not in dir(nbp)]

def in_a_cell(_):  # code run by exec (a %%parallel cell) reaches submodules as attributes, as in a kernel
    namespace = {"nbp": nbp}
    exec("workers = nbp.backends.worker_pids(); value = nbp.api.pmap(abs, [-1], progress=False)", namespace)
    return namespace["value"]

def later(x):  # a result that names the package (sent back by value)
    def call():
        return nbp.pmap(abs, [-x], n_jobs=1, progress=False)
    return call

def shown(_):  # a nested call that asks for a progress bar, through a submodule and the accessor
    from nbparallel.api import pmap
    pmap(abs, [-1, -2], progress=True)
    pd.DataFrame({"a": [1, 2]}).parallel.apply(lambda row: row.a, axis=1, progress=True)

print(repr(nbp.pmap(names_at_once, range(2), n_jobs=2, chunks=2, progress=False)))
nbp.shutdown()
print(repr(nbp.pmap(settings_and_jobs, range(2), n_jobs=2, chunks=2, progress=False)))
nbp.shutdown()
print(repr(nbp.pmap(listed, range(2), n_jobs=2, chunks=2, progress=False)))
print(repr([call() for call in nbp.pmap(later, [1, 2], n_jobs=2, chunks=2, progress=False)]))
print(repr(nbp.pmap(in_a_cell, range(2), n_jobs=2, chunks=2, progress=False)))
nbp.pmap(shown, range(1), n_jobs=2, progress=False)
nbp.shutdown()
"""


def test_what_a_chunk_uses_of_the_package_works_as_in_a_kernel():
    done = subprocess.run(
        [sys.executable, "-c", USED_IN_A_CHUNK], capture_output=True, text=True, timeout=300, env=child_env()
    )
    assert done.returncode == 0, done.stderr
    at_once, settings_and_jobs, listed, called, in_a_cell = (eval(line) for line in done.stdout.splitlines()[:5])
    assert at_once == [[], []]  # no thread found a name missing while another loaded them
    assert settings_and_jobs == [(False, []), (False, [])]  # nbp.config and nbp.jobs, not the modules so named
    assert listed == [[], []]
    assert called == [[1], [2]]
    assert in_a_cell == [[1], [1]]
    bars = done.stdout + done.stderr  # a chunk's output reaches the caller, each line marked with the chunk
    assert "abs: 100%" in bars and "<lambda>: 100%" in bars, bars


INTERRUPTED = """
import sys, time
import nbparallel as nbp

class SlowImport:  # a cold disk: the API's first import in a worker takes longer than the job may
    delayed = False
    def find_spec(self, name, path=None, target=None):
        if name == "nbparallel.api" and not SlowImport.delayed:
            SlowImport.delayed = True
            time.sleep(30)
        return None

def load_slowly(_):
    sys.meta_path.insert(0, SlowImport())
    return nbp.pmap(abs, [-1], progress=False)

def nested(x):
    return nbp.pmap(abs, [-x], progress=False)

nbp.warm(2, wait=True)
try:
    nbp.pmap(load_slowly, range(2), n_jobs=2, chunks=2, progress=False, timeout=1)
except nbp.ChunkTimeout:
    print("timed out")
print(repr(nbp.pmap(nested, range(4), n_jobs=2, chunks=4, progress=False)))
nbp.shutdown()
"""


def test_a_chunk_stopped_while_the_package_loads_leaves_its_worker_able_to_load_it():
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED], capture_output=True, text=True, timeout=300, env=child_env()
    )
    assert done.returncode == 0, done.stderr
    timed_out, after = done.stdout.splitlines()
    assert timed_out == "timed out"
    assert eval(after) == [[0], [1], [2], [3]], done.stderr  # the same (warm) workers load it next time


IDLE = """
import time
import psutil
import nbparallel as nbp
import nbparallel.backends.local as local
local.IDLE_TIMEOUT = 1.0  # the pool made next is stopped after a second without work

def nap(seconds):
    time.sleep(seconds)
    return seconds

nbp.warm(2, wait=True)
first = nbp.backends.worker_pids()
busy = nbp.pmap(nap, [2.5, 2.5], n_jobs=2, chunks=2, progress=False)  # longer than the idle time: kept
kept = nbp.backends.worker_pids() == first
time.sleep(3.5)  # idle: stopped, its workers gone
gone = nbp.backends.worker_pids() == [] and not any(psutil.pid_exists(pid) for pid in first)
again = nbp.pmap(abs, [-1, -2], n_jobs=2, chunks=2, progress=False)  # the next call starts a new pool
print(repr((busy, kept, gone, again, set(nbp.backends.worker_pids()).isdisjoint(first))))
nbp.shutdown()
"""


def test_a_pool_without_work_is_stopped_and_the_next_call_starts_a_new_one():
    done = subprocess.run(
        [sys.executable, "-c", IDLE], capture_output=True, text=True, timeout=300, env=child_env(), check=True
    )
    assert eval(done.stdout) == ([2.5, 2.5], True, True, [1, 2], True), done.stderr
