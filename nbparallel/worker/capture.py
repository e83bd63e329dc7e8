"""Per-thread capture of ``print`` output while a chunk runs.

``sys.stdout``/``sys.stderr`` are replaced once per process by a proxy that writes
to a per-thread buffer while a chunk runs and to the original stream otherwise.
It is per thread so that the threading backend keeps each chunk's output apart
and never swallows output of the kernel's own thread.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, TextIO

__all__ = ["Capture"]

_local = threading.local()
_install_lock = threading.Lock()


class _ThreadRoutedStream(io.TextIOBase):
    def __init__(self, original: TextIO) -> None:
        self._original = original

    def _target(self) -> TextIO:
        buffer = getattr(_local, "buffer", None)
        return buffer if buffer is not None else self._original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        target = self._target()
        if hasattr(target, "flush"):
            target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return getattr(_local, "buffer", None) is None and self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def __getattr__(self, name: str) -> Any:  # encoding, errors, ... of the original
        return getattr(self._original, name)


def _install_routing() -> None:
    if isinstance(sys.stdout, _ThreadRoutedStream) and isinstance(sys.stderr, _ThreadRoutedStream):
        return  # installed (the usual case: once per process)
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadRoutedStream):
            sys.stdout = _ThreadRoutedStream(sys.stdout)
        if not isinstance(sys.stderr, _ThreadRoutedStream):
            sys.stderr = _ThreadRoutedStream(sys.stderr)


class Capture:
    """Route this thread's stdout and stderr into one buffer for the block.

    Examples
    --------
    >>> with Capture() as out:
    ...     print("hidden")
    >>> out.getvalue()
    'hidden\\n'
    """

    def __enter__(self) -> io.StringIO:
        _install_routing()
        self._previous = getattr(_local, "buffer", None)
        _local.buffer = io.StringIO()
        return _local.buffer

    def __exit__(self, *exc: object) -> None:
        _local.buffer = self._previous
