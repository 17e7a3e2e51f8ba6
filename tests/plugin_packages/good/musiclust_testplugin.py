"""A third-party plugin as a user would write one: a feature and a clusterer."""

import numpy as np

from musiclust import AudioFeature, Clusterer, Int, hookimpl


class RmsStats(AudioFeature):
    """Loudness profile: mean, std and 10/50/90th percentiles of frame RMS in dB."""

    name = "rms_stats"

    def extract(self, audio):
        db = 20 * np.log10(audio.rms()[0] + 1e-6)
        return np.array([db.mean(), db.std(), *np.percentile(db, [10, 50, 90])])


class WardTest(Clusterer):
    """Ward agglomerative clustering with a fixed number of clusters."""

    name = "ward_test"
    params = (Int("n_clusters", 3, low=2, high=100, searchable=True, help="clusters"),)

    def cluster(self, Z):
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(n_clusters=self.n_clusters).fit_predict(Z)


@hookimpl
def register_features(register):
    register(RmsStats)


@hookimpl
def register_clusterers(register):
    register(WardTest)
