"""``pmap`` and ``pmap_chunks``: the plain API that everything else calls."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from .backends import get_backend
from .data import pace
from .data.inputs import is_lazy, lockstep, rows_of
from .data.merge import MergeHow, check_merge
from .data.merge import merge as merge_parts
from .data.partition import aligned_length, chunk_bounds, guided_bounds, kind_of
from .data.shared import SHARE_ABOVE, new_folder, remove_folder, share_input
from .jobs import runtime
from .jobs.job import Job
from .options import RunOptions
from .settings import whole_number
from .tracebacks import user_frames
from .worker.task import ChunkTask

__all__ = ["pmap", "pmap_chunks", "plan", "plan_bounds"]

T = TypeVar("T")

#: Chunks per worker that ``pmap_chunks`` makes when ``chunks`` is not given.
CHUNKS_PER_WORKER = 4


def plan_bounds(
    n_items: int,
    n_workers: int,
    *,
    chunks: int | None = None,
    chunk_size: int | None = None,
    default: str = "guided",
) -> list[tuple[int, int]]:
    """Choose chunk bounds from ``chunks`` or ``chunk_size`` or the default policy.

    Parameters
    ----------
    n_items : int
        Number of items.
    n_workers : int
        Number of workers.
    chunks : int, optional
        Exact number of chunks (``np.array_split`` sizes).
    chunk_size : int, optional
        Items per chunk (the last one may be smaller).
    default : {"guided", "even"}, default="guided"
        Policy when neither is given: ``"guided"`` chunks shrink as work runs
        out (see :func:`~nbparallel.data.partition.guided_bounds`); ``"even"`` is
        ``4 * n_workers`` equal chunks.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> plan_bounds(10, 2, chunk_size=4)
    [(0, 4), (4, 8), (8, 10)]
    """
    if chunks is not None and chunk_size is not None:
        raise ValueError("give either chunks or chunk_size, not both")
    if chunk_size is not None:
        if whole_number(chunk_size) is None or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        chunk_size = int(chunk_size)
        if n_items == 0:
            return [(0, 0)]
        return [(a, min(a + chunk_size, n_items)) for a in range(0, n_items, chunk_size)]
    if chunks is not None:
        return chunk_bounds(n_items, chunks)
    if default == "guided":
        return guided_bounds(n_items, n_workers)
    return chunk_bounds(n_items, CHUNKS_PER_WORKER * n_workers)


def plan(
    func: Callable[..., Any],
    datas: tuple[Any, ...],
    options: RunOptions,
    *,
    mode: str,
    finalize: Callable[[list[Any]], Any],
    bounds: Callable[[int], list[tuple[int, int]]] | None = None,
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None,
) -> Job:
    """Validate everything in the caller's thread, then build the job (nothing runs yet).

    Parameters
    ----------
    func : callable
        The user's function.
    datas : tuple
        The input(s), aligned.
    options : RunOptions
        How to run (merged with ``config()`` here).
    mode : {"items", "chunk"}
        ``func`` per item (``pmap``) or per chunk (``pmap_chunks``).
    finalize : callable
        Merges the chunk results into the call's result.
    bounds : callable, optional
        ``bounds(n_workers)`` gives the chunks' ``(start, stop)`` rows (say, never
        splitting a group); by default they follow ``options``.
    wrap : callable, optional
        Makes what the workers run from the user's function (say, a group-apply
        around it); applied again to a fixed function given to ``retry_failed``.

    Returns
    -------
    Job
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}: {func!r}")
    options = options.resolved()
    assert options.backend is not None
    backend = get_backend(options.backend)
    n_workers = backend.workers(options.n_jobs)
    backend = backend.for_workers(n_workers)
    star = len(datas) > 1
    n_items = aligned_length(datas)  # rows of every kind (len() fails on sparse matrices)
    kinds = [kind_of(d) for d in datas]
    label = getattr(func, "__name__", type(func).__name__)
    learned = None
    if bounds is None and mode == "items" and wrap is None and options.chunks is None and options.chunk_size is None:
        learned = pace.learned_bounds(func, n_items, n_workers, options)  # cheap last time, and the split cannot show
    if bounds is not None:
        chunk_rows = bounds(n_workers)
    elif learned is not None:
        chunk_rows = learned
    else:
        chunk_rows = plan_bounds(
            n_items,
            n_workers,
            chunks=options.chunks,
            chunk_size=options.chunk_size,
            default="guided" if mode == "items" else "even",
        )
    if mode == "items":  # a chunk of no items calls nothing: not sent (an empty pmap runs no chunk)
        chunk_rows = [(a, b) for a, b in chunk_rows if b > a]
    shared_folder = None
    if backend.shares_memory and backend.processes:  # last: nothing after this may fail
        datas, shared_folder = _share_large_arrays(datas, mode)

    def payload(a: int, b: int) -> Any:
        if not star:
            return kinds[0].take(datas[0], a, b)
        return tuple([k.take(d, a, b) for k, d in zip(kinds, datas, strict=True)])

    result_folder = shared_folder if mode == "chunk" else None
    tasks = [
        ChunkTask(
            i,
            a,
            b,
            payload(a, b),
            mode,
            star,
            seed=options.seed,
            share_folder=result_folder,
            timeout=options.timeout,
            collect=options.errors == "collect",
        )
        for i, (a, b) in enumerate(chunk_rows)
    ]
    return Job(
        func,
        tasks,
        finalize,
        options=options,
        backend=backend,
        n_workers=n_workers,
        n_items=n_items,
        label=label,
        shared_folder=shared_folder,
        wrap=wrap,
    )


def _share_large_arrays(datas: tuple[Any, ...], mode: str) -> tuple[tuple[Any, ...], str | None]:
    """Large arrays go to workers through one memmap; chunk results come back through its folder.

    The folder is in shared memory when it has room, else on disk in the
    temporary folder; with no room anywhere the arrays are pickled per chunk.
    """
    big = [
        type(d) is np.ndarray  # not a subclass: a masked array written to the memmap would lose its mask
        and d.nbytes >= SHARE_ABOVE
        and not d.dtype.hasobject
        for d in datas
    ]
    if not any(big) and mode != "chunk":
        return datas, None
    need = sum(d.nbytes for d, b in zip(datas, big, strict=True) if b)
    for disk in (False, True):
        try:
            folder = new_folder(need, disk=disk)
        except OSError:
            continue
        try:
            return tuple(share_input(d, folder) if b else d for d, b in zip(datas, big, strict=True)), folder
        except OSError:  # no room after all (someone else filled it): try the disk, then pickling
            remove_folder(folder)
    return datas, None


@user_frames
def pmap(
    func: Callable[..., T],
    data: Any,
    *more_data: Any,
    n_jobs: int | None = None,
    chunks: int | None = None,
    chunk_size: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
    background: bool = False,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    cache: Any = None,
    seed: int | None = None,
    errors: str = "raise",
) -> list[T] | Job:
    """Parallel ``[func(x) for x in data]``, order kept.

    Items are grouped into contiguous chunks that run on worker processes
    (joblib/loky). By default chunks shrink as work runs out, so uneven item
    costs still keep every worker busy and cheap items cost little overhead.
    Functions, lambdas and closures defined in a notebook work.

    Parameters
    ----------
    func : callable
        Called once per item (``func(x)``; ``func(x, y, ...)`` with several inputs).
    data : ndarray, list, tuple, range, Series, iterator or any iterable
        The items (rows of arrays), as ``for x in data`` gives them. Iterators
        (generators, files) are read lazily, a few chunks ahead, and not kept:
        only the results are.
    *more_data
        Further inputs of the same length, zipped with ``data`` like ``map``;
        a ``ValueError`` when their lengths differ (for iterators, as soon as
        one of them ends before the others).
    n_jobs : int, optional
        Workers, joblib meaning (``-1`` all cores); default from :func:`config`.
    chunks : int, optional
        Exact number of chunks (``np.array_split`` sizes).
    chunk_size : int, optional
        Items per chunk.
    backend : {"loky", "threading", "dask"}, optional
        Where work runs; default from :func:`config` (``"loky"``). ``"dask"``
        runs on the current dask.distributed Client (or
        ``config(dask_address=...)``); ``n_jobs`` then defaults to the
        cluster's threads.
    progress : bool or {"auto", "widget", "tqdm"}, optional
        Progress display: a widget in a notebook, a text bar elsewhere.
        ``"auto"`` (default) shows nothing for foreground work that ends
        within about a second.
    background : bool, default=False
        Return a started :class:`~nbparallel.Job` at once instead of waiting;
        the kernel stays free while workers compute.
    retries : int, default=0
        Run a failing chunk again up to this many times before giving up
        (``job.n_retries`` counts them).
    retry_delay : float, default=0
        Seconds to wait before each round of retries.
    timeout : float, optional
        Seconds a chunk may run; a longer one is stopped and fails with
        :class:`~nbparallel.ChunkTimeout` naming the chunk. The chunks are this
        call's own (guided, or as ``chunks``/``chunk_size`` say), whatever ran
        before: a timeout, ``retries``, ``cache``, ``background`` or a progress
        display asked for keep earlier calls' costs out of the split (see
        ``nbparallel.data.pace``).
    cache : str, path or joblib.Memory, optional
        Folder where each finished chunk's result is stored, keyed by the
        function's code, the chunk's data and the seed. A re-run (after a
        crash or a kernel restart) computes only the missing chunks.
    seed : int, optional
        Each item ``i`` runs with Python's ``random`` and NumPy's global
        generator seeded from ``np.random.SeedSequence(seed, spawn_key=(i,))``
        (see :func:`~nbparallel.seed_item`): results do not depend on
        ``n_jobs``, chunking or backend. Threads share those generators, so
        on the threading backend seeded items run one at a time.
    errors : {"raise", "collect"}, default="raise"
        ``"raise"``: the first failing item stops the job and its exception
        is raised. ``"collect"``: a failing item becomes an
        :class:`~nbparallel.Failed` record in its place, every other item is
        computed, a one-line warning says how many failed; ``job.errors``
        lists them and ``job.retry_failed(fixed_func)`` reruns only them.

    Returns
    -------
    list or Job
        ``[func(x) for x in data]``, or the job when ``background=True``.

    Raises
    ------
    Exception
        The first failing chunk's own exception (catchable by its type), with a
        note naming the chunk and item and the worker traceback as ``__cause__``.

    Examples
    --------
    >>> import nbparallel as nbp
    >>> nbp.pmap(lambda x: x * x, range(6), n_jobs=2, progress=False)
    [0, 1, 4, 9, 16, 25]
    >>> nbp.pmap(pow, [2, 3], [3, 2], n_jobs=1, progress=False)
    [8, 9]
    >>> job = nbp.pmap(abs, [-1, -2], background=True, progress=False)
    >>> job.result()
    [1, 2]
    """
    options = RunOptions.from_arguments(locals())
    datas = tuple([rows_of(d) for d in (data, *more_data)])  # any iterable, read as a loop reads it
    if any(map(is_lazy, datas)):
        if chunks is None and cache is None:  # read lazily: memory goes to the results only
            from .streaming import plan_stream

            if len(datas) > 1:  # one length, or the error lists of different lengths give
                datas = lockstep(datas)
            return runtime.run(plan_stream(func, datas, options, keep=True), background=background)
        datas = tuple(list(d) if isinstance(d, Iterator) else d for d in datas)  # chunks=, cache= need lengths
    for d in datas:
        if kind_of(d).pmap_refusal:  # tables iterate columns, not rows (the message says what to do)
            raise TypeError(kind_of(d).pmap_refusal)
    job = plan(func, datas, options, mode="items", finalize=lambda parts: list(itertools.chain.from_iterable(parts)))
    if job.n_items == 0 and not background:
        return []
    return runtime.run(job, background=background)


@user_frames
def pmap_chunks(
    func: Callable[..., Any],
    data: Any,
    *more_data: Any,
    merge: MergeHow = "auto",
    n_jobs: int | None = None,
    chunks: int | None = None,
    chunk_size: int | None = None,
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
    """Call ``func`` on whole chunks in parallel and merge the results.

    Equal to ``merge([func(c) for c in partition(data, n)], how=merge)``.

    Parameters
    ----------
    func : callable
        Called once per chunk (``func(chunk)``; ``func(chunk_a, chunk_b, ...)``
        with several aligned inputs).
    data : ndarray, list, tuple, range, DataFrame or Series
        What to split (rows).
    *more_data
        Further inputs of the same length, split in lockstep.
    merge : {"auto", "concat", "sum", "list"} or callable, default="auto"
        How chunk results are combined (see :func:`nbparallel.merge`).
    n_jobs, chunks, chunk_size, backend, progress, background, retries, retry_delay, timeout, cache
        As for :func:`pmap`; by default there are ``4 * n_jobs`` equal chunks.
    seed : int, optional
        Seeds ``random`` and NumPy once per chunk, from the chunk's first item index.
    errors : {"raise", "collect"}, default="raise"
        ``"collect"``: a failing chunk does not stop the others; the job then
        fails listing every failed chunk (``job.errors``), and
        ``job.retry_failed(fixed_func)`` reruns only those.

    Returns
    -------
    object or Job
        The merged result, or the job when ``background=True``.

    Examples
    --------
    >>> import numpy as np, nbparallel as nbp
    >>> nbp.pmap_chunks(lambda c: c * 2, np.arange(6), n_jobs=2, progress=False).tolist()
    [0, 2, 4, 6, 8, 10]
    >>> nbp.pmap_chunks(sum, list(range(10)), merge="sum", chunks=3, progress=False)
    45
    """
    how = check_merge(merge)
    options = RunOptions.from_arguments(locals())
    job = plan(
        func, (data, *more_data), options, mode="chunk", finalize=lambda parts: merge_parts(parts, how, source=data)
    )
    return runtime.run(job, background=background)
