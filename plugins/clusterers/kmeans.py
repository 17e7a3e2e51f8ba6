"""``kmeans``: k-means, with K given or chosen by a declared, label-free criterion."""

from __future__ import annotations

import numpy as np

from musiclust import Clusterer, Int, hookimpl
from musiclust.plugins.clusterers.selection import (
    INTERNAL,
    LABEL_FREE,
    check_range,
    choose_k,
    k_params,
)


class KMeansClusterer(Clusterer):
    """k-means; with n_clusters=auto, K is the best of k_min..k_max by the criterion."""

    name = "kmeans"
    params = (
        *k_params((LABEL_FREE, *INTERNAL), LABEL_FREE),
        Int("n_init", 10, low=1, high=1000, help="restarts; the best inertia is kept"),
        Int(
            "minibatch_rows",
            20000,
            low=0,
            help="beyond this many rows, mini-batch k-means (0: never)",
        ),
    )

    def check(self) -> None:
        check_range(self)

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        minibatch = 0 < self.minibatch_rows < len(Z)
        if minibatch:
            self.notes_ = [
                f"kmeans: mini-batch k-means on {len(Z):,} rows (minibatch_rows="
                f"{self.minibatch_rows:,})"
            ]

        def fit(k: int) -> tuple[np.ndarray, KMeans | MiniBatchKMeans]:
            if minibatch:  # 0.3 s instead of 15 s per K at 100,000 rows x 32 (Sculley 2010)
                model = MiniBatchKMeans(
                    n_clusters=k, n_init=3, batch_size=4096, random_state=self.random_state
                )
            else:
                model = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)
            return model.fit_predict(Z), model

        labels, self.model_ = choose_k(self, Z, fit)
        return labels

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict(Z)


@hookimpl
def register_clusterers(register):
    register(KMeansClusterer)
