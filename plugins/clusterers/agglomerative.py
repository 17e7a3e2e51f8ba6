"""``agglomerative``: hierarchical clustering (ward, average, complete or single linkage).

The tree is built once; each K of 'auto' is a cut of the same tree. New points go to the
nearest cluster centroid.
"""

from __future__ import annotations

import numpy as np

from plugins.clusterers.selection import INTERNAL, LABEL_FREE, check_range, choose_k, k_params
from toolkit import Choice, Clusterer, SpecError, hookimpl


class Agglomerative(Clusterer):
    """Agglomerative clustering; K given or chosen by a label-free criterion over tree cuts."""

    name = "agglomerative"
    params = (
        *k_params((LABEL_FREE, *INTERNAL), LABEL_FREE),
        Choice(
            "linkage",
            "ward",
            choices=("ward", "average", "complete", "single"),
            searchable=True,
            help="how cluster distances are measured",
        ),
        Choice(
            "metric",
            "euclidean",
            choices=("euclidean", "cosine", "cityblock"),
            help="point distance (ward needs euclidean)",
        ),
    )

    def check(self) -> None:
        check_range(self)
        if self.linkage == "ward" and self.metric != "euclidean":
            raise SpecError("agglomerative.linkage=ward needs agglomerative.metric=euclidean")

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster, linkage

        tree = linkage(Z, method=self.linkage, metric=self.metric)

        def fit(k: int) -> tuple[np.ndarray, None]:
            return fcluster(tree, t=k, criterion="maxclust") - 1, None

        labels, _ = choose_k(self, Z, fit)
        return labels


@hookimpl
def register_clusterers(register):
    register(Agglomerative)
