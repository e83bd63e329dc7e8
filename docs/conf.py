"""Sphinx configuration for the nbparallel documentation (``make docs``).

The build reads nothing from the network: no intersphinx, and references to
other libraries' types are listed in ``nitpick_ignore`` below.  The demo
notebooks are the same files nbval runs (``docs/notebooks`` is a symlink to
``../notebooks``) and are rendered with their stored outputs, never executed.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import nbparallel  # noqa: E402

if not os.path.isdir(os.path.join(HERE, "notebooks")):
    raise RuntimeError("docs/notebooks should be a symlink to ../notebooks (git clone with symlinks enabled)")

project = "nbparallel"
author = "the nbparallel developers"
copyright = "2026, the nbparallel developers"
release = version = nbparallel.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]

# -- warnings are errors (make docs runs sphinx-build -W --keep-going -n) ---------------
nitpicky = True
# Types of other libraries named in docstrings and signatures.  Without intersphinx
# (which would fetch inventories over the network) they cannot be linked.
nitpick_ignore = [
    ("py:class", name)
    for name in (
        "numpy.ndarray",
        "ndarray",
        "np.ndarray",
        "array-like",
        "pandas.DataFrame",
        "pandas.Series",
        "joblib.Memory",
        "matplotlib.axes.Axes",
        "IPython.core.interactiveshell.InteractiveShell",
        "concurrent.futures.Future",
        "asyncio.Future",
        "callable",
        "optional",
        "default",
    )
]
# Names in other modules' docstrings that are not part of the documented API
# (worked around here; better fixed at the source).
nitpick_ignore += [
]
nitpick_ignore_regex = [
    # Standard-library and third-party names in autodoc's rendering of base classes
    # and attributes (no intersphinx to resolve them).
    ("py:class", r"(builtins|typing|collections\.abc|threading|enum|dataclasses)\..*"),
    ("py:class", r"(numpy|pandas|polars|pyarrow|scipy|joblib|sklearn|ipywidgets|dask|distributed)\..*"),
    ("py:(class|obj)", r"(Exception|TimeoutError|RuntimeError|BaseException|object|ValueError|TypeError)"),
]

# -- autodoc / autosummary / numpydoc ---------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections give the types
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- myst-nb: notebooks are rendered with their stored outputs --------------------------
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# Progress widgets are stored as widget views; rendering them live would load the
# widget manager from a CDN.  The pages show the widgets' stored text form instead.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# -- HTML -------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"nbparallel {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False
