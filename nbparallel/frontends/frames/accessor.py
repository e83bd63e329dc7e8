"""``df.parallel`` and ``s.parallel``: pandas' methods with nbparallel's run options, in pandas' style.

Registered with :mod:`pandas.api.extensions` when pandas is imported (see
:mod:`.hook`).  Each method takes the pandas method's own arguments and,
keyword-only, how to run: ``n_jobs``, ``progress``, ``background`` (return a
:class:`~nbparallel.Job` at once), ``errors``, ``timeout``, ``retries``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ...options import RunOptions
from ...tracebacks import user_frames
from . import engine
from .grouped import groupby_apply as _groupby_apply

__all__ = ["FrameAccessor", "SeriesAccessor", "groupby_apply", "register"]


def _options(
    n_jobs: int | None, progress: bool | str | None, background: bool, errors: str, timeout: float | None, retries: int
) -> RunOptions:
    return RunOptions(
        n_jobs=n_jobs, progress=progress, background=background, errors=errors, timeout=timeout, retries=retries
    )


class FrameAccessor:
    """``df.parallel``: ``apply`` and ``map`` of a DataFrame on nbparallel's workers.

    Examples
    --------
    >>> import pandas as pd, nbparallel as nbp
    >>> df = pd.DataFrame({"a": [1, 2, 3], "b": [10, 20, 30]})
    >>> df.parallel.apply(lambda row: row.a + row.b, axis=1, n_jobs=2, progress=False).tolist()
    [11, 22, 33]
    """

    def __init__(self, obj: pd.DataFrame) -> None:
        self._obj = obj

    @user_frames
    def apply(
        self,
        func: Any,
        axis: Any = 0,
        raw: bool = False,
        result_type: str | None = None,
        args: tuple[Any, ...] = (),
        *,
        n_jobs: int | None = None,
        progress: bool | str | None = None,
        background: bool = False,
        errors: str = "raise",
        timeout: float | None = None,
        retries: int = 0,
        **kwargs: Any,
    ) -> Any:
        """``df.apply(func, axis, raw, result_type, args, **kwargs)``, rows (or columns) in chunks on the workers.

        Parameters
        ----------
        func, axis, raw, result_type, args, **kwargs
            As for ``pandas.DataFrame.apply``; the result ``.equals`` pandas' own.
        n_jobs : int, optional
            Workers (joblib meaning); default from :func:`nbparallel.config`.
        progress : bool or {"auto", "widget", "tqdm"}, optional
            A widget in a notebook, a text bar elsewhere.
        background : bool, default=False
            Return a started :class:`~nbparallel.Job` at once.
        errors : {"raise", "collect"}, default="raise"
            ``"collect"``: a failing chunk does not stop the others (see
            :func:`nbparallel.pmap_chunks`).
        timeout : float, optional
            Seconds a chunk may run.
        retries : int, default=0
            Run a failing chunk again up to this many times.

        Returns
        -------
        Series, DataFrame or Job

        Examples
        --------
        >>> import pandas as pd, nbparallel as nbp
        >>> df = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
        >>> df.parallel.apply(sum, n_jobs=2, progress=False).to_dict()
        {'a': 3, 'b': 7}
        """
        kwargs.update(raw=raw, result_type=result_type, args=args)
        return engine.apply_frame(
            self._obj, func, axis, kwargs, _options(n_jobs, progress, background, errors, timeout, retries)
        )

    @user_frames
    def map(
        self,
        func: Any,
        na_action: str | None = None,
        *,
        n_jobs: int | None = None,
        progress: bool | str | None = None,
        background: bool = False,
        errors: str = "raise",
        timeout: float | None = None,
        retries: int = 0,
        **kwargs: Any,
    ) -> Any:
        """``df.map(func, na_action, **kwargs)``: ``func`` on every value, rows in chunks on the workers.

        Parameters
        ----------
        func, na_action, **kwargs
            As for ``pandas.DataFrame.map``.
        n_jobs, progress, background, errors, timeout, retries
            As for :meth:`~nbparallel.frontends.frames.accessor.FrameAccessor.apply`.

        Returns
        -------
        DataFrame or Job

        Examples
        --------
        >>> import pandas as pd, nbparallel as nbp
        >>> pd.DataFrame({"a": [1, 2]}).parallel.map(lambda x: x * 10, n_jobs=2, progress=False).a.tolist()
        [10, 20]
        """
        kwargs["na_action"] = na_action
        return engine.map_frame(
            self._obj, func, kwargs, _options(n_jobs, progress, background, errors, timeout, retries)
        )


class SeriesAccessor:
    """``s.parallel``: ``apply`` and ``map`` of a Series on nbparallel's workers.

    Examples
    --------
    >>> import pandas as pd, nbparallel as nbp
    >>> pd.Series([1, 2, 3]).parallel.map(lambda x: x * x, n_jobs=2, progress=False).tolist()
    [1, 4, 9]
    """

    def __init__(self, obj: pd.Series) -> None:
        self._obj = obj

    @user_frames
    def apply(
        self,
        func: Any,
        args: tuple[Any, ...] = (),
        *,
        n_jobs: int | None = None,
        progress: bool | str | None = None,
        background: bool = False,
        errors: str = "raise",
        timeout: float | None = None,
        retries: int = 0,
        **kwargs: Any,
    ) -> Any:
        """``s.apply(func, args, **kwargs)``, values in chunks on the workers.

        Parameters
        ----------
        func, args, **kwargs
            As for ``pandas.Series.apply`` (``by_row=False`` hands the
            whole Series to ``func``: nothing to split, so it is refused).
        n_jobs, progress, background, errors, timeout, retries
            As for :meth:`~nbparallel.frontends.frames.accessor.FrameAccessor.apply`.

        Returns
        -------
        Series, DataFrame or Job

        Examples
        --------
        >>> import pandas as pd, nbparallel as nbp
        >>> pd.Series(["a", "bb"]).parallel.apply(len, n_jobs=2, progress=False).tolist()
        [1, 2]
        """
        if kwargs.get("by_row", "compat") is False:
            raise ValueError("by_row=False passes the whole Series to func: there is nothing to split; call s.apply")
        kwargs["args"] = args
        return engine.apply_series(
            self._obj, func, kwargs, _options(n_jobs, progress, background, errors, timeout, retries)
        )

    @user_frames
    def map(
        self,
        arg: Any,
        na_action: str | None = None,
        *,
        n_jobs: int | None = None,
        progress: bool | str | None = None,
        background: bool = False,
        errors: str = "raise",
        timeout: float | None = None,
        retries: int = 0,
        **kwargs: Any,
    ) -> Any:
        """``s.map(arg, na_action, **kwargs)`` with ``arg`` a function, a dict or a Series, values in chunks.

        Parameters
        ----------
        arg, na_action, **kwargs
            As for ``pandas.Series.map``.
        n_jobs, progress, background, errors, timeout, retries
            As for :meth:`~nbparallel.frontends.frames.accessor.FrameAccessor.apply`.

        Returns
        -------
        Series or Job

        Examples
        --------
        >>> import pandas as pd, nbparallel as nbp
        >>> pd.Series([1, 2]).parallel.map({1: "one", 2: "two"}, n_jobs=2, progress=False).tolist()
        ['one', 'two']
        """
        kwargs["na_action"] = na_action
        return engine.map_series(
            self._obj, arg, kwargs, _options(n_jobs, progress, background, errors, timeout, retries)
        )


@user_frames
def groupby_apply(
    grouped: Any,
    func: Any,
    *args: Any,
    n_jobs: int | None = None,
    progress: bool | str | None = None,
    background: bool = False,
    errors: str = "raise",
    timeout: float | None = None,
    retries: int = 0,
    **kwargs: Any,
) -> Any:
    """``grouped.apply(func, *args, **kwargs)`` in parallel, whole groups per worker: made for ``.pipe``.

    Parameters
    ----------
    grouped : pandas DataFrameGroupBy or SeriesGroupBy
        ``df.groupby(...)`` with one or several keys (columns, arrays, levels).
    func : callable
        Called with each group (its ``name`` is the group's key).
    *args, **kwargs
        Passed on to ``func``, as pandas does.
    n_jobs, progress, background, errors, timeout, retries
        As for :meth:`~nbparallel.frontends.frames.accessor.FrameAccessor.apply`.

    Returns
    -------
    object or Job
        What ``grouped.apply(func, *args, **kwargs)`` returns (``.equals`` it).

    Examples
    --------
    >>> import pandas as pd, nbparallel as nbp
    >>> df = pd.DataFrame({"k": ["a", "b", "a"], "x": [1, 2, 3]})
    >>> df.groupby("k").pipe(nbp.groupby_apply, lambda g: g.x.sum(), n_jobs=2, progress=False).to_dict()
    {'a': 4, 'b': 2}
    """
    return _groupby_apply(grouped, func, args, kwargs, _options(n_jobs, progress, background, errors, timeout, retries))


_registered = False


def register() -> None:
    """Register ``parallel`` on pandas' DataFrame and Series (once; again does nothing).

    Examples
    --------
    >>> import pandas as pd
    >>> register()
    >>> isinstance(pd.Series([1]).parallel, SeriesAccessor)
    True
    """
    global _registered
    if _registered:
        return
    pd.api.extensions.register_dataframe_accessor("parallel")(FrameAccessor)
    pd.api.extensions.register_series_accessor("parallel")(SeriesAccessor)
    _registered = True


# Importing this module imports pandas: the accessors are due now (the import hook
# may have found this module half-imported when pandas' import went through it).
register()
