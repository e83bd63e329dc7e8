"""nbparallel: parallel notebook compute on joblib/loky.

>>> import nbparallel as nbp
>>> nbp.pmap(abs, [-1, -2, 3], n_jobs=1, progress=False)
[1, 2, 3]
"""

from __future__ import annotations

# -- the plain API ------------------------------------------------------------------
from .api import pmap, pmap_chunks

# -- choosing the number of clusters ------------------------------------------------
from .kmeans import KSearchResult, choose_k, elbow_search, silhouette_search

# -- configuration ------------------------------------------------------------------
from .config import config, get_config

# -- jobs and errors ----------------------------------------------------------------
from .job import ChunkFailure, Job, JobCancelled
from .merge import merge

# -- building blocks ----------------------------------------------------------------
from .partition import partition
from .runner import shutdown
from .worker import RemoteTraceback, WorkerError

__version__ = "0.1.0"

__all__ = [
    # plain API
    "pmap",
    "pmap_chunks",
    # choosing k
    "elbow_search",
    "silhouette_search",
    "choose_k",
    "KSearchResult",
    # configuration
    "config",
    "get_config",
    "shutdown",
    # jobs and errors
    "Job",
    "JobCancelled",
    "ChunkFailure",
    "RemoteTraceback",
    "WorkerError",
    # building blocks
    "partition",
    "merge",
    "__version__",
]
