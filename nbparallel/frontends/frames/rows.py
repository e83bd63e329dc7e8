"""``chunk.apply(func, axis=1)`` as pandas runs it, with a leaner loop over the rows.

pandas 3 hands each row to ``func`` from a generator
(``FrameColumnApply.series_generator``) that reuses one Series and swaps the
row's values into it. Its per-row bookkeeping (a generator step, ``enumerate``,
``NDFrame.__setattr__``, a new ``BlockPlacement``) costs about 1 µs a row,
as much as a cheap ``func`` itself. :func:`apply_rows` builds pandas' own
apply object (``frame_apply``) and lets pandas do everything (dispatch on
``func``, ``raw``, ``result_type``, empty frames, wrapping the results), except
the row loop of ``apply_series_generator``, which it replaces by the same loop
written inline: the same Series object, the same values swapped in, the same
``name``, the same copy-on-write references, the same shallow copy of a Series
result. Rows of an extension or datetime-like dtype, ``engine``/``by_row``
arguments and DataFrame subclasses take pandas' own ``apply`` untouched.

pandas private names used here (``tests/test_pandas_rows.py`` pins the
behaviour against pandas' own ``df.apply`` on every kind of frame):

* ``pandas.core.apply.frame_apply``, ``FrameColumnApply`` and, on it,
  ``apply()``, ``apply_series_generator()``, ``obj``, ``values``, ``index``,
  ``result_index``, ``func``, ``args``, ``kwargs``;
* ``DataFrame._ixs(0, axis=0)``; ``Series._mgr`` and ``Series._name``, set in the row's ``__dict__``;
* ``SingleBlockManager.set_values`` (its two assignments, inline) and
  ``.blocks[0]`` with ``.values``, ``._mgr_locs``, ``.refs`` (``has_reference()``);
  ``pandas._libs.internals.BlockPlacement`` and ``BlockValuesRefs``;
* ``pandas.core.dtypes.generic.ABCSeries``.

On pandas 2, or when one of them is missing, every call takes pandas' own ``apply``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["apply_rows", "LEAN"]

try:
    from pandas._libs.internals import BlockPlacement, BlockValuesRefs
    from pandas.core.apply import FrameColumnApply, frame_apply
    from pandas.core.dtypes.generic import ABCSeries
    from pandas.core.internals.managers import SingleBlockManager

    #: Whether this pandas has what the lean row loop needs (pandas 3: pandas 2's loop also sets
    #: ``mode.chained_assignment`` around the rows, and is left to run as it is).
    LEAN = (
        int(pd.__version__.split(".")[0]) >= 3
        and hasattr(SingleBlockManager, "set_values")
        and hasattr(FrameColumnApply, "apply_series_generator")
    )
except ImportError:  # pragma: no cover - another pandas
    LEAN = False

#: Result types that are surely not Series (``isinstance(x, ABCSeries)`` is a Python call).
_SCALARS = frozenset({float, int, str, bool, type(None), np.float64, np.int64, np.float32, np.int32, np.bool_})

#: ``DataFrame.apply`` arguments that pick another engine or path: pandas' own ``apply`` then.
_OTHER_PATHS = frozenset({"engine", "engine_kwargs", "by_row"})


def apply_rows(chunk: pd.DataFrame, func: Any, kwargs: dict[str, Any]) -> Any:
    """``chunk.apply(func, axis=1, **kwargs)``, the row loop written inline: the result ``.equals`` pandas'.

    Parameters
    ----------
    chunk : DataFrame
        The rows.
    func : callable
        Called with each row, a Series named by its index label, as pandas calls it.
    kwargs : dict
        ``raw``, ``result_type``, ``args`` and ``func``'s own keyword arguments,
        as ``DataFrame.apply`` takes them.

    Returns
    -------
    Series or DataFrame
        What ``chunk.apply(func, axis=1, **kwargs)`` returns.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}, index=["x", "y"])
    >>> apply_rows(df, lambda row: f"{row.name}:{row['a'] + row['b']}", {}).tolist()
    ['x:4.0', 'y:6.0']
    """
    if not LEAN or type(chunk) is not pd.DataFrame or not _OTHER_PATHS.isdisjoint(kwargs):
        return chunk.apply(func, axis=1, **kwargs)
    rest = dict(kwargs)
    raw, result_type, args = rest.pop("raw", False), rest.pop("result_type", None), rest.pop("args", ())
    op = frame_apply(
        chunk, func=func, axis=1, raw=raw, result_type=result_type, by_row="compat", engine="python",
        engine_kwargs=None, args=args, kwargs=rest,
    )  # fmt: skip
    if type(op) is FrameColumnApply:  # pandas' apply() calls this instance's loop instead of its generator
        op.apply_series_generator = functools.partial(_row_results, op)
    return op.apply().__finalize__(chunk, method="apply")


def _row_results(op: Any) -> tuple[dict[int, Any], pd.Index]:
    """``op.apply_series_generator()`` with ``series_generator``'s loop (pandas 3, NumPy rows) inline."""
    obj = op.obj
    ser = obj._ixs(0, axis=0)
    if not isinstance(ser.dtype, np.dtype) or ser.dtype.kind in "mM":  # pandas wraps or rebuilds these rows
        return FrameColumnApply.apply_series_generator(op)
    func, args, kwargs = op.func, op.args, op.kwargs
    res_index = op.result_index
    values = op.values
    mgr = ser._mgr
    is_view = mgr.blocks[0].refs.has_reference()
    placement = BlockPlacement(slice(values.shape[1]))  # what set_values makes anew for every row
    attributes, series, scalars = ser.__dict__, ABCSeries, _SCALARS  # where object.__setattr__ puts them
    results: dict[int, Any] = {}
    plain = not args and not kwargs
    for i, (arr, name) in enumerate(zip(values, obj.index, strict=True)):
        if attributes["_mgr"] is not mgr:  # pinned again, as pandas does: a setitem in func may have replaced it
            attributes["_mgr"] = mgr
        block = mgr.blocks[0]  # mgr.set_values(arr), inline; a setitem in func may have replaced the block
        block.values = arr
        block._mgr_locs = placement
        attributes["_name"] = name
        if not is_view:  # a copy: fresh references, so that func's setitem does not copy (pandas GH 56212)
            block.refs = BlockValuesRefs(block)
        result = func(ser) if plain else func(ser, *args, **kwargs)
        if type(result) not in scalars and isinstance(result, series):  # maybe a view of ser: copied, as pandas does
            result = result.copy(deep=False)
        results[i] = result
    return results, res_index
