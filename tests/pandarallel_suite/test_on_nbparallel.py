"""pandarallel's own tests (its ``tests/test_pandarallel.py``) on ``from nbparallel import pandarallel``.

See ``conftest.py`` for where the file comes from and what is skipped.
"""

from nbparallel import pandarallel

from .conftest import load_suite

globals().update(load_suite("pandarallel_suite_on_nbparallel", pandarallel))
