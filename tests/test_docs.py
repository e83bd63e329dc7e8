"""The API reference lists every public name (the docs build itself runs in `make docs`)."""

from __future__ import annotations

import re
from pathlib import Path

import nbparallel as nbp


def test_every_public_name_has_an_api_page():
    text = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()
    listed = set(re.findall(r"^   (\w+)$", text, flags=re.M))
    missing = sorted(set(nbp.__all__) - listed - {"__version__"})
    assert not missing, f"add these to docs/api.rst: {missing}"
