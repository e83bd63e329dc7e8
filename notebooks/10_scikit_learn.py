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
# # scikit-learn's `n_jobs` on nbparallel
#
# `import nbparallel` registers a joblib backend called `"nbparallel"`. Select it
# with `joblib.parallel_config`, and every `joblib.Parallel` call runs on nbparallel's
# warm pool, scikit-learn's `n_jobs` included (GridSearchCV, cross_val_score,
# RandomForest, permutation_importance...). Each call that runs longer than about a
# second shows nbparallel's widget (tasks done and dispatched, elapsed time, Cancel);
# worker prints land in the cell; Ctrl-C (the stop button) returns at once and stops
# the workers.
#
# *(Cells that display a live widget are excluded from the saved-output check.)*

# %%
import time

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.svm import SVC

import nbparallel as nbp

joblib.parallel_config(backend="nbparallel")  # from now on, in this notebook
X, y = make_classification(n_samples=1500, n_features=20, random_state=0)

# %% [markdown]
# ## GridSearchCV with the widget
#
# Each fit of the search is one joblib task; joblib batches them and nbparallel runs
# the batches. `n_jobs=2` means what it means to joblib.

# %%
# NBVAL_IGNORE_OUTPUT
search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": ["scale", 0.01, 0.1]}, cv=5, n_jobs=2)
search.fit(X, y)

# %%
print(search.best_params_, round(search.best_score_, 3))

# %% [markdown]
# ## In the background, with Cancel
#
# `nbp.background(fn, *args)` runs any callable on a kernel thread, its joblib calls on
# nbparallel: the cell returns at once and other cells run. `result()` (or `await job`)
# gives what `fn` returned; `cancel()` stops its tasks, and `result()` then raises
# `JobCancelled`. The pool stays warm.

# %%
# NBVAL_IGNORE_OUTPUT
job = nbp.background(search.fit, X, y)
job

# %%
print("this cell ran while the search works; done already?", job.done())
fitted = job.result()
print(fitted is search, job.status, search.best_params_)

# %%
# NBVAL_IGNORE_OUTPUT
big = GridSearchCV(SVC(), {"C": np.logspace(-2, 3, 12), "gamma": ["scale", 0.01, 0.1]}, cv=5, n_jobs=2)
long_job = nbp.background(big.fit, X, y)
time.sleep(2)
long_job.cancel()

# %%
try:
    long_job.result()
except nbp.JobCancelled:
    print("status:", long_job.status)

# %% [markdown]
# ## cross_val_score

# %%
scores = cross_val_score(SVC(), X, y, cv=5, n_jobs=2)
print(np.round(scores, 3))

# %% [markdown]
# ## RandomForestClassifier(n_jobs=...)
#
# The trees are fitted on the pool (joblib's `prefer="threads"` hint gives way to the
# backend you chose); prediction, which needs shared memory, stays in threads.

# %%
forest = RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=0).fit(X, y)
print("training accuracy:", forest.score(X, y))
_ = joblib.parallel_config(backend="loky")  # back to joblib's default for the rest of the session
