"""The k-search's rule: the BIC and ICL criteria, Kneedle, the consensus, restarts and the shared silhouette distances."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.datasets import make_blobs

import nbparallel as nbp
from nbparallel.ksearch.bic import MAX_FEATURES, mixture_bic, mixture_criteria, mixture_space, one_cluster_bic
from nbparallel.ksearch.consensus import FAMILIES, decide
from nbparallel.ksearch.criteria import kneedle

KS = list(range(2, 15))


def test_kneedle_matches_kneed():
    kneed = pytest.importorskip("kneed")
    rng = np.random.default_rng(0)
    for trial in range(2000):
        m = int(rng.integers(3, 16))
        x = np.arange(1.0, m + 1)
        y = (
            np.sort(rng.exponential(size=m))[::-1]
            if trial % 3 == 0
            else 1 / x ** rng.uniform(0.2, 3) + rng.normal(scale=0.02, size=m)
            if trial % 3 == 1
            else rng.integers(0, 5, m).astype(float)  # ties and flat stretches
        )
        if np.ptp(y) == 0:
            continue
        expected = kneed.KneeLocator(x, y, curve="convex", direction="decreasing", S=1.0).knee
        assert kneedle(x, y) == (None if expected is None else float(expected)), (x, y)


def _bic_gain(X, centres):
    """The BIC of the mixture started from ``centres``, minus one cluster's."""
    space = mixture_space(X, None)
    one = one_cluster_bic(space)
    assert one == pytest.approx(mixture_bic(space, X.mean(axis=0, keepdims=True)), rel=1e-9)
    return mixture_bic(space, centres) - one


def test_bic_is_the_tied_gaussian_mixtures_in_the_datas_own_units():
    # fitted on scaled principal axes; against k = 1 it is the BIC of scikit-learn's
    # tied-covariance mixture fitted to X itself (well-separated blobs: one optimum)
    from sklearn.mixture import GaussianMixture

    X, labels = make_blobs(300, 3, centers=3, random_state=0)
    centres = np.array([X[labels == j].mean(axis=0) for j in range(3)])
    direct = GaussianMixture(3, covariance_type="tied", means_init=centres, reg_covar=0, tol=1e-8).fit(X)
    one = GaussianMixture(1, covariance_type="tied", reg_covar=0).fit(X)
    assert _bic_gain(X, centres) == pytest.approx(direct.bic(X) - one.bic(X), rel=1e-3)


def test_bic_is_unchanged_by_linear_maps_and_ignores_features_that_do_not_vary():
    X, labels = make_blobs(400, 4, centers=4, random_state=1)
    mixing = np.random.default_rng(2).normal(size=(4, 4))
    for k in (2, 4):
        centres = np.array([X[labels % k == j].mean(axis=0) for j in range(k)])
        want = _bic_gain(X, centres)
        mapped = _bic_gain(X @ mixing * 1e-6 + 1e3, centres @ mixing * 1e-6 + 1e3)
        pad = lambda A: np.column_stack([A, np.full(len(A), 7.0), A[:, 0]])  # noqa: E731  a constant and a duplicate
        assert mapped == pytest.approx(want, rel=1e-4)
        assert _bic_gain(pad(X), pad(centres)) == pytest.approx(want, rel=1e-4)
    assert mixture_space(pad(X), None).Z.shape[1] == 4


def test_the_bic_sees_clusters_past_wide_noise_features():
    # four clusters in four features, and two uniform features as wide as the data:
    # k-means cuts along the noise, and the BIC of its hard partition said 14;
    # EM with the shared covariance weighs the noise features down
    rng = np.random.default_rng(4)
    centres = rng.uniform(0, 24, size=(4, 4))
    X = np.vstack([c + rng.normal(scale=0.9, size=(40, 4)) for c in centres])
    X = np.hstack([X, rng.uniform(X.min(), X.max(), size=(len(X), 2))])
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.picks["bic"] == 4
    assert res.best_k == 4


def test_the_icl_is_the_bic_plus_twice_the_entropy_of_the_cluster_probabilities():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(6)
    X = np.vstack(
        [rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + np.array([2.5, 0.0])]
    )  # overlapping: points in doubt
    space = mixture_space(X, None)
    centres = np.array([[-0.5, 0.0], [3.0, 0.0]])
    bic, icl = mixture_criteria(space, centres)
    model = GaussianMixture(
        2, covariance_type="tied", means_init=space.project(centres), reg_covar=1e-6, random_state=0
    )
    model.fit(space.Z)
    resp = model.predict_proba(space.Z)
    entropy = -np.sum(resp * np.log(resp))
    assert bic == pytest.approx(model.bic(space.Z), rel=1e-9)
    assert icl == pytest.approx(bic + 2 * entropy, rel=1e-9) and entropy > 10


@pytest.mark.parametrize("n", [800, 1400, 2300])
def test_a_uniform_square_is_one_cluster(n):
    # several Gaussians side by side fit a uniform square better than one (the BIC
    # says 4 or more, and so do the sums of squares), but they share many points:
    # the ICL charges for them and says one cluster
    X = np.random.default_rng(n).uniform(size=(n, 2))
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.picks["icl"] == 1
    assert res.best_k == 1 and "no cluster structure" in res.reason


def test_bic_says_why_it_cannot_be_computed():
    X = np.random.default_rng(0).normal(size=(30, 20))
    assert "twice as many points" in mixture_space(X, None)
    assert f"at most {MAX_FEATURES} features" in mixture_space(np.zeros((5, MAX_FEATURES + 1)), None)
    res = nbp.choose_k(X, k=range(2, 5), n_jobs=1, progress=False)
    assert res.picks["bic"] is None and "twice as many points" in res.pick_reasons["bic"]
    assert res.picks["icl"] is None and "twice as many points" in res.pick_reasons["icl"]


@pytest.mark.parametrize(
    "picks, ks, best",
    [
        # every family agrees
        ({"bic": 3, "icl": 3, "gap": 3, "calinski_harabasz": 3, "prediction_strength": 3}, [2, 3, 4, 5], 3),
        # the mixture over-splits stretched clusters (issue 38: anisotropic, 10 dimensions, true 6):
        # one family, outvoted by the partition's criteria and the knee
        (
            {"bic": 13, "icl": 13, "calinski_harabasz": 6, "silhouette": 6, "davies_bouldin": 6, "inertia_knee": 6}
            | {"gap": 13, "prediction_strength": 2},
            KS,
            6,
        ),
        # iris, raw: the mixture and the gap say 5, the knee, Calinski-Harabasz and prediction strength 3
        (
            {"inertia_knee": 3, "gap": 5, "silhouette": 2, "calinski_harabasz": 3, "davies_bouldin": 2}
            | {"bic": 5, "icl": 5, "prediction_strength": 3},
            KS,
            3,
        ),
        # uniform noise features: k-means' partition is cut along them and its criteria say 2;
        # the mixture and the knee see the 4 clusters
        (
            {"inertia_knee": 4, "gap": 13, "silhouette": 2, "calinski_harabasz": 2, "davies_bouldin": 13}
            | {"bic": 4, "icl": 4, "prediction_strength": 2},
            KS,
            4,
        ),
        # no structure: the null tests agree, the others scatter
        (
            {"icl": 1, "bic": 3, "gap": 1, "prediction_strength": 1}
            | {"calinski_harabasz": 2, "silhouette": 2, "davies_bouldin": 5, "inertia_knee": 4},
            KS,
            1,
        ),
        # gap and prediction strength under-call overlapping clusters: outvoted when the mixture,
        # the partition's criteria and the knee agree
        (
            {"icl": 6, "bic": 6, "gap": 1, "prediction_strength": 1}
            | {"calinski_harabasz": 6, "silhouette": 2, "davies_bouldin": 6, "inertia_knee": 6},
            KS,
            6,
        ),
        # a pick at the largest k tried is a bound ("at least this many"): it abstains unless most
        # votes are bounds at that end
        ({"bic": 4, "icl": 4, "gap": 1, "prediction_strength": 4, "calinski_harabasz": 14}, KS, 4),
        # wide noise features: k-means cuts along them, and gap, silhouette and Davies-Bouldin
        # run to the top of the range (test_the_bic_sees_clusters_past_wide_noise_features' picks)
        (
            {"inertia_knee": 5, "gap": 14, "silhouette": 14, "calinski_harabasz": 3, "davies_bouldin": 14}
            | {"bic": 4, "icl": 4, "prediction_strength": 1},
            KS,
            4,
        ),
        # most criteria at the top of the range: that k, reported as a bound (not handed to a smaller k)
        (
            {"gap": 4, "silhouette": 4, "calinski_harabasz": 4, "bic": 4, "icl": 4, "prediction_strength": 4}
            | {"inertia_knee": 2, "davies_bouldin": 2},
            [2, 3, 4],
            4,
        ),
        # every pick at the top: that k, reported as a bound with a wider range to try
        ({"bic": 4, "gap": 4, "prediction_strength": 4, "calinski_harabasz": 4}, [2, 3, 4], 4),
        # only criteria of one family and the knee
        ({"silhouette": 5, "inertia_knee": 5, "davies_bouldin": 3}, KS, 5),
    ],
)
def test_consensus(picks, ks, best):
    decision = decide(picks, ks)
    assert decision.best_k == best
    if best == ks[-1]:
        assert decision.confidence == "low" and decision.edge == "top"
        assert f"try k=range(2, {2 * best + 1})" in decision.reason
    if len(set(picks.values())) > 1:
        assert decision.split is not None and f"the criteria split: {decision.split}" in decision.reason
        said = dict(re.findall(r"(?:^|, )(\d+) \(([^)]*)\)", decision.split))
        for name, k in picks.items():  # one line says which criterion picked what
            assert name in said[str(k)].split(", ")


def test_no_family_outvotes_all_the_others():
    # whatever one family says, the others agreeing on a k carry it
    rng = np.random.default_rng(0)
    for _ in range(300):
        truth, wrong = (int(v) for v in rng.choice(np.arange(2, 14), size=2, replace=False))
        for family in FAMILIES:
            picks = {name: (wrong if fam == family else truth) for fam, names in FAMILIES.items() for name in names}
            assert decide(picks, KS).best_k == truth, (family, picks)
        picks = {name: truth for names in FAMILIES.values() for name in names}
        picks.update(gap=1, prediction_strength=1)  # both tests against chance under-call overlapping clusters
        assert decide(picks, KS).best_k == truth


def test_no_structure_is_for_the_criteria_that_can_say_one_cluster():
    # Calinski-Harabasz, silhouette and Davies-Bouldin are undefined at k = 1, and k-means and the BIC
    # split a uniform square in four: their agreement is no evidence of structure (a uniform square's
    # picks, n=1400: tests/test_ksearch_rule.py::test_a_uniform_square_is_one_cluster)
    square = {"inertia_knee": 4, "gap": 1, "silhouette": 4, "calinski_harabasz": 4, "davies_bouldin": 4}
    decision = decide(square | {"bic": 4, "icl": 1, "prediction_strength": 2}, KS)
    assert decision.best_k == 1 and decision.reason.startswith("no cluster structure: icl and gap find no k")
    # the mixture's test and one of the tests against chance are needed: the gap alone is outvoted
    assert decide(square | {"bic": 4, "icl": 4, "prediction_strength": 2}, KS).best_k == 4
    assert decide(square | {"bic": 4, "icl": 1, "gap": 4, "prediction_strength": 4}, KS).best_k == 4


def test_a_pick_at_the_largest_k_votes_when_the_range_was_cut_at_the_distinct_points():
    picks = {"bic": 3, "gap": 3, "prediction_strength": 2, "calinski_harabasz": 3}
    assert decide(picks, [2, 3], capped=True).best_k == 3


def test_one_elongated_gaussian_is_one_cluster():
    # sums of squares see two or more clusters along the long axis; the BIC's
    # shared covariance sees one Gaussian
    X = np.random.default_rng(5).normal(size=(600, 2)) @ np.array([[3.0, 2.5], [0.0, 0.5]])
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.best_k == 1 and res.picks["bic"] == 1
    assert "no cluster structure" in res.reason


def test_restarts_avoid_merging_two_clusters_and_splitting_another():
    # ten blobs in 30 dimensions: one k-means++ run at k = 10 often stops with two
    # blobs merged and one split, so Calinski-Harabasz and the BIC preferred 11
    X, _ = make_blobs(n_samples=2000, n_features=30, centers=10, cluster_std=2.0, random_state=1653281536)
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    assert res.best_k == 10
    assert res.picks["calinski_harabasz"] == res.picks["bic"] == 10


def test_silhouette_distances_are_shared_across_k_and_give_scikit_learns_values():
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from nbparallel.ksearch import tasks

    X, _ = make_blobs(n_samples=3000, n_features=5, centers=4, random_state=3)
    sample = np.sort(np.random.default_rng(0).choice(3000, 500, replace=False))
    for k in (2, 4, 6):
        labels = KMeans(k, n_init=1, random_state=0).fit(X).labels_
        got = tasks._silhouette(X, labels, sample, "test-token")
        assert got == pytest.approx(silhouette_score(X[sample], labels[sample]), rel=1e-12)
    assert list(tasks._distances) == ["test-token"] and tasks._distances["test-token"].shape == (500, 500)
    tasks._distances.clear()


def test_scores_are_scikit_learns_for_dense_and_sparse_data():
    import scipy.sparse
    from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, pairwise_distances, silhouette_score

    from nbparallel.ksearch.scores import calinski_davies, cluster_means, silhouette_from_distances

    rng = np.random.default_rng(0)
    for _ in range(50):
        n, d, k = int(rng.integers(20, 200)), int(rng.integers(1, 12)), int(rng.integers(2, 8))
        X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d) + rng.normal(size=d) * 5
        labels = rng.integers(0, k, n)
        labels[:k] = np.arange(k)
        want = (calinski_harabasz_score(X, labels), davies_bouldin_score(X, labels))
        for data in (X, scipy.sparse.csr_matrix(X)):
            np.testing.assert_allclose(calinski_davies(data, labels, *cluster_means(data, labels, k)), want, rtol=1e-8)
        labels[-1] = k + 3  # a cluster of one point, and codes with a gap
        distances = pairwise_distances(X)
        assert silhouette_from_distances(distances, labels) == pytest.approx(
            silhouette_score(distances, labels, metric="precomputed"), abs=1e-12
        )


def test_gap_on_wide_data_never_builds_a_features_by_features_matrix():
    from scipy.spatial.distance import pdist

    from nbparallel.ksearch.searches import GAP_DIMS, _gap_data

    X = np.random.default_rng(0).normal(size=(200, 30_000))  # like text features: a 30k x 30k matrix is 7 GB
    rotated = _gap_data(X, 0)
    assert rotated.shape == (200, GAP_DIMS)
    left, values, _ = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    leading = left[:, :GAP_DIMS] * values[:GAP_DIMS]  # the principal component scores
    np.testing.assert_allclose(pdist(rotated), pdist(leading), rtol=1e-6)  # the same geometry


@pytest.mark.parametrize(
    "name, scaled",
    [("iris", False), ("wine", True), ("breast_cancer", True)],
)
def test_real_labelled_sets_answer_near_their_class_count(name, scaled):
    # issue 38: the mixture splits real classes into many Gaussians (iris 5, wine 9, breast cancer 13)
    # and the vote followed it; one family is now one vote, and the split is shown where users look
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    bunch = getattr(datasets, f"load_{name}")()
    X = StandardScaler().fit_transform(bunch.data) if scaled else bunch.data
    res = nbp.choose_k(X, n_jobs=2, progress=False)
    classes = len(np.unique(bunch.target))
    assert abs(res.best_k - classes) <= 1 and res.edge is None
    assert res.split is not None and f"the criteria split: {res.split}" in res.reason
    for text in (repr(res).splitlines()[0], res._repr_html_()):
        assert all(f"{k} (" in text and crit in text for crit, k in res.picks.items() if k is not None)
