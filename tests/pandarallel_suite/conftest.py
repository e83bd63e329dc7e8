"""Run pandarallel's own test file on ``from nbparallel import pandarallel``.

The file is ``tests/test_pandarallel.py`` of pandarallel's source release (``make`` downloads
it into ``.cache/``, see the Makefile's ``PANDARALLEL_TESTS``; it is run from there, never
copied into this repository).  ``test_on_nbparallel.py`` imports it with its
``from pandarallel import pandarallel`` answered by the drop-in.

Where pandarallel itself runs (pandas 2), its results are the reference side by side:
``tests/test_pandarallel_side_by_side.py`` (``make test-oldest`` installs pandarallel 1.6.5).
On pandas 2.2.0, pandarallel 1.6.5 passes its own file but for 12 leak errors: after a
failing function (``test_dataframe_apply_invalid_function``) its worker processes are left
running (measured 2026-12-07).

What does not run, and why, is in :data:`SKIPS` and :data:`NEEDS`.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

SUITE = Path(
    os.environ.get(
        "NBPARALLEL_PANDARALLEL_TESTS",
        Path(__file__).parents[2] / ".cache" / "pandarallel-1.6.5" / "tests" / "test_pandarallel.py",
    )
)

#: test name -> why it does not apply to nbparallel's drop-in.
SKIPS: dict[str, str] = {
    "test_memory_fs_root_environment_variable": "reloads pandarallel.core to read MEMORY_FS_ROOT: pandarallel's "
    "own module; the drop-in has no memory file system (large frames go through shared memory by themselves)",
}


def _groups_keep_their_keys() -> bool:
    """Whether this pandas' ``DataFrameGroupBy.apply`` hands the function the key columns (pandas 2)."""
    parameter = inspect.signature(type(pd.DataFrame({"k": [0]}).groupby("k")).apply).parameters.get("include_groups")
    return parameter is None or parameter.default is not False


#: test name -> (why it does not run, whether it runs on this pandas): pandas' own reference fails there.
NEEDS = {
    "test_dataframe_applymap": (
        "its reference is pandas' df.applymap, which pandas 3 removed (the drop-in's parallel_applymap "
        "is df.map in chunks, tested against df.map in tests/test_pandas_frontend.py)",
        hasattr(pd.DataFrame, "applymap"),
    ),
    "test_dataframe_groupby_apply": (
        "its last reference, pandas' own df.groupby(['a', 'b']).apply(f) with f reading the key column b, "
        "raises AttributeError where groups exclude their keys (pandas 3's include_groups=False)",
        _groups_keep_their_keys(),
    ),
}

#: Where pandarallel puts its methods; restored after each module of this folder.
_OWNERS = (pd.DataFrame, pd.Series, pd.core.window.Rolling)


def load_suite(name: str, pandarallel: Any) -> dict[str, Any]:
    """The names of pandarallel's test file, imported as module ``name``.

    ``pandarallel``: what its ``from pandarallel import pandarallel`` gets.
    """
    if not SUITE.exists():
        pytest.skip(f"pandarallel's test file is not here: make {SUITE} downloads it", allow_module_level=True)
    spec = importlib.util.spec_from_file_location(name, SUITE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("pandarallel")
    shim = types.ModuleType("pandarallel")
    shim.pandarallel = pandarallel  # type: ignore[attr-defined]
    sys.modules["pandarallel"] = shim
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("pandarallel", None)
        else:
            sys.modules["pandarallel"] = saved
    return {k: v for k, v in vars(module).items() if not k.startswith("__")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "pandarallel_suite" not in str(item.path):
            continue
        reason = SKIPS.get(item.originalname)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=f"pandarallel_suite: {reason}"))
        why, runs = NEEDS.get(item.originalname, ("", True))
        if not runs:
            item.add_marker(pytest.mark.skip(reason=f"pandarallel_suite: {why}"))


@pytest.fixture(scope="module", autouse=True)
def pandas_methods_restored():
    """pandarallel's ``initialize`` sets methods on pandas' classes: put back what was there."""
    import nbparallel.frontends.frames.compat as compat

    owners = {*_OWNERS, *compat.window_and_groupby_classes().values()}
    saved = {(cls, name): cls.__dict__[name] for cls in owners for name in list(cls.__dict__) if "parallel_" in name}
    yield
    for cls in owners:
        for name in [n for n in list(cls.__dict__) if "parallel_" in n]:
            if (cls, name) not in saved:
                delattr(cls, name)
    for (cls, name), value in saved.items():
        setattr(cls, name, value)
