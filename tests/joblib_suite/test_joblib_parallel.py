"""joblib's own ``Parallel`` tests (``joblib/test/test_parallel.py``, from the installed joblib), with
joblib's default backend switched to ``"nbparallel"``: see ``conftest.py`` for what runs and what is skipped."""

from joblib.test.test_parallel import *  # noqa: F403  -- collected here, under this folder's conftest

import nbparallel  # noqa: F401  -- registers the backend before joblib's module reads joblib's backends
