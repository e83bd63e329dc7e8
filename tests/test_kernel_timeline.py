"""Through a real Jupyter kernel: a 2-worker job's timeline covers every chunk and agrees with the job's
wall time, its report shows as HTML and plots, and its widget carries the details view."""

from __future__ import annotations

import ast

from tests.test_kernel import kernel, run, stdout  # noqa: F401 - the module's kernel fixture

CODE = """
import time
import nbparallel as nbp

def uneven(x):
    time.sleep(0.3 if x == 3 else 0.01)
    return x

nbp.warm(2, wait=True)  # the report would blame the pool's start-up, not the straggler
job = nbp.pmap(uneven, range(16), n_jobs=2, chunks=8, background=True)
assert job.result() == list(range(16))
df = job.timeline()
began, ended, wall = df.attrs["job_started"], df.attrs["job_ended"], df.attrs["wall_s"]
eps = 0.005
busy = (df["ended"] - df["started"]).groupby(df["worker"]).sum()
facts = {
    "chunks": sorted(set(df["chunk"])) == list(range(8)),
    "inside": bool(((df["queued"] >= began - eps) & (df["returned"] <= ended + eps)
                    & (df["started"] >= began - eps) & (df["ended"] <= ended + eps)).all()),
    "busy_le_wall": bool((busy <= wall + eps).all()),
    "two_workers": df["worker"].nunique() == 2,
    "details": type(job.widget.children[-1]).__name__ == "Accordion",
}
import matplotlib
matplotlib.use("Agg")
ax = job.report().plot()
ax.figure.canvas.draw()
facts["plotted"] = len(ax.collections) >= 8
print(facts)
"""


def test_timeline_of_a_two_worker_job_in_a_kernel(kernel):  # noqa: F811
    _km, kc = kernel
    reply, outputs = run(kc, CODE)
    assert reply["content"]["status"] == "ok", reply["content"]
    facts = ast.literal_eval(stdout(outputs).strip().splitlines()[-1])
    assert facts == dict.fromkeys(facts, True) and len(facts) == 6, facts
    reply, outputs = run(kc, "job.report()")
    html = [m["content"]["data"].get("text/html", "") for m in outputs if m["msg_type"] == "execute_result"]
    assert html and "speed-up" in html[0] and "Slowest chunks" in html[0] and "straggler" in html[0].lower()
