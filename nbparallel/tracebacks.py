"""Worker tracebacks that show the user's source lines, and none of nbparallel's frames.

A worker records each frame of a failing chunk as a :class:`Frame` (file, line,
function, and the code object's qualified name and first line).  The kernel
renders them with its own ``linecache``, which holds the source of notebook
cells that the worker never saw.

cloudpickle 3.1.3 and later rename the file of every function they pickle by
value to ``"<dynamic-code>"``.  Such a frame is mapped back to its real file by
finding, among the code objects the job's function can reach (its own nested
code, its closure, the globals it reads, the functions they reach), the one with
the same qualified name and first line.  The walk happens only when a traceback
is rendered, never on the hot path.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, ParamSpec, TypeVar

__all__ = ["Frame", "remote_frames", "render_traceback", "code_origins", "user_frames", "user_stacklevel"]

P = ParamSpec("P")
R = TypeVar("R")

#: Files of this package: their frames are nbparallel's plumbing, not the user's code.
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: Code objects looked at, at most, when mapping ``<dynamic-code>`` frames back.
_WALK_LIMIT = 5000


class Frame(NamedTuple):
    """One frame of a worker traceback."""

    filename: str
    lineno: int
    name: str
    qualname: str = ""
    firstlineno: int = 0


def _ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(PACKAGE_DIR)


def remote_frames(exc: BaseException) -> list[Frame]:
    """In a worker: the frames of ``exc``'s traceback that are not nbparallel's own.

    Examples
    --------
    >>> try:
    ...     int("x")
    ... except ValueError as err:
    ...     frames = remote_frames(err)
    >>> frames[-1].name
    '<module>'
    """
    out = []
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if _ours(code.co_filename):
            continue
        qualname = getattr(code, "co_qualname", code.co_name)
        out.append(Frame(code.co_filename, lineno or 0, code.co_name, qualname, code.co_firstlineno))
    return out


def _reachable(root: Any) -> Iterator[types.CodeType]:
    """Code objects reachable from ``root`` (functions, closures, globals they read)."""
    stack: list[Any] = [root]
    seen: set[int] = set()
    while stack and len(seen) < _WALK_LIMIT:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.CodeType):
            yield obj
            stack.extend(c for c in obj.co_consts if isinstance(c, types.CodeType))
        elif isinstance(obj, types.FunctionType):
            stack.append(obj.__code__)
            stack.extend(cell.cell_contents for cell in obj.__closure__ or () if _cell_filled(cell))
            stack.extend(obj.__globals__[n] for n in _global_names(obj.__code__) if n in obj.__globals__)
        elif isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            stack.append(obj.__func__)
        elif isinstance(obj, functools.partial):
            stack.extend((obj.func, *obj.args, *obj.keywords.values()))
        elif isinstance(obj, type):
            stack.extend(vars(obj).values())
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif callable(obj) and hasattr(obj, "__dict__"):  # a callable object: what it holds
            stack.extend(vars(obj).values())


def _cell_filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _global_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _global_names(const)


def code_origins(func: Any) -> dict[tuple[str, int], str]:
    """``(qualname, first line) -> file`` for the code ``func`` can reach.

    Examples
    --------
    >>> def f():
    ...     return 1
    >>> code_origins(f)[("f", f.__code__.co_firstlineno)] == f.__code__.co_filename
    True
    """
    return {(getattr(c, "co_qualname", c.co_name), c.co_firstlineno): c.co_filename for c in _reachable(func)}


def render_traceback(frames: list[Frame], exc_only: str, func: Any = None) -> str:
    """Format a worker traceback with source lines from this process's ``linecache``.

    Parameters
    ----------
    frames : list of Frame
        As recorded in the worker.
    exc_only : str
        The exception line(s).
    func : callable, optional
        The job's function: frames in files the kernel does not know (such as
        cloudpickle's ``"<dynamic-code>"``) are mapped back through it.

    Examples
    --------
    >>> print(render_traceback([], "ValueError: bad"))
    Traceback (most recent call last):
    ValueError: bad
    """
    origins: dict[tuple[str, int], str] | None = None
    lines = ["Traceback (most recent call last):\n"]
    for frame in frames:
        filename = frame.filename
        if func is not None and not linecache.getline(filename, frame.lineno):
            if origins is None:
                origins = code_origins(func)
            filename = origins.get((frame.qualname, frame.firstlineno), filename)
        lines.append(f'  File "{filename}", line {frame.lineno}, in {frame.name}\n')
        source = linecache.getline(filename, frame.lineno).strip()
        if source:
            lines.append(f"    {source}\n")
    return "".join(lines) + exc_only


# --- the kernel side: errors that show the user's code, not nbparallel's ------------


def _without_our_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    kept = [t for t in _walk(tb) if not _ours(t.tb_frame.f_code.co_filename)]
    new = None
    for t in reversed(kept):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return new


def _walk(tb: types.TracebackType | None) -> Iterator[types.TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


class _UserTraceback:
    """IPython's ``_render_traceback_`` hook: the usual rendering, minus nbparallel's frames.

    The worker traceback (``__cause__``) and the user's own call stay.
    """

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __call__(self) -> list[str]:
        from IPython import get_ipython

        exc = self.exc
        tb = _without_our_frames(exc.__traceback__)
        shell = get_ipython()
        if shell is None:
            return traceback.format_exception(type(exc), exc, tb)
        stb: list[str] = shell.InteractiveTB.structured_traceback(type(exc), exc, tb)
        return stb


def user_frames(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public entry point: in IPython its errors show no nbparallel frames.

    Examples
    --------
    >>> @user_frames
    ... def fails() -> None:
    ...     raise ValueError("bad input")
    >>> try:
    ...     fails()
    ... except ValueError as err:
    ...     hasattr(err, "_render_traceback_")
    True
    """

    @functools.wraps(func)
    def entry(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BaseException as exc:
            if not hasattr(exc, "_render_traceback_"):
                try:
                    exc._render_traceback_ = _UserTraceback(exc)  # type: ignore[attr-defined]
                except AttributeError:  # an exception type that takes no attributes
                    pass
            raise

    return entry


def user_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that points at the user's code (the caller of nbparallel).

    Examples
    --------
    >>> user_stacklevel() >= 1
    True
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and _ours(frame.f_code.co_filename):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
