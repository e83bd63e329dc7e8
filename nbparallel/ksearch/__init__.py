"""Choosing the number of KMeans clusters, in parallel: ``choose_k``, ``elbow_search``, ``silhouette_search``."""

from __future__ import annotations

from ..backends.local import WARM_UP
from .api import choose_k, elbow_search, silhouette_search
from .criteria import DEFAULT_METRICS, METRICS
from .result import KSearchResult
from .tasks import preload

# warming the pool (``%load_ext``, ``warm()``) also imports scikit-learn in the workers
WARM_UP.append(preload)

__all__ = ["choose_k", "elbow_search", "silhouette_search", "KSearchResult", "METRICS", "DEFAULT_METRICS", "preload"]
