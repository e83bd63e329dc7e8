"""``imap``: results as they finish, over inputs read lazily (generators, files, endless iterators)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .backends import get_backend
from .data.partition import kind_of
from .jobs import runtime
from .jobs.stream import StreamJob
from .options import RunOptions
from .tracebacks import user_frames

__all__ = ["imap", "plan_stream"]

T = TypeVar("T")


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _check(data: Any) -> None:
    if not isinstance(data, Iterable):
        raise TypeError(f"imap reads an iterable (a list, a generator, a file...), got {type(data).__name__}")
    if isinstance(data, Iterator):
        return
    try:
        refusal = kind_of(data).pmap_refusal
    except TypeError:  # not a kind pmap splits (a set, a custom iterable): read it as it iterates
        return
    if refusal:  # tables iterate columns, not rows (the message says what to do)
        raise TypeError(refusal)


def plan_stream(
    func: Callable[..., Any], datas: tuple[Any, ...], options: RunOptions, *, keep: bool, ordered: bool = True
) -> StreamJob:
    """Build a job that reads ``datas`` lazily (nothing runs yet).

    Parameters
    ----------
    func : callable
        Called once per item.
    datas : tuple of iterables
        The input(s), zipped like ``map`` (the shortest one ends the stream).
    options : RunOptions
        How to run (merged with ``config()`` here).
    keep : bool
        Keep the results on the job (``pmap`` over an iterator) instead of
        handing them out as they finish (``imap``).
    ordered : bool, default=True
        Hand out results in input order.

    Returns
    -------
    StreamJob
    """
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}: {func!r}")
    for d in datas:
        _check(d)
    if options.cache is not None:
        raise ValueError("cache= needs an input with a length: streamed chunks have no fixed bounds to key them by")
    if options.chunks is not None:
        raise ValueError("chunks= needs the input's length; give chunk_size= for streamed input")
    options = options.resolved()
    assert options.backend is not None
    backend = get_backend(options.backend)
    n_workers = backend.workers(options.n_jobs)
    backend = backend.for_workers(n_workers)
    lengths = [_length(d) for d in datas]
    length = None if None in lengths else min(n for n in lengths if n is not None)
    label = getattr(func, "__name__", type(func).__name__)

    def chain(parts: list[list[Any]]) -> list[Any] | None:
        return [v for part in parts for v in part] if keep else None

    return StreamJob(
        func,
        tuple(iter(d) for d in datas),
        chain,
        length=length,
        keep=keep,
        ordered=ordered,
        options=options,
        backend=backend,
        n_workers=n_workers,
        label=label,
    )


@user_frames
def imap(
    func: Callable[..., T],
    data: Iterable[Any],
    *more_data: Iterable[Any],
    ordered: bool = True,
    n_jobs: int | None = None,
    chunk_size: int | None = None,
    backend: str | None = None,
    progress: bool | str | None = None,
    background: bool = False,
    retries: int = 0,
    retry_delay: float = 0.0,
    timeout: float | None = None,
    seed: int | None = None,
    errors: str = "raise",
) -> Iterator[T] | StreamJob:
    """Parallel ``map(func, data)`` whose results arrive as they finish; the input is read lazily.

    Only a few chunks per worker are read ahead, so generators, files read line
    by line and endless iterators work and memory does not grow with the
    input. Chunks start with one item and grow while items are cheap, so the
    first result arrives about one item's time after the call. Breaking out of
    the loop, ``close()``, dropping the iterator, the Cancel button and a
    kernel interrupt cancel the rest; workers go idle at once.

    Parameters
    ----------
    func : callable
        Called once per item (``func(x, y, ...)`` with several inputs).
    data : iterable
        The items, read as they are needed.
    *more_data
        Further iterables zipped with ``data`` like ``map`` (the shortest ends it).
    ordered : bool, default=True
        ``True``: results in input order (a bounded reorder buffer);
        ``False``: in the order chunks finish.
    n_jobs, backend, progress, retries, retry_delay, timeout
        As for :func:`~nbparallel.pmap`; the progress display counts items
        and shows the rate (and the total when the input has a length).
    chunk_size : int, optional
        Fixed items per chunk instead of sizes measured from item cost.
    background : bool, default=False
        Return the started job at once; iterate it (``for r in job``) to get
        the results.
    seed : int, optional
        Item ``i`` gets the same random stream as in ``pmap(..., seed=seed)``.
    errors : {"raise", "collect"}, default="raise"
        ``"collect"``: a failing item yields an :class:`~nbparallel.Failed`
        record in its place and the stream goes on.

    Returns
    -------
    iterator or Job
        The results, or the job (iterable once) when ``background=True``.

    Raises
    ------
    Exception
        In the loop, the first failing chunk's own exception (``errors="raise"``),
        naming the item, after the results before it.

    Examples
    --------
    >>> import itertools
    >>> import nbparallel as nbp
    >>> list(nbp.imap(lambda x: x * x, range(5), n_jobs=2, progress=False))
    [0, 1, 4, 9, 16]
    >>> for square in nbp.imap(lambda x: x * x, itertools.count(), n_jobs=1, progress=False):
    ...     if square > 50:
    ...         break
    >>> square
    64
    """
    options = RunOptions.from_arguments(locals())
    if ordered not in (True, False):
        raise TypeError(f"ordered must be True or False, got {ordered!r}")
    job = plan_stream(func, (data, *more_data), options, keep=False, ordered=ordered)
    if background:
        return runtime.run(job, background=True)
    return runtime.open_stream(job)
