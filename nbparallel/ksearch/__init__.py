"""Choosing the number of KMeans clusters, in parallel: ``choose_k``, ``elbow_search``, ``silhouette_search``."""

from __future__ import annotations

from ..backends.local import WARM_UP
from .api import choose_k, elbow_search, silhouette_search
from .criteria import DEFAULT_METRICS, METRICS
from .result import KSearchResult
from .tasks import preload

# warming the pool (``%load_ext``, ``warm()``) also imports scikit-learn in the workers, and so
# does starting one in a process that has imported scikit-learn (a script's first ``pmap``)
WARM_UP.append((preload, "sklearn"))

__all__ = ["choose_k", "elbow_search", "silhouette_search", "KSearchResult", "METRICS", "DEFAULT_METRICS", "preload"]
