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
# # Choosing k for KMeans, in parallel and correctly
#
# The data: `make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)`,
# so the right answer is 7. First the recipe often copied into notebooks, then
# nbparallel's searches. Every fit, every gap reference set and every stability
# split runs on a worker; `X` is shared through one memory-mapped file; each task
# gets its own seed from `np.random.SeedSequence`.

# %%
# %matplotlib inline
import numpy as np
from sklearn.datasets import make_blobs

import nbparallel as nbp

X, _ = make_blobs(n_samples=10000, n_features=100, centers=7, random_state=42)
ks = range(2, 15)

# %% [markdown]
# ## The recipe that goes wrong
#
# "The elbow is where the silhouette jumps most": `argmax(diff(silhouette)) + 1`.
# The biggest *jump* is not the best *value*: differences of a curve say where it
# rises fastest, not where it peaks.

# %%
search = nbp.silhouette_search(X, k=ks, progress=False)
jumps = np.diff(search.scores["silhouette"])
wrong_k = search.k[int(np.argmax(jumps)) + 1]
print("argmax(diff(silhouette)) says k =", wrong_k)
print("the highest silhouette is at k =", search.best_k)

# %% [markdown]
# ## The elbow: Kneedle on the inertia curve
#
# The inertia curve is convex and decreasing; its knee is found with the Kneedle
# method (Satopaa et al. 2011). The curve starts at k = 1 (the total sum of
# squares), so the knee can be the first k of the range. `plot()` returns the Figure.

# %%
elbow = nbp.elbow_search(X, k=ks, progress=False)
print("knee at k =", elbow.best_k)
elbow.plot()

# %% [markdown]
# ## All criteria at once, and one answer
#
# One fit per k (the best of three k-means++ runs) is scored by the knee of
# inertia, the silhouette (on one shared subsample), Calinski-Harabasz,
# Davies-Bouldin, and the BIC and ICL of a Gaussian mixture whose clusters share
# one covariance (the ICL is the BIC plus the entropy of the cluster
# memberships: it counts well-separated clusters, the BIC counts components). The
# gap statistic (Tibshirani, Walther & Hastie 2001, with the 1-SE rule from its
# largest gap) clusters uniform reference sets, one task each; prediction strength
# (Tibshirani & Walther 2005) clusters random halves.
#
# `best_k`:
#
# - **no structure** (1) when the criteria that can say "one cluster" agree: the
#   ICL and one of gap and prediction strength (the last two judge k-means'
#   partition against chance and fail alike, so they share one vote). The
#   others cannot say 1: Calinski-Harabasz, silhouette and Davies-Bouldin are
#   undefined there, and the knee and the BIC split a uniform square in four;
# - otherwise **a vote of families**: criteria that fail alike share one vote
#   (the mixture's BIC and ICL over-split clusters that are not Gaussian;
#   Calinski-Harabasz, silhouette and Davies-Bouldin follow k-means along noise
#   features; the knee; the gap; prediction strength), so no family outvotes
#   all the others, as NbClust takes a majority over its indices. A pick at the
#   end of the range is a bound ("at least 14"), not a k: it abstains unless most
#   votes are bounds there.
#
# `confidence` and `reason` say when the answer is weak; `split` says which
# criteria picked what, in one line, in `reason`, the `repr` and the HTML.

# %%
res = nbp.choose_k(X, k=ks, progress=False)
print("picks:", res.picks)
print("best_k:", res.best_k, "agreement:", res.agreement, "confidence:", res.confidence)
res.plot()

# %%
columns = ["inertia", "gap", "silhouette", "calinski_harabasz", "davies_bouldin", "bic", "icl", "prediction_strength"]
res.to_frame()[columns].round(3)

# %% [markdown]
# ## No structure, and a range that is too small
#
# On a uniform cube there are no clusters: `best_k` is 1 and `reason` says so,
# instead of the top of the range. One stretched Gaussian is one cluster too:
# criteria built on sums of squares cut it along its long axis, the BIC's shared
# covariance does not. When the answer is at an end of the range it is a bound
# (`edge`), and `reason` says which range to try.

# %%
rng = np.random.default_rng(0)
cube = rng.uniform(size=(2000, 5))
none = nbp.choose_k(cube, progress=False)
print(none.best_k, "-", none.reason)
stretched = nbp.choose_k(rng.normal(size=(600, 2)) @ np.array([[3.0, 2.5], [0.0, 0.5]]), progress=False)
print(stretched.best_k, stretched.picks)
narrow = nbp.choose_k(X, k=range(2, 6), progress=False)
print(narrow.best_k, narrow.confidence, "-", narrow.reason)

# %% [markdown]
# ## Real data: a split decision
#
# The classes of real data are seldom Gaussian clusters: on iris the mixture
# fits 5 Gaussians, while the knee, Calinski-Harabasz and prediction strength
# say 3 (the number of species). One family is one vote, and the first line of
# the result says who picked what.

# %%
from sklearn.datasets import load_iris

iris = nbp.choose_k(load_iris().data, progress=False)
print("\n".join(repr(iris).splitlines()[:2]))

# %% [markdown]
# ## How stable are the picks?
#
# With `n_repeats`, every k is fitted with several seeds; the table gets a spread
# per score and `stability` tells how often each k won per criterion.

# %%
stable = nbp.choose_k(X, k=range(5, 10), n_repeats=3, progress=False)
print(stable.best_k, stable.stability["calinski_harabasz"])
