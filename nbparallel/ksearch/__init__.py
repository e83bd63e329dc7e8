"""Choosing the number of KMeans clusters, in parallel: ``choose_k``, ``elbow_search``, ``silhouette_search``."""

from __future__ import annotations

from .api import choose_k, elbow_search, silhouette_search
from .criteria import DEFAULT_METRICS, METRICS
from .result import KSearchResult
from .tasks import preload

__all__ = ["choose_k", "elbow_search", "silhouette_search", "KSearchResult", "METRICS", "DEFAULT_METRICS", "preload"]
