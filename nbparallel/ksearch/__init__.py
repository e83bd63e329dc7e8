"""Choosing the number of KMeans clusters, in parallel: ``choose_k``, ``elbow_search``, ``silhouette_search``."""

from __future__ import annotations

from ..backends.local import want_warm_up
from .api import choose_k, elbow_search, silhouette_search
from .criteria import DEFAULT_METRICS, METRICS
from .result import KSearchResult
from .tasks import preload

# The k-search is reached for (``nbparallel.choose_k`` looked up, which imports this package):
# the workers import scikit-learn now, in the background, and so do workers started later.
# Not before (nor before the process imported sklearn.cluster, see nbparallel/__init__.py): an idle
# worker that nobody asked for a k-search holds no scikit-learn.
want_warm_up(preload)

__all__ = ["choose_k", "elbow_search", "silhouette_search", "KSearchResult", "METRICS", "DEFAULT_METRICS", "preload"]
