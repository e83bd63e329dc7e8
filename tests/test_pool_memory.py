"""Idle workers cost only what the user uses: no k-search imports until the k-search is reached for."""

from __future__ import annotations

import subprocess
import sys

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
