"""``from nbparallel import pandarallel``: pandarallel 1.6.5's API on nbparallel's workers, for pandas 2 and 3.

``pandarallel.initialize(...)`` adds the methods pandarallel adds, with its
argument names; each one runs pandas' own method on chunks (see
:mod:`.engine`, :mod:`.windows`, :mod:`.grouped`) and gives what pandas' method
gives on the whole input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ...backends.warmup import want_warm_up
from ...options import RunOptions
from ...tracebacks import user_frames
from . import engine
from .compat import window_and_groupby_classes
from .grouped import groupby_apply, grouped_window_apply
from .windows import rolling_apply

__all__ = ["pandarallel"]

_options = RunOptions(progress=False)


def _frame_apply(
    self: pd.DataFrame, func: Any, axis: Any = 0, raw: bool = False, result_type: str | None = None, args: tuple[Any, ...] = (), **kwargs: Any
) -> Any:  # fmt: skip
    kwargs.update(raw=raw, result_type=result_type, args=args)
    return engine.apply_frame(self, func, axis, kwargs, _options)


def _frame_map(self: pd.DataFrame, func: Any, na_action: str | None = None, **kwargs: Any) -> Any:
    return engine.map_frame(self, func, dict(kwargs, na_action=na_action), _options)


def _series_apply(self: pd.Series, func: Any, args: tuple[Any, ...] = (), **kwargs: Any) -> Any:
    return engine.apply_series(self, func, dict(kwargs, args=args), _options)


def _series_map(self: pd.Series, arg: Any, na_action: str | None = None, **kwargs: Any) -> Any:
    return engine.map_series(self, arg, dict(kwargs, na_action=na_action), _options)


def _groupby_apply(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
    return groupby_apply(self, func, args, kwargs, _options)


def _rolling_apply(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
    return rolling_apply(self, func, args, kwargs, _options)


def _grouped_window_apply(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
    return grouped_window_apply(self, func, args, kwargs, _options)


def _methods() -> list[tuple[type, str, Callable[..., Any]]]:
    """Where each method goes: (class, name, function)."""
    classes = window_and_groupby_classes()
    return [
        (pd.DataFrame, "parallel_apply", _frame_apply),
        (pd.DataFrame, "parallel_applymap", _frame_map),
        (pd.DataFrame, "parallel_map", _frame_map),
        (pd.Series, "parallel_apply", _series_apply),
        (pd.Series, "parallel_map", _series_map),
        (classes["Rolling"], "parallel_apply", _rolling_apply),
        (classes["DataFrameGroupBy"], "parallel_apply", _groupby_apply),
        (classes["SeriesGroupBy"], "parallel_apply", _groupby_apply),
        (classes["RollingGroupBy"], "parallel_apply", _grouped_window_apply),
        (classes["ExpandingGroupBy"], "parallel_apply", _grouped_window_apply),
    ]


class pandarallel:
    """pandarallel's entry point: ``pandarallel.initialize()`` then ``df.parallel_apply(...)``.

    Examples
    --------
    >>> import pandas as pd
    >>> from nbparallel import pandarallel
    >>> pandarallel.initialize(nb_workers=2, verbose=0)
    >>> pd.Series([1, 2, 3]).parallel_map(lambda x: x * 2).tolist()
    [2, 4, 6]
    """

    @classmethod
    def initialize(
        cls,
        shm_size_mb: int | None = None,
        nb_workers: int | None = None,
        progress_bar: bool = False,
        verbose: int = 2,
        use_memory_fs: bool | None = None,
    ) -> None:
        """Add the ``parallel_*`` methods to pandas, as pandarallel 1.6.5 does, and warm the workers for them.

        The workers (those running now, in the background, and those started
        later) import pandas and the pandas front end: they did not before,
        as an idle worker holds only what the user uses.

        Parameters
        ----------
        shm_size_mb : int, optional
            Ignored (pandarallel deprecated it too).
        nb_workers : int, optional
            Worker processes; default: nbparallel's configured default (all cores).
        progress_bar : bool, default=False
            Show nbparallel's progress widget in a notebook (a text bar elsewhere).
        verbose : int, default=2
            ``2`` prints how the work will run, as pandarallel does; ``0`` or ``1`` print nothing.
        use_memory_fs : bool, optional
            Accepted for compatibility and otherwise ignored: large numeric frames
            already travel to the workers through shared memory.

        Examples
        --------
        >>> pandarallel.initialize(nb_workers=2, progress_bar=False)
        INFO: nbparallel (pandarallel drop-in) will run on 2 workers.
        INFO: large numeric frames travel through shared memory; use_memory_fs is not needed.
        """
        global _options
        _options = RunOptions(n_jobs=nb_workers, progress=bool(progress_bar))
        want_warm_up(engine.preload)  # the workers import pandas now, not in the first call
        if verbose >= 2:
            from ...settings import effective_n_jobs

            print(f"INFO: nbparallel (pandarallel drop-in) will run on {effective_n_jobs(nb_workers)} workers.")
            print("INFO: large numeric frames travel through shared memory; use_memory_fs is not needed.")
        for owner, name, function in _methods():
            setattr(owner, name, user_frames(function))
