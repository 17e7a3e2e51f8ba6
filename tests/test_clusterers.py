"""Clusterers on planted structure: K found without labels, noise kept apart, predict works."""

import numpy as np
import pytest

from musiclust.errors import DataError, SpecError
from musiclust.registry import get_registry
from musiclust.spec import build_spec


def clusterer(name, **params):
    c = get_registry().get("clusterer", name).cls(**params)
    c.random_state = 0
    c.check()
    return c


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    Z, truth = make_blobs(n_samples=120, centers=4, cluster_std=0.6, random_state=3)
    return Z, truth


def same_partition(a, b):
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("kmeans", {}),
        ("kmeans", {"criterion": "calinski_harabasz"}),
        ("agglomerative", {}),
        ("agglomerative", {"linkage": "average"}),
        ("gmm", {}),  # BIC
        ("gmm", {"criterion": "silhouette", "covariance": "diag"}),
        ("spectral", {}),  # eigengap
        ("spectral", {"criterion": "silhouette"}),
    ],
)
def test_auto_k_finds_the_planted_clusters_without_labels(blobs, name, params):
    Z, truth = blobs
    c = clusterer(name, **params)
    labels = c.fit_predict(Z)
    assert same_partition(labels, truth)
    assert c.selection_["chosen"] == 4 and c.selection_["x"][0] == 2
    assert len(c.selection_["y"]) == len(c.selection_["x"])
    assert same_partition(c.predict(Z), truth)  # new points: native rule or nearest centroid


def test_a_given_k_is_used_and_checked(blobs):
    Z, _ = blobs
    assert len(set(clusterer("gmm", n_clusters=6).fit_predict(Z))) == 6
    with pytest.raises(DataError, match=r"agglomerative\.n_clusters=500, but there are only 120"):
        clusterer("agglomerative", n_clusters=500).fit_predict(Z)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        ("gmm.k_min=9 gmm.k_max=3", "gmm.k_min=9 is above gmm.k_max=3"),
        ("agglomerative.metric=cosine", "linkage=ward needs agglomerative.metric=euclidean"),
    ],
)
def test_contradictions_fail_before_any_work(sets, message):
    clusterer_name = sets.split(".")[0]
    with pytest.raises(SpecError, match=message):
        build_spec(get_registry(), clusterer=clusterer_name, sets=[sets])


def test_dbscan_keeps_noise_apart_and_picks_eps_from_the_knee(blobs):
    Z, truth = blobs
    outliers = np.array([[30.0, 30.0], [-30.0, 25.0], [25.0, -30.0]])
    data = np.vstack([Z, outliers])
    c = clusterer("dbscan")
    labels = c.fit_predict(data)
    assert (labels[-3:] == -1).all()  # the planted outliers are noise
    assert same_partition(labels[:-3][labels[:-3] != -1], truth[labels[:-3] != -1])
    assert len(set(labels.tolist()) - {-1}) == 4  # noise is not a cluster
    assert c.selection_["criterion"] == "k-distance knee" and c.eps_ == c.selection_["chosen"]
    far = c.predict(np.array([[100.0, 100.0], Z[0]]))
    assert far[0] == -1 and far[1] == labels[0]


def test_dbscan_with_a_given_eps_and_all_noise():
    Z = np.random.default_rng(0).uniform(-10, 10, size=(30, 2))
    c = clusterer("dbscan", eps=1e-6)
    assert (c.fit_predict(Z) == -1).all()
    assert (c.predict(Z[:3]) == -1).all()


def test_hdbscan_finds_clusters_and_noise(blobs):
    Z, truth = blobs
    data = np.vstack([Z, [[40.0, 40.0], [-40.0, -40.0]]])
    c = clusterer("hdbscan")
    labels = c.fit_predict(data)
    assert (labels[-2:] == -1).all()
    kept = labels[:-2] != -1
    assert kept.mean() > 0.8 and same_partition(labels[:-2][kept], truth[kept])
    assert (c.predict(Z[:5]) == labels[:5]).all()


def _chain(clusterer_name: str, **params):
    from musiclust.audio import AudioSettings
    from musiclust.chain import Chain

    registry = get_registry()
    feature = registry.get("feature", "audio_stats").cls()
    encoder = registry.get("encoder", "identity").cls()
    c = clusterer(clusterer_name, **params)
    return Chain([feature], encoder, c, AudioSettings()), feature


@pytest.mark.parametrize("name", ["kmeans", "agglomerative"])
def test_label_free_k_is_scored_in_the_reference_space_as_a_search_scores(name):
    """The clusterer clusters its own input; each candidate K is scored by the search's
    objective in the reference space, so the reference decides K. The input holds four groups
    in two pairs; where the reference sees four equally apart, K = 4 is chosen, where it sees
    only the two pairs, K = 2."""
    from sklearn.datasets import make_blobs

    from musiclust.extraction import FeatureBlock

    centres = [[0, 0], [0, 4], [30, 0], [30, 4]]
    Z, truth = make_blobs(n_samples=120, centers=centres, cluster_std=0.6, random_state=3)
    block = {
        "audio_stats": FeatureBlock("audio_stats", "audio", "vector", Z, np.ones(len(Z), bool))
    }
    rng = np.random.default_rng(0)
    square = 10.0 * np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[truth] + rng.normal(size=Z.shape)
    pairs = 10.0 * (truth[:, None] >= 2) + rng.normal(size=Z.shape)
    for reference, expected in ((square, 4), (pairs, 2)):
        chain, _ = _chain(name)
        _, clusters = chain.fit_predict(block, len(Z), reference=reference)
        assert chain.clusterer.selection_["criterion"] == "label_free"
        assert chain.clusterer.selection_["chosen"] == expected
        assert len(set(clusters.tolist())) == expected
        assert chain.clusterer.scorer is None  # it held the data: gone before pickling


def test_label_free_without_a_reference_says_so_and_uses_silhouette(blobs):
    Z, truth = blobs
    c = clusterer("kmeans")
    assert c.criterion == "label_free"
    labels = c.fit_predict(Z)
    assert same_partition(labels, truth) and c.selection_["criterion"] == "silhouette"
    assert "needs the run's reference space" in c.notes_[0]
