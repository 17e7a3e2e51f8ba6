"""An example musiclust plugin package: one audio feature and one clusterer.

``onset_stats``: how busy and how regular the rhythm is, from the onset-strength envelope
musiclust already computes for every clip (no second decode, no second STFT).
``birch``: scikit-learn's BIRCH, a clustering that summarises the data in a tree of
sub-clusters first, then groups the sub-clusters into K clusters.
"""

from __future__ import annotations

import numpy as np

from musiclust import AudioFeature, Clusterer, Float, Int, hookimpl


class OnsetStats(AudioFeature):
    """Rhythm profile: onset-strength statistics, periodicity and tempo."""

    name = "onset_stats"
    version = "1"  # bump when the values change: it is part of the feature cache key
    # declared once: --set parsing, validation, MLflow params and the search space
    # (the fusion weight every feature has is inherited from the base class)
    params = (
        Int(
            "max_lag",
            64,
            low=8,
            high=512,
            searchable=True,
            space=(16, 128),
            log=True,
            help="longest autocorrelation lag (frames) searched for a beat period",
        ),
    )

    def extract(self, audio) -> np.ndarray:
        envelope = audio.onset_envelope()
        centred = envelope - envelope.mean()
        lags = min(self.max_lag, len(centred) - 1)
        if lags < 2 or not centred.any():
            periodicity = 0.0
        else:
            acf = np.correlate(centred, centred, mode="full")[len(centred) - 1 :]
            periodicity = float(acf[2 : lags + 1].max() / acf[0])
        return np.array(
            [
                envelope.mean(),
                envelope.std(),
                np.percentile(envelope, 90),
                periodicity,
                audio.tempo(),
            ],
            dtype=np.float64,
        )


class Birch(Clusterer):
    """BIRCH: a clustering-feature tree of sub-clusters, grouped into K clusters."""

    name = "birch"
    params = (
        Int(
            "n_clusters",
            8,
            low=2,
            high=1000,
            searchable=True,
            space=(2, 20),
            help="number of clusters",
        ),
        Float(
            "threshold",
            0.5,
            low=1e-3,
            high=10.0,
            searchable=True,
            space=(0.05, 2.0),
            log=True,
            help="radius of a sub-cluster (smaller: more, finer sub-clusters)",
        ),
    )

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import Birch as SkBirch

        k = min(self.n_clusters, len(Z))
        return SkBirch(n_clusters=k, threshold=self.threshold).fit_predict(Z)


@hookimpl
def register_features(register):
    register(OnsetStats)


@hookimpl
def register_clusterers(register):
    register(Birch)
