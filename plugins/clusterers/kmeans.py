"""``kmeans``: k-means, with K given or chosen by a declared, label-free criterion."""

from __future__ import annotations

import numpy as np

from toolkit import Choice, Clusterer, DataError, Int, SpecError, hookimpl

CRITERIA = ("silhouette", "calinski_harabasz", "davies_bouldin")


def score_partition(Z: np.ndarray, labels: np.ndarray, criterion: str) -> float:
    """Higher is better for every criterion (Davies-Bouldin is negated)."""
    from sklearn import metrics

    if criterion == "silhouette":
        return float(metrics.silhouette_score(Z, labels))
    if criterion == "calinski_harabasz":
        return float(metrics.calinski_harabasz_score(Z, labels))
    return -float(metrics.davies_bouldin_score(Z, labels))


class KMeansClusterer(Clusterer):
    """k-means; with n_clusters=auto, K is the best of k_min..k_max by the criterion."""

    name = "kmeans"
    params = (
        Int(
            "n_clusters",
            "auto",
            low=1,
            high=10000,
            also=("auto",),
            searchable=True,
            space=(2, 20),
            help="K, or 'auto' to choose it by the criterion (never from labels)",
        ),
        Int("k_min", 2, low=2, high=10000, help="smallest K tried by 'auto'"),
        Int("k_max", 12, low=2, high=10000, help="largest K tried by 'auto'"),
        Choice("criterion", "silhouette", choices=CRITERIA, help="how 'auto' scores each K"),
        Int("n_init", 10, low=1, high=1000, help="restarts; the best inertia is kept"),
    )

    def check(self) -> None:
        if self.k_min > self.k_max:
            raise SpecError(f"kmeans.k_min={self.k_min} is above kmeans.k_max={self.k_max}")

    def _kmeans(self, k: int):
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        n = len(Z)
        if self.n_clusters == "auto":
            ks = list(range(self.k_min, min(self.k_max, n - 1) + 1))
            if not ks:
                k = max(1, min(self.k_min, n))
            else:
                scores = []
                for k in ks:
                    labels = self._kmeans(k).fit_predict(Z)
                    ok = len(set(labels)) > 1
                    scores.append(score_partition(Z, labels, self.criterion) if ok else -np.inf)
                k = ks[int(np.argmax(scores))]
                self.selection_ = {
                    "criterion": self.criterion,
                    "k": ks,
                    "score": scores,
                    "chosen": k,
                }
        else:
            k = self.n_clusters
            if k > n:
                raise DataError(f"kmeans.n_clusters={k}, but there are only {n} clips")
        self.model_ = self._kmeans(k).fit(Z)
        return self.model_.labels_

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return self.model_.predict(Z)


@hookimpl
def register_clusterers(register):
    register(KMeansClusterer)
