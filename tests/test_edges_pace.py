"""A call's result, errors and timeouts never depend on what ran before it (issue 32, learned chunking).

Each call is compared with the same call as the first of its function in a
fresh process; and the remembered costs must not keep a callable's data alive.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import subprocess
import sys
import weakref

import pytest

import nbparallel as nbp
from nbparallel.data import pace
from tests.helpers import child_env
from tests.pace_cases import CASES, after_history

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def fresh_process() -> dict[str, dict[str, object]]:
    """Every case's target call, each the first call of its function, in a new process."""
    code = f"import json, sys; sys.path.insert(0, {ROOT!r}); from tests import pace_cases; print(json.dumps(pace_cases.fresh()))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=child_env(), check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(CASES))
def test_a_call_after_cheap_calls_sees_what_a_fresh_process_sees(name, fresh_process):
    seen = json.loads(json.dumps(after_history(name)))  # tuples and lists alike, as the fresh process's JSON
    assert seen == fresh_process[name]


def test_the_fresh_references_are_what_the_sequential_loop_gives(fresh_process):
    assert fresh_process["empty list"] == {"value": []}
    assert fresh_process["empty array"] == {"value": []}
    assert fresh_process["timeout"]["value"] == [0.3] * 8
    for name in ("error", "retries"):
        assert fresh_process[name]["raised"] == "KeyError"
        assert fresh_process[name]["message"] == "'no 5'"
    assert fresh_process["retries"]["n_retries"] >= 1
    assert fresh_process["background"]["value"] == [x + 1 for x in range(64)]


def test_a_learned_split_is_used_only_where_nothing_per_chunk_was_asked_for():
    def cube(x):
        return x**3

    nbp.pmap(cube, range(200), n_jobs=2, progress=False)
    nbp.pmap(cube, range(200), n_jobs=2, progress=False)
    learned = nbp.last_job().n_total
    assert learned <= 2  # too cheap to balance: a chunk per worker, or one for a call cheaper than a round trip
    fresh_plan = len(nbp.pmap(cube, range(200), n_jobs=2, progress=False, background=True).tasks)
    assert fresh_plan > learned
    for options in ({"timeout": 30.0}, {"retries": 2}, {"progress": True}, {"background": True}):
        out = nbp.pmap(cube, range(200), n_jobs=2, **{"progress": False, **options})
        job = out if isinstance(out, nbp.Job) else nbp.last_job()
        assert job.result() == [x**3 for x in range(200)]
        assert job.n_total == fresh_plan, options


class _Blob:
    """Data a callable captures (weakly referenceable, so the test sees when it is freed)."""

    def __init__(self) -> None:
        self.payload = bytearray(1 << 20)


def _scaled(blob, x):
    return x + len(blob.payload) * 0


class _Scaler:
    def __init__(self, blob) -> None:
        self.blob = blob

    def __call__(self, x):
        return x + len(self.blob.payload) * 0


@pytest.mark.parametrize("make", [lambda b: functools.partial(_scaled, b), _Scaler], ids=["partial", "instance"])
def test_remembered_costs_do_not_keep_a_callables_data(make):
    blob = _Blob()
    gone = weakref.ref(blob)
    func = make(blob)
    for _ in range(2):
        assert nbp.pmap(func, range(50), n_jobs=2, progress=False) == list(range(50))
    assert pace.item_cost(func) is not None  # it was remembered
    del func, blob
    nbp.pmap(abs, [-1], n_jobs=1, progress=False)  # the latest job (kept for last_job()) is another one
    gc.collect()
    assert gone() is None


def test_an_equal_partial_made_again_is_known_by_its_code():
    blob = _Blob()
    nbp.pmap(functools.partial(_scaled, blob), range(50), n_jobs=2, progress=False)
    assert pace.item_cost(functools.partial(_scaled, _Blob())) is not None
