"""pandas front end: a pandarallel drop-in for pandas 3 and the ``df.parallel`` / ``s.parallel`` accessors.

Importing this package does not import pandas; its names are loaded on first use.

* :class:`~.drop_in.pandarallel`: ``pandarallel.initialize()`` adds
  ``parallel_apply``, ``parallel_map``, ``parallel_applymap`` as pandarallel 1.6.5 does;
* :mod:`.accessor`: ``df.parallel.apply(f, axis=1)``, ``s.parallel.map(f)``, ...,
  registered when pandas is imported (:mod:`.hook`);
* :func:`~.accessor.groupby_apply`: ``df.groupby(key).pipe(groupby_apply, f)``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pandarallel", "groupby_apply"]


def __getattr__(name: str) -> Any:
    if name == "pandarallel":
        from .drop_in import pandarallel

        return pandarallel
    if name == "groupby_apply":
        from .accessor import groupby_apply

        return groupby_apply
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
