"""``pmap_groups``: a function per group of rows, in parallel, never splitting a group."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from .api import plan
from .data.groups import group_bounds, group_layout
from .data.merge import MergeHow, check_merge
from .data.merge import merge as merge_parts
from .jobs import runtime
from .options import RunOptions
from .tracebacks import user_frames

__all__ = ["pmap_groups"]


def _is_polars(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "polars"


def _key_columns(by: Any) -> list[str] | None:
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and all(isinstance(b, str) for b in by):
        return list(by)
    return None


class _Missing:
    """The entry of a group whose key is missing (NaN, None): pandas' ``groupby`` leaves such groups out."""


def _has_missing(name: Any) -> bool:
    import pandas as pd

    return any(pd.isna(part) for part in (name if isinstance(name, tuple) else (name,)))


def _named(group: Any, name: Any) -> Any:
    """``group`` with its key as ``.name``, as pandas' own ``apply`` gives it."""
    object.__setattr__(group, "name", name)
    return group


class _ApplyGroups:
    """What each worker runs on a chunk of whole groups: the library's own group-apply."""

    def __init__(self, func: Callable[[Any], Any], by: Any, polars: bool, per_group: bool) -> None:
        self.func = func
        self.by = by  # column name(s); ``None`` when the keys come as a second input
        self.polars = polars
        self.per_group = per_group  # a list of the groups' results instead of pandas' apply (polars: always)
        self.__name__ = getattr(func, "__name__", "pmap_groups")

    def __call__(self, chunk: Any, keys: Any = None) -> Any:
        if not self.polars:
            key = self.by if keys is None else np.asarray(keys)
            if self.per_group:  # in the chunk's (layout) order: groups as they appear, one entry each
                groups = chunk.groupby(key, sort=False, dropna=False)  # as the layout counts them
                return [_Missing() if _has_missing(name) else self.func(_named(g, name)) for name, g in groups]
            return chunk.groupby(key, sort=True).apply(self.func)
        if keys is None:
            return [self.func(g) for _, g in chunk.group_by(self.by, maintain_order=True)]
        keys = np.asarray(keys)
        cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1  # groups are contiguous in a chunk
        edges = [0, *cuts.tolist(), len(keys)]
        return [self.func(chunk[a:b]) for a, b in itertools.pairwise(edges) if b > a]


@user_frames
def pmap_groups(
    func: Callable[[Any], Any],
    data: Any,
    by: Any,
    *,
    merge: MergeHow = "auto",
    n_jobs: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
    background: bool = False,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    cache: Any = None,
    seed: int | None = None,
    errors: str = "raise",
) -> Any:
    """``data.groupby(by).apply(func)`` in parallel: each worker gets whole groups.

    Groups are laid out largest first and packed into chunks that shrink as the
    work runs out, so one big group does not leave the other workers idle at
    the end.

    Parameters
    ----------
    func : callable
        Called once per group with that group's rows.
    data : pandas.DataFrame or polars.DataFrame
        The rows.
    by : str, list of str, or array-like
        Column name(s), or one key per row.
    merge : {"auto", "concat", "sum", "list"} or callable, default="auto"
        ``"auto"``: the library's own group-apply result (below). Otherwise the
        groups' results, in group order (pandas: sorted keys; polars: first
        appearance), are combined as by :func:`nbparallel.merge`: ``"list"``
        gives them as a list, a callable gets that list.
    n_jobs, backend, progress, background, retries, retry_delay, timeout, cache, seed
        As for :func:`~nbparallel.pmap`.
    errors : {"raise", "collect"}, default="raise"
        As for :func:`~nbparallel.pmap_chunks`: with ``"collect"`` a failing
        chunk of groups does not stop the others, the job fails listing every
        failed chunk, and ``job.retry_failed(fixed_func)`` reruns only those.

    Returns
    -------
    object or Job
        With ``merge="auto"``, pandas: equal to ``data.groupby(by).apply(func)``
        (pandas' own rules for scalar, Series and DataFrame results, group keys
        kept, keys sorted); polars: equal to
        ``data.group_by(by, maintain_order=True).map_groups(func)`` (``func``
        returns a DataFrame). The job when ``background=True``.

    Examples
    --------
    >>> import pandas as pd, nbparallel as nbp
    >>> df = pd.DataFrame({"k": ["a", "b", "a", "c"], "x": [1, 2, 3, 4]})
    >>> nbp.pmap_groups(lambda g: g.x.sum(), df, "k", n_jobs=2, progress=False).to_dict()
    {'a': 4, 'b': 2, 'c': 4}
    >>> nbp.pmap_groups(len, df, "k", merge="list", n_jobs=2, progress=False)
    [2, 1, 1]
    """
    options = RunOptions.from_arguments(locals())
    how = check_merge(merge)
    per_group = how != "auto"
    polars = _is_polars(data)
    layout = group_layout(data, by)
    columns = _key_columns(by)
    rows = data[layout.order] if polars else data.iloc[layout.order]
    datas: tuple[Any, ...] = (rows,) if columns is not None else (rows, np.asarray(by)[layout.order])
    ranks = layout.ranks
    n_levels = len(columns) if columns is not None else 1

    def finalize(parts: list[Any]) -> Any:
        if polars or per_group:
            results = [r for part in parts for r in part]  # in layout order
            ordered = [results[i] for i in np.argsort(ranks, kind="stable")]
            if per_group:
                return merge_parts([r for r in ordered if not isinstance(r, _Missing)], how)
            import polars as pl

            return pl.concat(ordered) if ordered else data.clear()
        import pandas as pd

        merged = pd.concat([p for p in parts if len(p)]) if any(len(p) for p in parts) else parts[0]
        return merged.sort_index(level=list(range(n_levels)), sort_remaining=False, kind="stable")

    key = columns[0] if columns is not None and isinstance(by, str) else columns
    job = plan(
        func,
        datas,
        options,
        mode="chunk",
        finalize=finalize,
        bounds=lambda n_workers: group_bounds(layout.sizes, n_workers),
        wrap=functools.partial(_ApplyGroups, by=key, polars=polars, per_group=per_group),
    )
    return runtime.run(job, background=background)
