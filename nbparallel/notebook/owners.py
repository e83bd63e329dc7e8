"""Which run of ``%%parallel`` may assign each ``--out`` variable: the last one started.

Re-running a cell with ``--bg`` (or any later ``%%parallel`` run that assigns
the same ``--out`` variables) makes the newer run the owner of those variables:

* an older run whose every ``--out`` variable has a newer owner is cancelled
  (its workers are freed at once);
* an older run that still owns some of its variables keeps running, and when it
  ends it assigns only those;
* an older run that had already finished its work when the newer one started,
  but not yet assigned, assigns nothing it no longer owns.

So a slow older run never overwrites what a newer run assigned.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

from ..jobs.job import Job

__all__ = ["OutputOwners", "OWNERS"]


class OutputOwners:
    """The run that owns each ``(namespace, variable)``; see the module.

    Examples
    --------
    >>> owners = OutputOwners()
    >>> ns = {}
    >>> first = owners.claim(ns, ["res"])
    >>> second = owners.claim(ns, ["res"])
    >>> first.assign({"res": 1}); ns
    {}
    >>> second.assign({"res": 2}); ns
    {'res': 2}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = itertools.count(1)
        # (id of the namespace, variable) -> (run number, the run's job once it has one)
        self._owner: dict[tuple[int, str], tuple[int, weakref.ref[Job] | None]] = {}

    def claim(self, namespace: MutableMapping[str, Any], names: Sequence[str]) -> Claim:
        """A new run takes ``names``: older runs that keep none of their variables are cancelled."""
        run = next(self._runs)
        older: dict[int, weakref.ref[Job] | None] = {}
        with self._lock:
            for name in names:
                key = (id(namespace), name)
                previous = self._owner.get(key)
                if previous is not None:
                    older[previous[0]] = previous[1]
                self._owner[key] = (run, None)
            still_owning = {number for number, _ref in self._owner.values()}
        for number, ref in older.items():
            job = ref() if ref is not None else None
            if number not in still_owning and job is not None and not job.done():
                job.cancel()  # superseded in full: its values would never be assigned
        return Claim(self, namespace, tuple(names), run)

    def _bind(self, claim: Claim, job: Job) -> None:
        with self._lock:
            for name in claim.names:
                key = (id(claim.namespace), name)
                if self._owner.get(key, (0, None))[0] == claim.run:
                    self._owner[key] = (claim.run, weakref.ref(job))

    def _owned(self, claim: Claim, names: Sequence[str]) -> list[str]:
        with self._lock:
            return [n for n in names if self._owner.get((id(claim.namespace), n), (0, None))[0] == claim.run]


class Claim:
    """One run's hold on its ``--out`` variables (made by :meth:`OutputOwners.claim`)."""

    def __init__(self, owners: OutputOwners, namespace: MutableMapping[str, Any], names: tuple[str, ...], run: int):
        self.owners = owners
        self.namespace = namespace
        self.names = names
        self.run = run

    def bind(self, job: Job) -> Callable[[dict[str, Any]], None]:
        """The run's job (a later run may cancel it); returns the hook that assigns its values."""
        self.owners._bind(self, job)
        return self.assign

    def assign(self, values: dict[str, Any]) -> None:
        """Assign the values of the variables this run still owns (a later run's stay)."""
        owned = set(self.owners._owned(self, list(values)))
        self.namespace.update({k: v for k, v in values.items() if k in owned or k not in self.names})


#: The owners of every namespace's ``--out`` variables in this process.
OWNERS = OutputOwners()
