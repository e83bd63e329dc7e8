"""``rolling(...).apply`` over chunks that overlap by a window, so windows across chunk borders are whole.

Each chunk is sent with the rows before it that its first windows reach (and,
for centred windows, the rows after it); the worker runs pandas' own
``rolling(...).apply`` on it and the kernel keeps only the chunk's own rows.
For an integer window the overlap is ``window - 1`` rows; for a time window
(``"2s"``) it is found on the sorted index (or ``on`` column).  ``step`` is
applied after joining (pandas defines it as ``[::step]`` of the full result).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...data.partition import chunk_bounds
from ...options import RunOptions
from .common import run_chunks
from .merging import concat_rows

__all__ = ["rolling_apply"]


class _RollingApply:
    """In a worker: ``chunk.rolling(**attributes).apply(func, ...)``."""

    def __init__(self, attributes: dict[str, Any], func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.attributes, self.func, self.args, self.kwargs = attributes, func, args, kwargs
        self.__name__ = f"rolling.apply({getattr(func, '__name__', type(func).__name__)})"

    def __call__(self, chunk: Any) -> Any:
        return chunk.rolling(**self.attributes).apply(self.func, *self.args, **self.kwargs)


def _reach(window: Any, attributes: dict[str, Any]) -> tuple[Any, Any] | None:
    """``(before, after)``: how far a window reaches from its row, in rows (int) or in time; ``None``: unknown."""
    if isinstance(window, (int, np.integer)):
        w = int(window)
        return w - 1, (w - 1 if attributes["center"] else 0)
    try:
        span = pd.Timedelta(pd.tseries.frequencies.to_offset(window))
    except (TypeError, ValueError):
        return None  # a custom BaseIndexer: its windows can reach anywhere
    return span, (span if attributes["center"] else pd.Timedelta(0))


def rolling_apply(rolling: Any, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: RunOptions) -> Any:
    """``rolling.apply(func, *args, **kwargs)`` in parallel for a Series' or DataFrame's ``rolling(...)``.

    Examples
    --------
    >>> from nbparallel.options import RunOptions
    >>> s = pd.Series([1.0, 2.0, 3.0, 4.0])
    >>> rolling_apply(s.rolling(2), sum, (), {}, RunOptions(n_jobs=2, progress=False)).tolist()
    [nan, 3.0, 5.0, 7.0]
    """
    obj = rolling._selected_obj  # df.rolling(3)["v"]: only the selected column(s), as pandas computes
    attributes = {a: getattr(rolling, a) for a in rolling._attributes}
    if attributes.get("axis", 1) == 0:  # pandas 2 lists axis (deprecated there, a FutureWarning): the default
        del attributes["axis"]
    step = attributes.get("step") or 1
    attributes["step"] = None
    n = len(obj)
    reach = _reach(attributes["window"], attributes)
    keys: Any = None
    if reach is not None and not isinstance(reach[0], int):
        keys = obj[attributes["on"]] if attributes["on"] is not None else obj.index
        keys = pd.Index(keys)
        if not keys.is_monotonic_increasing:
            reach = None
    cores: list[tuple[int, int]] = []  # each chunk's own rows
    sent: list[tuple[int, int]] = []  # each chunk's rows with the overlap its windows need

    def bounds(n_workers: int) -> list[tuple[int, int]]:
        if reach is None or n == 0:
            cores[:] = sent[:] = [(0, n)]
            return sent
        before, after = reach
        per_chunk = max(1, 4 * (before + after + 1)) if isinstance(before, int) else 1
        cores[:] = chunk_bounds(n, max(1, min(4 * n_workers, n // per_chunk)))
        if isinstance(before, int):
            sent[:] = [(max(0, a - before), min(n, b + after)) for a, b in cores]
            return sent
        assert keys is not None
        starts = keys.searchsorted(keys[[a for a, _ in cores]] - before, side="left")
        stops = keys.searchsorted(keys[[b - 1 for _, b in cores]] + after, side="right")
        sent[:] = [(int(s), int(t)) for s, t in zip(starts, stops, strict=True)]
        return sent

    def finalize(parts: list[Any]) -> Any:
        trimmed = [p.iloc[a - s : b - s] for p, (a, b), (s, _) in zip(parts, cores, sent, strict=True)]
        merged = concat_rows(trimmed)
        return merged.iloc[::step] if step > 1 else merged

    return run_chunks(_RollingApply(attributes, func, args, kwargs), (obj,), options, finalize, bounds)
