"""Density-based clusterers: ``dbscan`` and ``hdbscan``. Points in no dense region are noise
(-1): reported as ``noise_share``, never counted as a cluster.

``dbscan.eps: auto`` is read off the k-distance curve (each point's distance to its
``min_samples``-th neighbour, sorted): the knee, where the curve turns from flat to steep, is the
point farthest below the chord between the curve's ends. New points join the cluster of their
nearest core point if it is within eps (DBSCAN's own rule), else they are noise; for HDBSCAN
they take the label of their nearest clustered neighbour.

Both grow faster than the rows they see: on 16-d latents, from 10,000 to 100,000 rows DBSCAN
went from 2.2 s to 110 s and HDBSCAN from 3.2 s to 520 s (growth exponents 1.7 and 2.2). Beyond
``fit_rows`` rows (5,000) they fit a seeded sample, and every other row joins its nearest
sampled row's cluster, or the noise when that row is noise. Densities are the sample's: eps
auto is read off the sample's k-distance curve, and ``min_cluster_size`` counts sampled rows.
"""

from __future__ import annotations

import numpy as np

from musiclust import Choice, Clusterer, Float, Int, hookimpl
from musiclust.plugins.clusterers.selection import Sample, check_rows, fit_rows_param

ALTERNATIVE = "leave {name}.fit_rows at 5000 (a sample), or use --clusterer kmeans"


def k_distances(Z: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest other point, sorted ascending."""
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(Z) - 1))
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)
    return np.sort(distances[:, -1])


def knee(values: np.ndarray) -> int:
    """Index of the knee of an ascending curve: farthest below the chord between its ends."""
    if len(values) < 3 or values[-1] == values[0]:
        return len(values) // 2
    x = np.linspace(0.0, 1.0, len(values))
    y = (values - values[0]) / (values[-1] - values[0])
    return int(np.argmax(x - y))


def nearest_label(
    points: np.ndarray, labels: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest point's label and distance (all noise when there are no points)."""
    if len(points) == 0:
        return np.full(len(Z), -1, dtype=int), np.full(len(Z), np.inf)
    from sklearn.neighbors import NearestNeighbors

    distance, index = NearestNeighbors(n_neighbors=1).fit(points).kneighbors(Z)
    return labels[index[:, 0]], distance[:, 0]


class DBSCANClusterer(Clusterer):
    """DBSCAN; eps given, or 'auto' from the knee of the k-distance curve. Noise is -1."""

    name = "dbscan"
    params = (
        Float(
            "eps",
            "auto",
            low=1e-12,
            also=("auto",),
            searchable=False,
            help="neighbourhood radius, or 'auto' from the k-distance knee",
        ),
        Int(
            "min_samples",
            5,
            low=1,
            high=1000,
            searchable=True,
            space=(3, 20),
            help="neighbours (itself included) that make a core point",
        ),
        fit_rows_param(),
    )

    def check_rows(self, n: int) -> None:
        check_rows(self, n, 2.0, ALTERNATIVE.format(name=self.name))

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import DBSCAN

        sample = Sample(self, Z, 2.0, ALTERNATIVE.format(name=self.name))
        Z = sample.rows
        eps = self.eps
        if eps == "auto":
            curve = k_distances(Z, self.min_samples - 1 if self.min_samples > 1 else 1)
            eps = float(curve[knee(curve)]) or float(curve[curve > 0].min(initial=1e-9))
            self.selection_ = {
                "criterion": "k-distance knee",
                "x": list(range(len(curve))),
                "y": curve.tolist(),
                "chosen": eps,
                "chosen_axis": "y",
                "xlabel": "points, sorted",
                "ylabel": f"distance to neighbour {self.min_samples - 1}",
            }
        self.eps_ = eps
        model = DBSCAN(eps=eps, min_samples=self.min_samples).fit(Z)
        core = model.core_sample_indices_
        self.core_points_ = Z[core]
        self.core_labels_ = model.labels_[core]
        return sample.extend(model.labels_)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        labels, distance = nearest_label(self.core_points_, self.core_labels_, Z)
        return np.where(distance <= self.eps_, labels, -1)


class HDBSCANClusterer(Clusterer):
    """HDBSCAN: density clusters of varying density, no eps to choose. Noise is -1."""

    name = "hdbscan"
    params = (
        Int(
            "min_cluster_size",
            5,
            low=2,
            high=10000,
            searchable=True,
            space=(3, 30),
            help="smallest group that counts as a cluster",
        ),
        Int(
            "min_samples",
            None,
            low=1,
            high=1000,
            nullable=True,
            help="density smoothing (none: min_cluster_size)",
        ),
        Choice(
            "selection",
            "eom",
            choices=("eom", "leaf"),
            searchable=True,
            help="excess of mass (fewer, larger clusters) or leaf (more, smaller)",
        ),
        fit_rows_param(),
    )

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import HDBSCAN

        # its memory grows linearly, its time with the square: no memory check (factor 0)
        sample = Sample(self, Z, 0.0, ALTERNATIVE.format(name=self.name))
        Z = sample.rows
        size = min(self.min_cluster_size, len(Z))
        model = HDBSCAN(
            min_cluster_size=max(2, size),
            min_samples=self.min_samples,
            cluster_selection_method=self.selection,
            copy=True,
        )
        labels = model.fit_predict(Z)
        self.points_, self.point_labels_ = Z[labels != -1], labels[labels != -1]
        return sample.extend(labels)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return nearest_label(self.points_, self.point_labels_, Z)[0]


@hookimpl
def register_clusterers(register):
    register(DBSCANClusterer)
    register(HDBSCANClusterer)
