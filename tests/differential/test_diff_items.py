"""``pmap`` and ``imap`` against ``[f(x) for x in data]``: every kind of input, options, backends and call history."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nbparallel as nbp
from nbparallel.worker.run import seed_item
from tests.differential.common import (
    ITEM_KINDS,
    Raised,
    build,
    costs,
    diff_settings,
    draws,
    fails_on_sevens,
    lengths,
    outcome,
    poly,
    run_options,
    same,
    seeds,
    tag,
)


def _loop(func, data):
    return outcome(lambda: [func(x) for x in data])


def _imap_options(options):
    """``options`` as ``imap`` takes them: no ``chunks`` (it reads the input lazily, its length unknown),
    and its default display (``progress`` unset: the path a user takes, which once hung at its end)."""
    return {k: v for k, v in options.items() if k not in ("chunks", "progress")}


def _imap(func, data, options):
    return outcome(lambda: list(nbp.imap(func, data, **_imap_options(options))))


def _first_errors(func, data):
    """Each item's error as the loop raises it: a parallel call raises one of them."""
    errors = []
    for x in data:
        error = outcome(lambda x=x: func(x))
        if isinstance(error, Raised):
            errors.append(error)
    return errors


@diff_settings()
@given(kind=st.sampled_from(ITEM_KINDS), n=lengths, seed=seeds, options=run_options())
def test_pmap_and_imap_see_the_items_the_loop_sees(kind, n, seed, options):
    want = _loop(tag, build(kind, n, seed))
    same(outcome(lambda: nbp.pmap(tag, build(kind, n, seed), **options)), want)
    same(_imap(tag, build(kind, n, seed), options), want)


@pytest.mark.filterwarnings("ignore:nbparallel. .* failed and are nbparallel.Failed records")
@diff_settings()
@given(
    data=st.lists(st.integers(-30, 30), max_size=40), options=run_options(), mode=st.sampled_from(["raise", "collect"])
)
def test_errors_are_the_loops_by_type_and_message(data, options, mode):
    errors = _first_errors(fails_on_sevens, data)
    got = outcome(lambda: nbp.pmap(fails_on_sevens, data, errors=mode, **options))
    if mode == "raise":
        if errors:
            assert got in errors, f"{got} is none of {errors}"
        else:
            same(got, _loop(fails_on_sevens, data))
        return
    assert len(got) == len(data)
    for i, (x, value) in enumerate(zip(data, got, strict=True)):
        want = outcome(lambda x=x: fails_on_sevens(x))
        if isinstance(want, Raised):
            assert isinstance(value, nbp.Failed) and value.index == i, value
            same(Raised.of(value.exception), want)
        else:
            same(value, want)


@diff_settings()
@given(data=st.lists(st.integers(-30, 30), max_size=40), seed=seeds, options=run_options())
def test_a_seeded_call_equals_the_seeded_loop(data, seed, options):
    """The documented stream: item ``i`` draws from ``seed_item(seed, i)``, whatever the workers and chunks."""

    def seeded(i, x):
        seed_item(seed, i)
        return draws(x)

    want = [seeded(i, x) for i, x in enumerate(data)]
    same(nbp.pmap(draws, data, seed=seed, **options), want)
    same(list(nbp.imap(draws, data, seed=seed, **_imap_options(options))), want)


@diff_settings()
@given(
    history=st.lists(
        st.tuples(st.lists(st.integers(0, 9), max_size=60), st.sampled_from([0.0, 0.002, 0.02]), run_options()),
        max_size=3,
    ),
    data=st.lists(st.integers(0, 9), max_size=20),
    options=run_options(),
)
def test_results_do_not_depend_on_earlier_calls(history, data, options):
    """The same function called before with other data, other costs and other options changes nothing a user sees."""
    for values, cost, opts in history:
        items = [(v, cost) for v in values]
        same(nbp.pmap(costs, items, **opts), [costs(x) for x in items])
    items = [(v, 0.0) for v in data]
    same(nbp.pmap(costs, items, **options), [costs(x) for x in items])
    same(_imap(costs, items, options), [costs(x) for x in items])


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_short_inputs_after_a_call(n, n_jobs):
    """0, 1 and fewer items than workers, after the same function ran on other data."""
    same(nbp.pmap(poly, [1, 2, 3], n_jobs=2, progress=False), [poly(x) for x in [1, 2, 3]])
    data = list(range(n))
    same(nbp.pmap(poly, data, n_jobs=n_jobs, progress=False), [poly(x) for x in data])
    same(nbp.pmap(pow, data, data, n_jobs=n_jobs, progress=False), [pow(x, x) for x in data])
