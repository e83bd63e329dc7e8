"""Run a notebook cell's body over chunks of notebook variables: the logic behind ``%%parallel``.

:func:`run_cell` takes the body as text and a namespace; it finds which names the
body reads (only those are sent to the workers), splits the ``split`` variables
into aligned chunks, runs the body once per chunk through
:func:`~nbparallel.pmap_chunks`, and merges each ``out`` variable across chunks
back into the namespace.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import itertools
import linecache
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..api import plan
from ..backends import get_backend
from ..data.groups import group_bounds, group_layout
from ..data.merge import MERGE_MODES
from ..data.merge import merge as merge_parts
from ..jobs import runtime
from ..jobs.job import Job
from ..options import RunOptions
from ..tracebacks import user_frames
from .owners import OWNERS

__all__ = ["run_cell", "CellError", "analyse_body"]

_cell_ids = itertools.count(1)


class CellError(ValueError):
    """A ``%%parallel`` cell cannot run as asked (the magic shows it as a UsageError)."""


@dataclass(frozen=True)
class BodyNames:
    """Names a cell body reads and assigns (at any depth)."""

    reads: frozenset[str]
    assigns: frozenset[str]


def analyse_body(body: str) -> BodyNames:
    """Find the names a cell body reads and the names it binds.

    Parameters
    ----------
    body : str
        Python source.

    Returns
    -------
    BodyNames

    Examples
    --------
    >>> names = analyse_body("import math\\ny = [f(v) for v in x]\\n")
    >>> sorted(names.reads), sorted(names.assigns)
    (['f', 'v', 'x'], ['math', 'v', 'y'])
    """
    try:
        tree = ast.parse(body)
    except SyntaxError as err:
        raise CellError(f"the cell body is not valid Python: {err}") from None
    reads: set[str] = set()
    assigns: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (assigns if isinstance(node.ctx, (ast.Store, ast.Del)) else reads).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                assigns.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigns.add(node.name)
        elif isinstance(node, ast.arg):
            assigns.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            assigns.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            reads.update(node.names)
    # A name both read and bound (``total = total + x``, a loop variable) is sent
    # only if the notebook has it; names the body only binds are never sent.
    return BodyNames(frozenset(reads), frozenset(assigns))


class _CellBody:
    """The picklable function each worker runs: exec the body with one chunk bound."""

    __name__ = "%%parallel"

    def __init__(
        self, source: str, filename: str, split: Sequence[str], out: Sequence[str], env: dict[str, Any]
    ) -> None:
        self.source = source
        self.filename = filename
        self.split = tuple(split)
        self.out = tuple(out)
        self.env = env

    def __nbparallel_cache_key__(self) -> tuple[Any, ...]:
        """What the body computes: its code and the values it uses (not its cell number)."""
        from ..cache import function_key, value_key

        env = tuple(sorted((k, function_key(v) if callable(v) else value_key(v)) for k, v in self.env.items()))
        return (self.source, self.split, self.out, env)

    def __call__(self, *chunks: Any) -> dict[str, Any]:
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        namespace.update(self.env)
        if self.split:  # without split the single dummy chunk is ignored
            namespace.update(zip(self.split, chunks))
        exec(compile(self.source, self.filename, "exec"), namespace)
        missing = [name for name in self.out if name not in namespace]
        if missing:
            raise NameError(
                f"the cell body did not assign {', '.join(missing)} in this chunk "
                "(is the assignment inside a branch that did not run?)"
            )
        return {name: namespace[name] for name in self.out}


def _check_sendable(name: str, value: Any) -> None:
    import cloudpickle

    try:
        cloudpickle.dumps(value)
    except Exception as err:
        kind = type(value).__name__
        raise CellError(
            f"cannot send {name!r} to the workers: {kind} objects cannot be pickled ({err}). "
            f"Create it inside the cell body instead, or pass what it is made from (a path, a seed)"
        ) from None


def _by_groups(
    by: str | Sequence[str], split: Sequence[str], datas: list[Any], finalize: Callable[[list[Any]], dict[str, Any]]
) -> tuple[list[Any], Callable[[int], list[tuple[int, int]]], Callable[[list[Any]], dict[str, Any]]]:
    """``--by``: the split variables reordered group by group, chunk bounds between groups, and a
    merge that puts row-wise outputs back in input order."""
    if not split:
        raise CellError("--by needs --split: name the DataFrame whose groups must stay whole")
    keys = [by] if isinstance(by, str) else list(by)
    frame = datas[0]
    missing = [k for k in keys if k not in getattr(frame, "columns", ())]
    if missing:
        raise CellError(f"--by {', '.join(missing)}: not a column of --split variable {split[0]!r}")
    layout = group_layout(frame, keys[0] if len(keys) == 1 else keys)
    order = layout.order
    inverse = np.argsort(order, kind="stable")
    reordered = [_take_rows(d, order) for d in datas]
    index = getattr(reordered[0], "index", None)

    def restore(parts: list[Any]) -> dict[str, Any]:
        merged = finalize(parts)
        return {var: _in_input_order(value, index, inverse, len(keys)) for var, value in merged.items()}

    return reordered, lambda n_workers: group_bounds(layout.sizes, n_workers), restore


def _take_rows(data: Any, order: np.ndarray) -> Any:
    if hasattr(data, "iloc"):
        return data.iloc[order]
    if isinstance(data, np.ndarray) or type(data).__module__.split(".")[0] == "polars":
        return data[order]
    return [data[i] for i in order]


def _in_input_order(value: Any, index: Any, inverse: np.ndarray, n_keys: int) -> Any:
    """Row-wise values back in the input's order; per-group pandas values sorted by key."""
    if hasattr(value, "iloc"):
        if index is not None and len(value) == len(index) and value.index.equals(index):
            return value.iloc[inverse]
        return value.sort_index(
            level=list(range(min(n_keys, value.index.nlevels))), sort_remaining=False, kind="stable"
        )
    if isinstance(value, (list, np.ndarray)) and len(value) == len(inverse):
        return value[inverse] if isinstance(value, np.ndarray) else [value[i] for i in inverse]
    return value


@user_frames
def run_cell(
    body: str,
    namespace: MutableMapping[str, Any],
    *,
    split: Sequence[str] = (),
    out: Sequence[str] = (),
    merge: str = "auto",
    name: str = "_job",
    by: str | Sequence[str] | None = None,
    **options: Any,
) -> Job | None:
    """Run ``body`` over chunks of the ``split`` variables and merge ``out`` back.

    Parameters
    ----------
    body : str
        The cell's code. Inside it each ``split`` name is bound to one chunk.
    namespace : mutable mapping
        The notebook's namespace: read for the variables the body uses,
        written with the merged ``out`` variables.
    split : sequence of str
        Variables to partition in lockstep (same length). Empty: the body runs
        once in a worker.
    out : sequence of str
        Variables the body assigns; merged across chunks (``merge``) and
        assigned in ``namespace``.
    merge : {"auto", "concat", "sum", "list"}, default="auto"
        How each ``out`` variable is merged.
    by : str or sequence of str, optional
        Column(s) of the first ``split`` variable (a DataFrame): chunks never
        split a group, so a ``groupby`` in the body equals the whole-data
        result. Row-wise ``out`` values come back in the input's row order,
        per-group ones sorted by key, as ``groupby`` gives them.
    name : str, default="_job"
        Where a background job (``background=True``) is stored; the ``out``
        variables are assigned when it finishes.  The last run started wins:
        a newer run that assigns the same ``out`` variables (re-running the
        cell) cancels an older run still going, and an older run never
        overwrites what a newer one assigns (see ``nbparallel.notebook.owners``).
    **options
        Any option of :class:`~nbparallel.RunOptions` (``n_jobs``, ``chunks``,
        ``backend``, ``progress``, ``background``, ``retries``, ``retry_delay``,
        ``timeout``, ``cache``, ``seed``), as for :func:`~nbparallel.pmap_chunks`.

    Returns
    -------
    Job or None
        The job when ``background``; otherwise ``None`` (results are in the namespace).

    Raises
    ------
    CellError
        Empty body, unknown or unset ``split`` variable, an ``out`` name the
        body never assigns, a variable that cannot be sent to workers, inputs
        of different lengths, an unknown ``merge``.

    Examples
    --------
    >>> ns = {"rows": [3, 1, 2], "double": lambda v: 2 * v}
    >>> run_cell("out = [double(r) for r in rows]", ns, split=["rows"], out=["out"], n_jobs=1, progress=False)
    >>> ns["out"]
    [6, 2, 4]
    """
    if not body.strip():
        raise CellError("%%parallel needs a cell body: write the code to run below the magic line")
    if merge not in MERGE_MODES:
        raise CellError(f"unknown --merge {merge!r}; choose one of {', '.join(MERGE_MODES)}")
    names = analyse_body(body)
    for var in split:
        if var not in namespace:
            raise CellError(
                f"--split variable {var!r} is not defined in the notebook; run the cell that creates it first"
            )
    never = [var for var in out if var not in names.assigns]
    if never:
        raise CellError(
            f"--out {', '.join(map(repr, never))}: the cell body never assigns "
            f"{'it' if len(never) == 1 else 'them'}; assign it in the body or drop it from --out"
        )
    env = {n: namespace[n] for n in sorted(names.reads) if n in namespace and n not in split}
    run = RunOptions(**options).resolved()
    assert run.backend is not None
    if get_backend(run.backend).processes:
        for var, value in env.items():
            _check_sendable(var, value)
    datas = [namespace[var] for var in split]
    if len(datas) > 1:
        from ..data.partition import aligned_length, length_of

        try:
            aligned_length(datas)
        except ValueError as err:
            lengths = ", ".join(f"{var}: {length_of(d)}" for var, d in zip(split, datas, strict=True))
            raise CellError(f"--split variables must have the same length, got {lengths}") from err

    filename = f"<%%parallel cell {next(_cell_ids)}>"
    lines = body.splitlines(keepends=True)
    linecache.cache[filename] = (len(body), None, lines, filename)  # source lines for worker tracebacks
    runner = _CellBody(body, filename, split, out, env)
    out_names = tuple(out)

    def finalize(parts: list[dict[str, Any]]) -> dict[str, Any]:
        if not split:
            return parts[0]  # the body ran once: its values as they are
        merged = {}
        for var in out_names:
            try:
                merged[var] = merge_parts([p[var] for p in parts], merge, source=datas[0])
            except TypeError as err:
                raise TypeError(f"--out {var}: {err} (in the magic: --merge sum or --merge list)") from None
        return merged

    inputs: list[Any] = datas if split else [range(1)]  # no split: one chunk, the body runs once
    if not split:
        run = dataclasses.replace(run, chunks=1, chunk_size=None)
    bounds: Callable[[int], list[tuple[int, int]]] | None = None
    merge_all: Callable[[list[Any]], dict[str, Any]] = finalize
    if by is not None:
        inputs, bounds, merge_all = _by_groups(by, split, datas, finalize)
    job = plan(runner, tuple(inputs), run, mode="chunk", finalize=merge_all, bounds=bounds)

    # The last run started owns the out variables: an older run still going is cancelled, or
    # assigns only what no newer run took (notebook/owners.py).
    job.watchers.on_success(OWNERS.claim(namespace, out_names).bind(job))  # assigned before job.result() / await return
    if run.background:
        namespace[name] = job
    runtime.run(job, background=run.background)
    return job if run.background else None
