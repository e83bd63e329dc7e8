"""``pmap_groups``: a function per group of rows, in parallel, never splitting a group."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .api import plan
from .data.groups import applied_object, apply_empty_groups, group_bounds, group_ids, group_layout
from .data.merge import MergeHow, check_merge
from .data.merge import merge as merge_parts
from .jobs import runtime
from .options import RunOptions
from .tracebacks import user_frames
from .worker.groups import ApplyGroups, SeedPerGroup

__all__ = ["pmap_groups"]


def _is_polars(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "polars"


def _key_columns(by: Any) -> list[str] | None:
    if isinstance(by, str):
        return [by]
    if isinstance(by, (list, tuple)) and all(isinstance(b, str) for b in by):
        return list(by)
    return None


def _group_ids(data: Any, by: Any, polars: bool, layout_ranks: np.ndarray, codes_order: np.ndarray) -> np.ndarray:
    """Each row's group number in the library's own group order; ``-1`` for rows pandas leaves out."""
    if polars:
        return layout_ranks
    keys = by if isinstance(by, (str, list, tuple)) else np.asarray(by)
    # numbered as the groups pandas' apply visits (with pandas 2.2's unobserved categories), not as ngroup()
    return np.asarray(group_ids(data.groupby(keys, sort=True, dropna=True)._grouper), dtype=np.int64)[codes_order]


def _empty_groups(
    gb: Any, present: list[int], func: Callable[[Any], Any], seed: int | None, per_group: bool
) -> tuple[list[int], list[Any], bool]:
    """``func`` on the groups without rows, which no worker saw: ``(group ids, results, mutated)``."""
    missing = sorted(set(range(gb._grouper.ngroups)) - set(present))
    obj = gb._selected_obj if per_group else applied_object(gb)
    results, mutated = apply_empty_groups(gb._grouper, obj, SeedPerGroup(func, seed, missing), missing)
    return missing, results, mutated


def _check_polars_results(results: list[Any]) -> None:
    import polars as pl

    for i, r in enumerate(results):
        if not isinstance(r, pl.DataFrame):
            raise pl.exceptions.ComputeError(
                f"pmap_groups on a polars DataFrame with merge='auto' joins the groups' results as "
                f"group_by(...).map_groups does, which needs a polars DataFrame from each group; group {i} "
                f"returned {type(r).__name__}. Return a DataFrame, or pass merge='list' (one result per group)"
            )


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
    by : str, list of str, array-like, or list of array-likes
        Column name(s), or one key per row (several keys: a list of arrays).
    merge : {"auto", "concat", "sum", "list"} or callable, default="auto"
        ``"auto"``: the library's own group-apply result (below). Otherwise the
        groups' results, in group order (pandas: sorted keys; polars: first
        appearance), are combined as by :func:`nbparallel.merge`: ``"list"``
        gives them as a list, a callable gets that list.
    n_jobs, backend, progress, background, retries, retry_delay, timeout, cache
        As for :func:`~nbparallel.pmap`.
    seed : int, optional
        Seed ``random`` and ``numpy.random`` for each group: group ``i`` of
        the library's own group order draws from
        ``nbparallel.seed_item`` ``(seed, i)``, so the numbers
        do not depend on ``n_jobs`` or on how groups are packed into chunks.
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
    columns = _key_columns(by)
    listed = columns is None and isinstance(by, (list, tuple))
    if listed and any(isinstance(b, str) for b in by):
        raise TypeError(
            "by mixes column names and arrays; pmap_groups takes column names or arrays of keys, not both: "
            "pass the columns as arrays too, e.g. [df['k'].to_numpy(), keys]"
        )
    layout = group_layout(data, by)
    rows = data[layout.order] if polars else data.iloc[layout.order]
    row_ranks = np.repeat(np.arange(layout.n_groups), layout.sizes)  # group of each laid-out row, layout order
    ids = _group_ids(data, by, polars, layout.ranks[row_ranks], layout.order)
    keys = [] if columns is not None or polars else [np.asarray(k) for k in by] if listed else [np.asarray(by)]
    datas: tuple[Any, ...] = (rows, ids, *(k[layout.order] for k in keys))

    def finalize(parts: list[tuple[list[int], list[Any], bool]]) -> Any:
        gb: Any = None if polars else data.groupby(by if columns is not None else keys if listed else keys[0])
        if gb is not None:  # pandas 2.2's categories without rows (observed=False) are groups too
            present = [i for part, _, _ in parts for i in part]
            parts = [*parts, _empty_groups(gb, present, func, options.seed, per_group)]
        order = [i for part, _, _ in parts for i in part]
        values = [v for _, part, _ in parts for v in part]
        results = [values[j] for j in np.argsort(order, kind="stable")]  # in the library's group order
        if per_group:
            return merge_parts(results, how)
        if polars:
            _check_polars_results(results)
            import polars as pl

            return pl.concat(results) if results else data.clear()
        mutated = any(m for _, _, m in parts)
        return gb._wrap_applied_output(applied_object(gb), results, not_indexed_same=mutated, is_transform=False)

    key = columns[0] if columns is not None and isinstance(by, str) else columns
    job = plan(
        func,
        datas,
        options,
        mode="chunk",
        finalize=finalize,
        bounds=lambda n_workers: group_bounds(layout.sizes, n_workers),
        wrap=functools.partial(
            ApplyGroups, by=key, polars=polars, per_group=per_group, seed=options.seed, listed=listed
        ),
    )
    return runtime.run(job, background=background)
