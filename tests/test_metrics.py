"""Metrics against hand-computed cases; noise handling; undefined cases reported, not crashed."""

import numpy as np
import pytest

from musiclust.evaluation import Evaluation, compute_metrics
from musiclust.plugins.metrics.external import External, contingency, hungarian_accuracy, purity
from musiclust.plugins.metrics.internal import Internal
from musiclust.plugins.metrics.sizes import Sizes


def arr(*values):
    return np.array(values, dtype=object)


def test_purity_and_accuracy_agree_when_the_matching_is_one_to_one():
    labels = arr("a", "a", "a", "b", "b", "c")
    clusters = np.array([0, 0, 1, 1, 1, 2])
    # cluster 0: a,a   cluster 1: a,b,b   cluster 2: c  -> majorities 2 + 2 + 1 of 6
    assert purity(labels, clusters) == pytest.approx(5 / 6)
    assert hungarian_accuracy(labels, clusters) == pytest.approx(5 / 6)


def test_accuracy_is_one_to_one_where_purity_is_not():
    labels = arr("a", "a", "a", "a", "b", "b")
    clusters = np.array([0, 0, 1, 1, 2, 2])
    assert purity(labels, clusters) == 1.0  # every cluster is pure...
    assert hungarian_accuracy(labels, clusters) == pytest.approx(4 / 6)  # ...but 'a' is split


def test_noise_counts_as_wrong_never_as_a_pure_cluster():
    labels = arr("a", "b", "a", "a")
    clusters = np.array([-1, -1, 0, 0])
    assert contingency(labels, clusters).tolist() == [[2, 0]]
    assert purity(labels, clusters) == 0.5  # as a cluster of its own, noise would give 0.75
    assert hungarian_accuracy(labels, clusters) == 0.5


def test_chance_adjusted_scores_see_through_many_small_clusters():
    rng = np.random.default_rng(0)
    labels = rng.choice(list("abcdefghij"), size=2000).astype(object)
    clusters = rng.integers(0, 200, size=2000)  # random: no information about labels
    ev = Evaluation(
        ids=list(map(str, range(2000))),
        latent=np.zeros((2000, 2)),
        clusters=clusters,
        labels={"genre": labels},
    )
    scores, _ = compute_metrics(ev, [External()])
    assert abs(scores["genre.ami"]) < 0.02 and abs(scores["genre.ari"]) < 0.02
    assert scores["genre.nmi"] > 0.1 and scores["genre.purity"] > 0.25  # the uncorrected ones
    assert scores["genre.n_classes"] == 10


def test_external_scores_skip_clips_without_the_label():
    clusters = np.array([0, 0, 1, 1, 1])
    ev = Evaluation(
        ids=list("vwxyz"),
        latent=np.zeros((5, 2)),
        clusters=clusters,
        labels={
            "genre": arr("a", "a", "b", "b", None),
            "language": arr(None, None, None, None, "en"),
        },
    )
    scores, missing = compute_metrics(ev, [External()])
    assert scores["genre.ami"] == pytest.approx(1.0) and scores["genre.accuracy"] == 1.0
    assert "language.ami" not in scores and missing["language.ami"] == "fewer than 2 labelled clips"


def test_internal_scores_in_the_clustered_and_the_reference_space():
    rng = np.random.default_rng(1)
    latent = np.concatenate([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    clusters = np.repeat([0, 1], 20)
    reference = rng.normal(size=(40, 3))  # the clusters mean nothing there
    reference[0] = np.nan  # a clip without reference features is left out
    ev = Evaluation(
        ids=list(map(str, range(40))), latent=latent, clusters=clusters, reference=reference
    )
    scores, missing = compute_metrics(ev, [Internal()])
    assert scores["silhouette"] > 0.9
    assert abs(scores["reference.silhouette"]) < 0.2
    assert scores["davies_bouldin"] < scores["reference.davies_bouldin"]
    assert not missing


def test_one_cluster_is_reported_as_not_computed():
    ev = Evaluation(
        ids=list("abcd"),
        latent=np.random.default_rng(0).normal(size=(4, 2)),
        clusters=np.zeros(4, dtype=int),
    )
    scores, missing = compute_metrics(ev, [Internal(), Sizes()])
    assert "silhouette" not in scores
    assert missing["silhouette"].startswith("needs 2 to n-1 clusters, got 1 cluster")
    assert missing["reference.silhouette"] == "no reference features"
    assert scores["largest_cluster_share"] == 1.0


def test_sizes_with_noise():
    ev = Evaluation(
        ids=list("abcdefgh"), latent=np.zeros((8, 2)), clusters=np.array([-1, -1, 0, 0, 0, 1, 1, 2])
    )
    scores, _ = compute_metrics(ev, [Sizes()])
    assert scores["n_clusters"] == 3  # noise is not a cluster
    assert scores["noise_share"] == 0.25
    assert scores["largest_cluster_share"] == 3 / 8
    shares = np.array([3, 2, 1]) / 6
    assert scores["cluster_size_entropy"] == pytest.approx(-(shares * np.log(shares)).sum())


def test_the_shuffled_control_shows_what_chance_gives():
    rng = np.random.default_rng(4)
    labels = rng.choice(list("abcd"), size=400).astype(object)
    clusters = np.array([{"a": 0, "b": 1, "c": 2, "d": 3}[v] for v in labels])
    ev = Evaluation(
        ids=list(map(str, range(400))),
        latent=np.zeros((400, 2)),
        clusters=clusters,
        labels={"genre": labels},
        seed=0,
    )
    scores, _ = compute_metrics(ev, [External(shuffles=5)])
    assert scores["genre.ami"] == pytest.approx(1.0)
    assert abs(scores["genre.shuffled.ami"]) < 0.02 and abs(scores["genre.shuffled.ari"]) < 0.02
    assert 0.2 < scores["genre.shuffled.purity"] < 0.35  # about the largest class share
    none, _ = compute_metrics(ev, [External(shuffles=0)])
    assert not [k for k in none if ".shuffled." in k]
