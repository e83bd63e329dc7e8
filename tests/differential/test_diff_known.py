"""Differential cases for the defects issue 32 named outside the data kinds: exception types
from workers, BaseExceptions, inputs, options, the cache key, seeds on threads, the learned
cost per function, loky ownership, nesting and choose_k on tiny inputs. Each compares the
call with its reference (the loop, joblib on loky, a fresh process)."""

from __future__ import annotations

import collections
import gc
import random
import weakref

import numpy as np
import pandas as pd
import pytest

import nbparallel as nbp
from nbparallel.backends import worker_pids
from tests.differential.common import (
    Raised,
    Scaled,
    count_args,
    draws,
    nested_children,
    outcome,
    poly,
    same,
    slow_or_fast,
)

# The defining code runs as a notebook cell does: its module is __main__, so cloudpickle sends
# the function and the exception class by value and plain pickle cannot find the class in a worker.
_NOTEBOOK_CELL = """
class MyError(Exception):
    pass

def raises_mine(x):
    raise MyError(f"mine {x}")
"""


def _notebook_namespace():
    namespace = {"__name__": "__main__"}
    exec(compile(_NOTEBOOK_CELL, "<cell>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("backend", ["loky", "joblib"])
def test_an_exception_class_of_the_notebook_keeps_its_type(backend):
    ns = _notebook_namespace()
    want = outcome(lambda: [ns["raises_mine"](x) for x in [1]])
    if backend == "joblib":
        from joblib import Parallel, delayed, parallel_config

        with parallel_config(backend="nbparallel"):
            got = outcome(lambda: Parallel(n_jobs=2)(delayed(ns["raises_mine"])(x) for x in [1]))
    else:
        got = outcome(lambda: nbp.pmap(ns["raises_mine"], [1], n_jobs=2, progress=False))
    same(got, want)


def _exits(x):
    raise SystemExit(f"stop at {x}")


def test_system_exit_in_the_function_is_raised_as_the_loop_raises_it():
    with pytest.raises(SystemExit) as want:
        [_exits(x) for x in [1, 2]]
    with pytest.raises(BaseException) as got:
        nbp.pmap(_exits, [1, 2], n_jobs=2, progress=False)
    same(Raised.of(got.value), Raised.of(want.value))


def test_an_empty_array_after_a_call():
    nbp.pmap(np.negative, [1, 2, 3], n_jobs=2, progress=False)
    same(nbp.pmap(np.negative, np.array([]), n_jobs=2, progress=False), [])


def test_a_timeout_means_the_same_after_cheap_calls():
    nbp.pmap(slow_or_fast, [0.0] * 200, n_jobs=2, progress=False)
    same(nbp.pmap(slow_or_fast, [0.3] * 8, n_jobs=2, timeout=1.0, progress=False), [0.3] * 8)


def test_a_finished_call_holds_no_memory_of_its_callable():
    func = Scaled(np.zeros(1000))
    ref = weakref.ref(func.payload)
    nbp.pmap(func, range(4), n_jobs=2, progress=False)
    del func
    nbp.pmap(abs, [-1], n_jobs=1, progress=False)  # the latest job is kept for last_job(): make it another one
    gc.collect()
    assert ref() is None


def test_inputs_of_different_lengths_raise_also_for_iterators():
    want = outcome(lambda: nbp.pmap(pow, [1, 2, 3], [2, 2], n_jobs=2, progress=False))
    assert isinstance(want, Raised) and want.type is ValueError
    got = outcome(lambda: nbp.pmap(pow, iter([1, 2, 3]), [2, 2], n_jobs=2, progress=False))
    assert isinstance(got, Raised) and got.type is ValueError, got


@pytest.mark.parametrize("option", ["n_jobs", "chunks", "chunk_size", "retries", "seed"])
def test_numpy_integers_are_options_like_ints(option):
    want = nbp.pmap(poly, range(6), progress=False, **{option: 2})
    same(nbp.pmap(poly, range(6), progress=False, **{option: np.int64(2)}), want)


def test_the_cache_tells_zipped_inputs_from_tuple_input(tmp_path):
    a, b = [1, 2], [3, 4]
    same(nbp.pmap(count_args, a, b, cache=str(tmp_path), chunks=1, progress=False), [2, 2])
    same(nbp.pmap(count_args, (a, b), cache=str(tmp_path), chunks=1, progress=False), [1, 1])  # two items: a, b


@pytest.mark.parametrize(
    "make",
    [
        lambda: {"a": 1, "b": 2}.keys(),
        lambda: {"a": 1, "b": 2}.values(),
        lambda: pd.Index([1, 2]),
        lambda: collections.deque([1, 2]),
        lambda: "ab",
    ],
    ids=["keys", "values", "Index", "deque", "str"],
)
def test_pmap_takes_what_the_loop_takes(make):
    same(outcome(lambda: nbp.pmap(repr, make(), n_jobs=2, progress=False)), [repr(x) for x in make()])


def test_a_seeded_call_on_threads_leaves_the_callers_generators_alone():
    random.seed(5)
    np.random.seed(5)
    state, np_state = random.getstate(), np.random.get_state()[1].copy()
    nbp.pmap(draws, range(4), seed=1, n_jobs=2, backend="threading", progress=False)
    assert random.getstate() == state
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_a_users_loky_executor_and_nbparallel_leave_each_other_alone():
    import loky

    nbp.pmap(poly, range(4), n_jobs=2, progress=False)
    pids = sorted(worker_pids())
    executor = loky.get_reusable_executor(max_workers=2)
    try:
        assert list(executor.map(poly, range(3))) == [poly(x) for x in range(3)]
        nbp.pmap(poly, range(4), n_jobs=2, progress=False)
        assert list(executor.map(poly, range(3))) == [poly(x) for x in range(3)]
        assert sorted(worker_pids()) == pids
    finally:
        executor.shutdown(wait=True)


def test_a_call_inside_a_worker_runs_there():
    assert nbp.pmap(nested_children, [1, 2], n_jobs=2, progress=False) == [0, 0]


def test_choose_k_on_a_tiny_input_answers_or_says_why():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=6, centers=2, random_state=0)
    got = outcome(lambda: nbp.choose_k(X, k=range(2, 5), progress=False))
    assert not isinstance(got, Raised) or "n_samples=3 should be >= n_clusters" not in got.message, got
    assert not isinstance(got, Raised) or (got.type is ValueError and "sample" in got.message), got
