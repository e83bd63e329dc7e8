"""The packed function kept between calls is never stale: every part its pickle is made of is looked at again."""

from __future__ import annotations

import sys
from typing import Any

from nbparallel.backends.shipping import pack


def _cell(source: str, **names: Any) -> dict[str, Any]:
    """Run ``source`` as a notebook cell does (its functions are sent by value)."""
    ns: dict[str, Any] = {"__name__": "__main__", **names}
    exec(source, ns)
    return ns


def _key(func: Any) -> str:
    return pack(func, label="f", share=True).key


def test_an_attribute_set_on_the_function_is_sent():
    f = _cell("def f(x):\n    return x\n")["f"]
    before = _key(f)
    assert _key(f) == before
    f.tag = 1
    assert _key(f) != before


def test_a_keyword_default_changed_is_sent():
    f = _cell("def f(x, *, d=1):\n    return x + d\n")["f"]
    before = _key(f)
    f.__kwdefaults__["d"] = 2
    assert _key(f) != before


def test_a_submodule_imported_after_the_first_call_is_sent_with_the_next(tmp_path, monkeypatch):
    package = tmp_path / "nbp_pack_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sub.py").write_text("VALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import nbp_pack_probe

    try:
        ns = _cell("import nbp_pack_probe\ndef f(x):\n    return nbp_pack_probe.sub.VALUE\n")
        before = pack(ns["f"], label="f", share=True)
        import nbp_pack_probe.sub  # noqa: F401

        after = pack(ns["f"], label="f", share=True)
        assert after.key != before.key
        assert after.blob is not None and b"nbp_pack_probe.sub" in after.blob
    finally:
        for name in ("nbp_pack_probe.sub", "nbp_pack_probe"):
            sys.modules.pop(name, None)


def test_a_mutable_global_is_sent_as_it_is_now():
    ns = _cell("def f(x):\n    return x + items[0]\n", items=[1])
    before = _key(ns["f"])
    ns["items"][0] = 2  # changed in place: same object, other content
    assert _key(ns["f"]) != before


def test_a_module_function_replaced_in_its_module_is_sent_by_value(tmp_path, monkeypatch):
    # Sent by its name while the module's attribute is the function; once the name means another
    # function (a reload, an assignment), the old one must travel as itself, or a worker would run
    # the new one.  A module from a file: cloudpickle sends functions of made-up modules by value.
    import importlib

    import cloudpickle

    (tmp_path / "nbp_named_probe.py").write_text("def f(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "nbp_named_probe", raising=False)
    module = importlib.import_module("nbp_named_probe")
    old = module.f
    for _ in range(2):  # the second look is the kept answer: by name
        blob = pack(old, label="f", share=True).blob
        assert blob is not None and len(blob) < 100 and cloudpickle.loads(blob) is old
    exec("def f(x):\n    return x * 100\n", module.__dict__)  # the name now means another function
    assert cloudpickle.loads(pack(old, label="f", share=True).blob)(1) == 2
    assert cloudpickle.loads(pack(module.f, label="f", share=True).blob) is module.f
    cloudpickle.register_pickle_by_value(module)
    try:  # asked to travel by value: not by its name any more
        assert cloudpickle.loads(pack(module.f, label="f", share=True).blob) is not module.f
    finally:
        cloudpickle.unregister_pickle_by_value(module)
        monkeypatch.delitem(sys.modules, "nbp_named_probe", raising=False)
