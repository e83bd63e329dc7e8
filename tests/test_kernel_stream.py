"""Issue 39 through a real Jupyter kernel: ``imap`` with its default display ends, and re-running
a ``%%parallel --bg`` cell means the last run wins."""

from __future__ import annotations

import ast

from tests.test_kernel import check, kernel, run, stdout

__all__ = ["kernel"]  # the fixture, shared with tests/test_kernel.py


def test_imap_with_its_default_options_ends_in_a_kernel(kernel):
    _, kc = kernel
    reply, outputs = run(kc, "import nbparallel as nbp\nprint(list(nbp.imap(abs, [-1, -2, -3])))", timeout=120)
    check(reply, outputs)
    assert stdout(outputs).strip() == "[1, 2, 3]"
    reply, outputs = run(
        kc,
        "print(sorted(nbp.imap(abs, range(-30, 0), ordered=False)), "
        "list(nbp.imap(abs, iter([-4, -5]), progress='widget')))",
        timeout=120,
    )
    check(reply, outputs)
    assert stdout(outputs).strip() == f"{list(range(1, 31))} [4, 5]"


def test_rerunning_a_background_cell_the_last_run_wins(kernel):
    _, kc = kernel
    reply, outputs = run(kc, "%load_ext nbparallel\nimport time\nxs = list(range(6))")
    check(reply, outputs)
    slow = "%%parallel --split xs --out res --bg --chunks 2\nimport time\ntime.sleep(4)\nres = [-v for v in xs]"
    reply, outputs = run(kc, slow + "\n")
    check(reply, outputs)
    reply, outputs = run(kc, "first = _job")
    check(reply, outputs)
    fast = "%%parallel --split xs --out res --bg --chunks 2\nres = [v * 10 for v in xs]"
    reply, outputs = run(kc, fast + "\n")
    check(reply, outputs)
    reply, outputs = run(
        kc,
        "second = _job\nsecond.result(60)\nfirst.wait(60)\ntime.sleep(1)\n"
        "print(repr((res, first.status, second.status, second is not first)))",
    )
    check(reply, outputs)
    res, first_status, second_status, distinct = ast.literal_eval(stdout(outputs).strip().splitlines()[-1])
    assert res == [v * 10 for v in range(6)]
    assert (first_status, second_status, distinct) == ("cancelled", "done", True)
