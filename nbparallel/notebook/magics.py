"""``%%parallel`` and ``%nbparallel``: parse the line, call the plain API. No logic here."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable
from typing import Any, ClassVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..data.merge import MERGE_MODES
from ..options import magic_arguments as run_option_arguments
from ..options import options_from_magic
from .cell import CellError, run_cell
from .status import cancel_job, parse_config_pairs, status_report

__all__ = ["ParallelMagics"]


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@magics_class
class ParallelMagics(Magics):
    """The nbparallel magics; registered by ``%load_ext nbparallel``."""

    @property
    def user_ns(self) -> dict[str, Any]:
        """The namespace of the shell the magics are registered with."""
        assert self.shell is not None, "the magics are used outside an IPython shell"
        return self.shell.user_ns

    @magic_arguments()
    @argument(
        "--split",
        "-s",
        metavar="NAMES",
        help="comma-separated notebook variables to partition (aligned, same length); inside the body each is one chunk",
    )
    @argument(
        "--out",
        "-o",
        metavar="NAMES",
        help="comma-separated variables the body assigns; merged across chunks and assigned in the notebook",
    )
    @argument(
        "--merge",
        default="auto",
        choices=list(MERGE_MODES),
        help="how --out variables are merged (default: auto = concatenate)",
    )
    @argument(
        "--by",
        metavar="KEYS",
        help="comma-separated columns of the (first) --split DataFrame: chunks never split a group, "
        "so a groupby in the body equals the whole-data result",
    )
    @argument("--name", default="_job", help="variable that holds the job with --bg (default: _job)")
    @run_option_arguments
    @cell_magic
    def parallel(self, line: str, cell: str) -> Any:
        """Run this cell's body in parallel over chunks of notebook variables.

        Example::

            %%parallel --split bigdata --out sorted_rows
            sorted_rows = [bogosort(r) for r in bigdata]

        ``bigdata`` is split into chunks; the body runs once per chunk on a
        worker with ``bigdata`` bound to that chunk; the ``sorted_rows`` of all
        chunks are concatenated and assigned in the notebook. Functions,
        constants and modules the body uses are sent to the workers (only
        those). What the body prints appears here, labelled by chunk.
        """
        args = parse_argstring(self.parallel, line)
        try:
            options = dataclasses.asdict(options_from_magic(args))
        except (TypeError, ValueError) as err:
            raise UsageError(str(err)) from None
        try:
            job = run_cell(
                cell,
                self.user_ns,
                split=_names(args.split),
                out=_names(args.out),
                merge=args.merge,
                name=args.name,
                by=_names(args.by) or None,
                **options,
            )
        except CellError as err:
            raise UsageError(str(err)) from None
        return job

    @line_magic
    def nbparallel(self, line: str) -> None:
        """Show or change nbparallel's state.

        Usage::

            %nbparallel                                # configuration, workers alive, jobs
            %nbparallel config n_jobs=2 backend=threading
            %nbparallel jobs                           # the jobs of this session
            %nbparallel cancel NAME                    # cancel a job (a variable name or a job id)
        """
        try:
            words = shlex.split(line)
        except ValueError as err:  # an unterminated quote
            raise UsageError(f"cannot read the arguments of %nbparallel {line}: {err}") from None
        if not words:
            print(status_report())
            return
        command, rest = words[0], words[1:]
        handler = self._COMMANDS.get(command)
        if handler is None:
            raise UsageError(
                f"unknown %nbparallel command {command!r}; use one of: {', '.join(self._COMMANDS)} "
                "(or nothing for a summary)"
            )
        try:
            print(handler(self, rest))
        except ValueError as err:
            raise UsageError(str(err)) from None

    def _config(self, rest: list[str]) -> str:
        if rest:
            from ..config import config

            config(**parse_config_pairs(rest))
        return status_report(section="config")

    def _jobs(self, rest: list[str]) -> str:
        if rest:
            raise UsageError(f"%nbparallel jobs takes no arguments; got extra words: {' '.join(rest)}")
        return status_report(section="jobs")

    def _cancel(self, rest: list[str]) -> str:
        if len(rest) != 1:
            raise UsageError("usage: %nbparallel cancel NAME (a variable holding a job, or a job id)")
        return cancel_job(rest[0], self.user_ns)

    #: The subcommands of ``%nbparallel``: what dispatches them also lists them in the error message.
    _COMMANDS: ClassVar[dict[str, Callable[[ParallelMagics, list[str]], str]]] = {
        "config": _config,
        "jobs": _jobs,
        "cancel": _cancel,
    }
