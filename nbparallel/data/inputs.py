"""What ``pmap`` reads: any iterable, as the loop ``[f(x) for x in data]`` reads it; several inputs in lockstep.

A kind that splits into chunks (:mod:`nbparallel.data.kinds`) stays as it is.
Any other iterable is read as a loop would read it: one with a length (a
``deque``, a ``str``, ``dict.keys()``, a ``pd.Index``) becomes a list, one
without a length is read lazily like a generator.

Several inputs must have one length.  Inputs with a length are compared at
once; when one of them is an iterator, :func:`lockstep` reads them together and
fails with the same ``ValueError`` as soon as one ends before the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any

from .partition import aligned_length, kind_of, length_mismatch

__all__ = ["rows_of", "lockstep", "is_lazy"]

_PLAIN = frozenset({list, tuple, range})  # kinds that split, none of them an iterator


def rows_of(data: Any) -> Any:
    """``data`` as ``pmap`` reads it: a kind it splits, a list, or an iterator.

    Raises
    ------
    TypeError
        ``data`` is neither a kind that splits nor iterable (the kind's own message).

    Examples
    --------
    >>> from collections import deque
    >>> rows_of(deque([1, 2])), rows_of("ab"), rows_of({"k": 1}.values())
    ([1, 2], ['a', 'b'], [1])
    >>> rows_of(range(3))
    range(0, 3)
    """
    if type(data) in _PLAIN:  # the usual case, without the ABC checks below
        return data
    if isinstance(data, Iterator):
        return data
    try:
        kind_of(data)
    except TypeError:
        if not isinstance(data, Iterable):
            raise
        return list(data) if isinstance(data, Sized) else iter(data)
    return data


def is_lazy(data: Any) -> bool:
    """Whether ``data`` (as :func:`rows_of` gave it) is an iterator, read lazily.

    Examples
    --------
    >>> is_lazy([1, 2]), is_lazy(iter([1, 2]))
    (False, True)
    """
    return type(data) not in _PLAIN and isinstance(data, Iterator)


class _Lockstep:
    """The shared state of several inputs read together (see :func:`lockstep`)."""

    def __init__(self, datas: tuple[Any, ...]) -> None:
        self.iterators = [iter(d) for d in datas]
        self.read = 0  # items read from every input so far

    def ended(self, which: int) -> None:
        """Input ``which`` ended: the others must end here too."""
        n = self.read
        if which > 0:  # the inputs before it gave an item more (counted already)
            n -= 1
            raise length_mismatch([f"more than {n}" if i < which else n for i in range(which + 1)])
        for other, iterator in enumerate(self.iterators[1:], start=1):
            if next(iterator, _END) is not _END:
                raise length_mismatch([*([n] * other), f"more than {n}"])


_END = object()


class _Step(Iterator[Any]):
    def __init__(self, shared: _Lockstep, which: int) -> None:
        self.shared, self.which = shared, which

    def __next__(self) -> Any:
        shared, which = self.shared, self.which
        try:
            item = next(shared.iterators[which])
        except StopIteration:
            shared.ended(which)
            raise
        if which == 0:
            shared.read += 1
        return item


class _SizedStep(_Step):
    def __init__(self, shared: _Lockstep, which: int, length: int) -> None:
        super().__init__(shared, which)
        self.length = length

    def __len__(self) -> int:  # what the inputs with a length say (the progress total)
        return self.length


def lockstep(datas: tuple[Any, ...]) -> tuple[Iterator[Any], ...]:
    """Iterators over ``datas`` that ``zip`` together, and fail as soon as their lengths differ.

    Inputs with a length are compared at once (the error of lists); the
    others when the first of them ends.  The iterators have a length when
    some input has one.

    Raises
    ------
    ValueError
        The inputs' lengths differ (maybe only once the shorter one ends).

    Examples
    --------
    >>> list(zip(*lockstep((iter([1, 2]), [3, 4]))))
    [(1, 3), (2, 4)]
    >>> list(zip(*lockstep((iter([1, 2, 3]), [3, 4]))))
    Traceback (most recent call last):
    ...
    ValueError: aligned inputs must have the same length, got input 0: more than 2, input 1: 2; trim or pad them to one length before splitting
    """
    sized = [d for d in datas if not isinstance(d, Iterator)]
    length = aligned_length(sized) if sized else None
    shared = _Lockstep(datas)
    if length is None:
        return tuple(_Step(shared, i) for i in range(len(datas)))
    return tuple(_SizedStep(shared, i, length) for i in range(len(datas)))
