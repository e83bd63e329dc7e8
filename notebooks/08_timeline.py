# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where the time went: timeline and report
#
# A skewed workload: the first ten items are slow, the rest quick. Split into
# four even chunks, the first chunk gets all the slow items, and one worker
# computes while the other waits. The job's timeline and report show it, and say
# what to do. (Timings differ from machine to machine; this notebook is tested
# with them masked.)

# %%
import time

import nbparallel as nbp

nbp.config(progress=False)  # keeps the saved outputs stable; try progress=True and open "details"
n_jobs = 2
_ = nbp.warm(n_jobs, wait=True)  # a cold pool would show up in the report as start-up time


def work(i):
    time.sleep(0.12 if i < 10 else 0.02)
    return i * i


job = nbp.pmap(work, range(40), n_jobs=n_jobs, chunks=4, background=True)
print(job.result() == [i * i for i in range(40)])

# %% [markdown]
# ## The timeline: a row per chunk
#
# When each chunk was queued, started and ended (wall clock, one time base for
# all workers), on which worker, how long it took to send its inputs, compute,
# and send its result back, the bytes each way, and how it ended.

# %%
df = job.timeline()
print(len(df), "rows:", ", ".join(df.columns))
print("items per chunk:", df["items"].tolist(), "| outcomes:", df["outcome"].unique().tolist())
print(
    "every chunk inside the job's wall time:",
    bool(((df["started"] >= df.attrs["job_started"]) & (df["ended"] <= df.attrs["job_ended"])).all()),
)

# %% [markdown]
# ## The report
#
# Wall time, the speed-up over the sum of the chunk times, each worker's
# utilisation, the share of time spent moving data, and the five slowest chunks.

# %% tags=["nbval-ignore-output"]
report = job.report()
report

# %% [markdown]
# The plain mistake, in one line, with a fix:

# %% tags=["nbval-ignore-output"]
straggler = [a.text for a in report.advice if a.kind == "straggler"]
print(*straggler, sep="\n")

# %% [markdown]
# A Gantt chart: one row per worker, each chunk a bar coloured by how it ended,
# transfers hatched at the ends of the bars.

# %%
_ = report.plot()

# %% [markdown]
# ## The fix
#
# With `chunk_size=1` the slow items spread over both workers.

# %%
fixed = nbp.pmap(work, range(40), n_jobs=n_jobs, chunk_size=1, background=True)
print(fixed.result() == job.result())
print("a straggler left:", any(a.kind == "straggler" for a in fixed.report().advice))
print(f"wall time: {report.wall_s:.1f} s before, {fixed.report().wall_s:.1f} s after")
