"""Inputs and options at the edges: every call equals its reference, or errors as its reference does.

References: ``[f(x) for x in data]`` (and ``imap``, which already reads these
inputs), ``pmap`` over lists for the errors of aligned inputs, a fresh seeded
``pmap`` for seeds.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque

import numpy as np
import pandas as pd
import pytest

import nbparallel as nbp
from nbparallel.options import RunOptions, options_from_magic


def square(x):
    return x * x


def _list_error(func, *datas):
    """The error ``pmap`` gives for the same inputs as lists (the reference for any other kind)."""
    with pytest.raises(ValueError) as info:
        nbp.pmap(func, *[list(d) for d in datas], progress=False)
    return info.value


@pytest.mark.parametrize(
    "make",
    [
        lambda a, b: (iter(a), b),
        lambda a, b: (a, iter(b)),
        lambda a, b: (iter(a), iter(b)),
        lambda a, b: ((x for x in a), deque(b)),
    ],
    ids=["iterator-list", "list-iterator", "iterators", "generator-deque"],
)
@pytest.mark.parametrize(("a", "b"), [([1, 2, 3], [2, 2]), ([1, 2], [2, 2, 2]), ([], [1]), ([1], [])])
def test_inputs_of_different_lengths_fail_whatever_their_kind(make, a, b):
    expected = _list_error(pow, a, b)
    with pytest.raises(ValueError, match="aligned inputs must have the same length") as info:
        nbp.pmap(pow, *make(a, b), n_jobs=2, progress=False)
    assert type(info.value) is type(expected)
    assert "trim or pad them to one length" in str(info.value)


def test_inputs_of_different_lengths_fail_in_background_and_with_chunk_size():
    job = nbp.pmap(pow, iter(range(50)), list(range(49)), chunk_size=3, background=True, progress=False)
    with pytest.raises(ValueError, match=r"got input 0: more than 49, input 1: 49; trim") as info:
        job.result()
    assert "reading the input" in "\n".join(info.value.__notes__)
    partial = job.partial_result()  # the chunks that finished before the end was found are kept
    covered = [x for a, b in partial.items for x in range(a, b)]
    assert partial.value == [pow(x, x) for x in covered] and set(covered) <= set(range(49))  # pairs 0-48 exist


def test_iterators_of_one_length_zip_like_lists():
    a, b = list(range(40)), list(range(40, 80))
    expected = [pow(x, y % 3) for x, y in zip(a, b, strict=True)]
    got = nbp.pmap(lambda x, y: pow(x, y % 3), iter(a), (y for y in b), n_jobs=2, progress=False)
    assert got == expected


def test_imap_still_zips_like_map():
    assert list(nbp.imap(pow, iter([1, 2, 3]), [2, 2], progress=False)) == list(map(pow, [1, 2, 3], [2, 2]))


@pytest.mark.parametrize("name", ["n_jobs", "chunks", "chunk_size", "retries", "seed"])
@pytest.mark.parametrize("kind", [np.int64, np.int32, np.uint8, np.intp])
def test_numpy_integers_are_integers_for_every_option(name, kind):
    expected = nbp.pmap(square, range(10), progress=False, **{name: 2})
    assert nbp.pmap(square, range(10), progress=False, **{name: kind(2)}) == expected
    options = RunOptions(**{name: kind(2)})
    assert type(getattr(options, name)) is int and getattr(options, name) == 2


@pytest.mark.parametrize("name", ["n_jobs", "chunks", "chunk_size", "retries", "seed"])
def test_bools_and_floats_stay_refused(name):
    for bad in (True, 2.0, np.float64(2.0)):
        with pytest.raises(ValueError, match=name):
            RunOptions(**{name: bad})


def test_numpy_numbers_for_config_and_seconds():
    with nbp.config(n_jobs=np.int64(2)):
        assert nbp.get_config().n_jobs == 2 and type(nbp.get_config().n_jobs) is int
    options = RunOptions(timeout=np.float32(1.5), retry_delay=np.int64(0))
    assert options.timeout == 1.5 and options.retry_delay == 0
    with pytest.raises(ValueError, match="timeout"):
        RunOptions(timeout=np.bool_(True))


def test_a_numpy_seed_gives_the_seed_s_numbers():
    draw = lambda x: random.random()  # noqa: E731
    assert nbp.pmap(draw, range(6), seed=np.int64(5), progress=False) == nbp.pmap(
        draw, range(6), seed=5, progress=False
    )


def test_the_magic_s_options_are_run_options():
    from argparse import Namespace

    args = Namespace(n_jobs=np.int64(2), chunks=None, chunk_size=np.int32(3), seed=np.uint16(4))
    options = options_from_magic(args)
    assert (options.n_jobs, options.chunk_size, options.seed) == (2, 3, 4)


def test_zipped_inputs_and_one_tuple_input_are_different_cache_entries(tmp_path):
    def first(*args):
        return repr(args)

    zipped = nbp.pmap(first, [1, 2], [3, 4], cache=tmp_path, chunks=1, progress=False)
    one_tuple = nbp.pmap(first, ([1, 2], [3, 4]), cache=tmp_path, chunks=1, progress=False)
    assert zipped == [first(1, 3), first(2, 4)]
    assert one_tuple == [first([1, 2]), first([3, 4])]  # == [first(x) for x in ([1, 2], [3, 4])]
    # and the cache still serves each call its own results
    assert nbp.pmap(first, [1, 2], [3, 4], cache=tmp_path, chunks=1, progress=False) == zipped
    assert nbp.pmap(first, ([1, 2], [3, 4]), cache=tmp_path, chunks=1, progress=False) == one_tuple


def test_pmap_and_pmap_chunks_with_one_cache_do_not_share_entries(tmp_path):
    as_items = nbp.pmap(len, [[1, 2], [3]], cache=tmp_path, chunks=1, progress=False)
    as_chunk = nbp.pmap_chunks(len, [[1, 2], [3]], cache=tmp_path, chunks=1, merge="list", progress=False)
    assert as_items == [2, 1] and as_chunk == [2]


_ITERABLES = {
    "dict.keys": lambda: {"a": 1, "b": 2, "c": 3}.keys(),
    "dict.values": lambda: {"a": 1, "b": 2, "c": 3}.values(),
    "dict.items": lambda: OrderedDict(a=1, b=2).items(),
    "dict": lambda: {"x": 1, "y": 2},
    "pd.Index": lambda: pd.Index([3, 1, 2]),
    "pd.RangeIndex": lambda: pd.RangeIndex(5),
    "pd.DatetimeIndex": lambda: pd.date_range("2024-01-01", periods=3),
    "deque": lambda: deque([1, 2, 3]),
    "str": lambda: "abc",
    "bytes": lambda: b"ab",
    "set": lambda: {5, 6, 7},
    "frozenset": lambda: frozenset({1}),
    "an own iterable": lambda: _Countdown(4),
}


class _Countdown:
    """An iterable with ``__iter__`` only (no length): read as it iterates."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n, 0, -1))


@pytest.mark.parametrize("name", sorted(_ITERABLES))
@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_pmap_accepts_every_iterable_imap_accepts(name, backend):
    data = _ITERABLES[name]()
    expected = [repr(x) for x in data]
    assert [repr(x) for x in nbp.imap(lambda x: x, data, progress=False)] == expected
    assert nbp.pmap(repr, data, n_jobs=2, backend=backend, progress=False) == expected
    assert nbp.pmap(repr, data, n_jobs=2, chunks=2, backend=backend, progress=False) == expected


def test_other_iterables_zip_with_a_list():
    assert nbp.pmap(pow, deque([1, 2, 3]), pd.Index([2, 2, 2]), progress=False) == [1, 4, 9]
    with pytest.raises(ValueError, match="same length"):
        nbp.pmap(pow, deque([1, 2, 3]), [2, 2], progress=False)


def test_what_is_not_iterable_is_still_refused_by_name():
    with pytest.raises(TypeError, match="cannot split an object of type int"):
        nbp.pmap(square, 5, progress=False)
    with pytest.raises(TypeError, match="column labels"):
        nbp.pmap(square, pd.DataFrame({"a": [1]}), progress=False)


def _draws(x):
    return random.random(), float(np.random.random())


@pytest.mark.parametrize("backend", ["threading", "loky"])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_seeded_call_leaves_the_caller_s_random_state_alone(backend, chunked):
    random.seed(11)
    np.random.seed(11)
    expected_next = (random.random(), float(np.random.random()))
    random.seed(11)
    np.random.seed(11)
    if chunked:
        got = nbp.pmap_chunks(
            lambda c: [_draws(x) for x in c], list(range(8)), seed=3, backend=backend, n_jobs=2, progress=False
        )
        again = nbp.pmap_chunks(
            lambda c: [_draws(x) for x in c], list(range(8)), seed=3, backend=backend, n_jobs=2, progress=False
        )
    else:
        got = nbp.pmap(_draws, range(8), seed=3, backend=backend, n_jobs=2, progress=False)
        again = nbp.pmap(_draws, range(8), seed=3, backend=backend, n_jobs=2, progress=False)
    assert (random.random(), float(np.random.random())) == expected_next
    assert got == again  # seeds still reproducible


def test_seeded_threads_give_the_numbers_of_seeded_processes():
    on_threads = nbp.pmap(_draws, range(12), seed=9, backend="threading", n_jobs=2, progress=False)
    assert on_threads == nbp.pmap(_draws, range(12), seed=9, backend="loky", n_jobs=2, progress=False)


def text(items):
    return "".join(map(str, items))


def generator(items):
    return (x for x in items)


_KINDS = [list, tuple, np.array, iter, generator, deque, pd.Series, text]


def _never_called(*x):  # only ever given empty inputs: no call history of its own (that is the pace's part)
    raise AssertionError("called on an empty input")


@pytest.mark.parametrize("make", _KINDS, ids=lambda f: getattr(f, "__name__", "f"))
def test_empty_inputs_of_every_kind(make):
    assert nbp.pmap(_never_called, make([]), n_jobs=2, progress=False) == []
    assert nbp.pmap(_never_called, make([]), make([]), n_jobs=2, progress=False) == []


@pytest.mark.parametrize("make", _KINDS, ids=lambda f: getattr(f, "__name__", "f"))
def test_single_item_inputs_of_every_kind(make):
    data = [7]
    expected = [x * 2 for x in make(data)]
    assert nbp.pmap(lambda x: x * 2, make(data), n_jobs=2, progress=False) == expected
    assert nbp.pmap(lambda x, y: x + y, make(data), make(data), n_jobs=2, progress=False) == expected


def test_a_seeded_background_job_on_threads_leaves_the_caller_s_state_once_done():
    random.seed(4)
    np.random.seed(4)
    expected_next = (random.random(), float(np.random.random()))
    random.seed(4)
    np.random.seed(4)
    first = nbp.pmap(_draws, range(6), seed=1, backend="threading", n_jobs=2, background=True, progress=False)
    second = nbp.pmap(_draws, range(6), seed=2, backend="threading", n_jobs=2, background=True, progress=False)
    assert first.result() == nbp.pmap(_draws, range(6), seed=1, backend="loky", n_jobs=2, progress=False)
    assert second.result() == nbp.pmap(_draws, range(6), seed=2, backend="loky", n_jobs=2, progress=False)
    assert (random.random(), float(np.random.random())) == expected_next
