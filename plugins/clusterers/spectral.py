"""``spectral``: spectral clustering on a nearest-neighbour (default) or RBF affinity.

'auto' picks K by the eigengap of the normalised graph Laplacian (computed once: the largest
relative jump (l[K] - l[K-1]) / l[K] after the K-th smallest eigenvalue, so K near-zero
eigenvalues followed by a clear rise win) or by an internal score over refits. New points go to
the nearest cluster centroid. The eigengap and the RBF affinity take n x n dense matrices:
beyond ``fit_rows`` rows (5,000) the clustering is fitted on a seeded sample and every other
row joins its nearest sampled row's cluster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import Choice, Clusterer, Float, Int, hookimpl
from musiclust.plugins.clusterers.selection import (
    INTERNAL,
    LABEL_FREE,
    Sample,
    check_range,
    check_rows,
    choose_k,
    fit_rows_param,
    k_params,
)

ALTERNATIVE = "leave spectral.fit_rows at 5000 (a sample), or use --clusterer kmeans"


class Spectral(Clusterer):
    """Spectral clustering; 'auto' picks K by the Laplacian eigengap (or an internal score)."""

    name = "spectral"
    params = (
        *k_params(("eigengap", LABEL_FREE, *INTERNAL), "eigengap"),
        Choice(
            "affinity",
            "nearest_neighbors",
            choices=("nearest_neighbors", "rbf"),
            help="how the similarity graph is built",
        ),
        Int(
            "n_neighbors",
            10,
            low=2,
            high=1000,
            searchable=True,
            space=(5, 30),
            help="neighbours per point (nearest_neighbors)",
        ),
        Float(
            "gamma",
            "auto",
            low=1e-9,
            also=("auto",),
            help="RBF width; auto: 1 / median squared distance",
        ),
        fit_rows_param(),
    )

    def check(self) -> None:
        check_range(self)

    def check_rows(self, n: int) -> None:
        check_rows(self, n, 6.0, ALTERNATIVE)

    def _affinity(self, Z: np.ndarray) -> Any:
        n = len(Z)
        if self.affinity == "nearest_neighbors":
            from sklearn.neighbors import kneighbors_graph

            graph = kneighbors_graph(Z, n_neighbors=min(self.n_neighbors, n - 1), include_self=True)
            return 0.5 * (graph + graph.T)
        from scipy.spatial.distance import pdist, squareform

        squared = squareform(pdist(Z, "sqeuclidean"))
        gamma = self.gamma
        if gamma == "auto":
            median = np.median(squared[np.triu_indices(n, 1)]) if n > 1 else 1.0
            gamma = 1.0 / median if median > 0 else 1.0
        return np.exp(-gamma * squared)

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        import warnings

        from scipy.sparse.csgraph import connected_components

        # the eigengap's dense Laplacian and its eigenvalues: about 6 n x n halves
        sample = Sample(self, Z, 6.0, ALTERNATIVE)
        affinity = self._affinity(sample.rows)
        parts = connected_components(affinity, directed=False)[0]
        if parts > 1:
            self.notes_ = [
                *self.notes_,
                f"spectral: the similarity graph falls into {parts} disconnected parts "
                f"(n_neighbors={self.n_neighbors}); clusters follow them",
            ]
        with warnings.catch_warnings():  # said once, above, instead of per fit
            warnings.filterwarnings("ignore", message="Graph is not fully connected")
            return self._cluster(Z, affinity, sample)

    def _cluster(self, Z: np.ndarray, affinity: Any, sample: Sample) -> np.ndarray:
        from sklearn.cluster import SpectralClustering

        def fit(k: int) -> tuple[np.ndarray, None]:
            model = SpectralClustering(
                n_clusters=k, affinity="precomputed", random_state=self.random_state
            )
            return sample.extend(model.fit_predict(affinity)), None

        if self.criterion == "eigengap" and self.n_clusters == "auto":
            ks = list(range(self.k_min, min(self.k_max, len(sample.rows) - 1) + 1))
            if ks:
                eigenvalues = _laplacian_spectrum(affinity, ks[-1] + 1)
                # relative jump after the K-th smallest eigenvalue: K near-zero eigenvalues
                # then a clear rise; an absolute jump can prefer noise higher in the spectrum
                gaps = [
                    float((eigenvalues[k] - eigenvalues[k - 1]) / max(eigenvalues[k], 1e-12))
                    for k in ks
                ]
                chosen = ks[int(np.argmax(gaps))]
                self.selection_ = {
                    "criterion": "eigengap",
                    "x": ks,
                    "y": gaps,
                    "chosen": chosen,
                    "xlabel": "K",
                }
                return fit(chosen)[0]
        labels, _ = choose_k(self, Z, fit)
        return labels


def _laplacian_spectrum(affinity: Any, count: int) -> np.ndarray:
    """The smallest ``count`` eigenvalues of the normalised Laplacian, ascending."""
    from scipy.sparse import csgraph, issparse

    laplacian = csgraph.laplacian(affinity, normed=True)
    dense = laplacian.toarray() if issparse(laplacian) else laplacian
    return np.sort(np.linalg.eigvalsh(dense))[:count]


@hookimpl
def register_clusterers(register):
    register(Spectral)
