"""A notebook's function, changed between calls: each call sees the function and globals as they are now.

The function is defined as a notebook cell defines it (in ``__main__``'s name,
so it is sent by value, with the globals it reads).  Between calls a global it
reads is rebound (to an equal value of another type too: ``1``, ``1.0``,
``True``), a default or a closure value changes, or the cell is run again with
other code.  Every call must equal the loop run at the same moment, whatever
ran before (the runtime keeps packed functions between calls).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import nbparallel as nbp
from tests.differential.common import diff_settings, run_options, same

CELL = """
def outer():
    c = 0
    def f(x, d=0):
        return repr((x {op} scale, d, c))
    def set_c(v):
        nonlocal c
        c = v
    return f, set_c
f, set_c = outer()
"""

values = st.one_of(st.integers(-3, 3), st.sampled_from([1, 1.0, True, 0, 0.0, -0.0, False, 2**70]))
changes = st.one_of(
    st.tuples(st.just("global"), values),
    st.tuples(st.just("default"), values),
    st.tuples(st.just("closure"), values),
    st.tuples(st.just("cell"), st.sampled_from(["+", "*", "-"])),
)


def _run_cell(ns: dict[str, Any], op: str) -> None:
    exec(CELL.format(op=op), ns)


@diff_settings()
@given(
    steps=st.lists(changes, min_size=1, max_size=6),
    data=st.lists(st.integers(-5, 5), max_size=6),
    options=run_options(),
)
def test_a_notebook_function_changed_between_calls_runs_as_it_is_now(steps, data, options):
    ns: dict[str, Any] = {"__name__": "__main__", "scale": 1}
    _run_cell(ns, "+")
    same(nbp.pmap(ns["f"], data, **options), [ns["f"](x) for x in data])
    for what, value in steps:
        if what == "global":
            ns["scale"] = value
        elif what == "default":
            ns["f"].__defaults__ = (value,)
        elif what == "closure":
            ns["set_c"](value)
        else:
            _run_cell(ns, value)
        f = ns["f"]
        same(nbp.pmap(f, data, **options), [f(x) for x in data])
