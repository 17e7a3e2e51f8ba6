"""``agglomerative``: hierarchical clustering (ward, average, complete or single linkage).

The tree is built once; each K of 'auto' is a cut of the same tree. New points go to the
nearest cluster centroid. The tree takes n^2 / 2 distances (100,000 rows: 40 GB): beyond
``fit_rows`` rows (5,000) it is built on a seeded sample and every other row joins its nearest
sampled row's cluster.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from musiclust import Choice, Clusterer, SpecError, hookimpl
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

ALTERNATIVE = "leave agglomerative.fit_rows at 5000 (a sample), or use --clusterer kmeans"


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
        fit_rows_param(),
    )

    def check(self) -> None:
        check_range(self)
        if self.linkage == "ward" and self.metric != "euclidean":
            raise SpecError("agglomerative.linkage=ward needs agglomerative.metric=euclidean")

    def check_rows(self, n: int) -> None:
        check_rows(self, n, 2.0, ALTERNATIVE)

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster

        sample = Sample(self, Z, 2.0, ALTERNATIVE)
        tree = _tree(sample.rows, self.linkage, self.metric)

        def fit(k: int) -> tuple[np.ndarray, None]:
            return sample.extend(fcluster(tree, t=k, criterion="maxclust") - 1), None

        labels, _ = choose_k(self, Z, fit)
        return labels


#: The last trees built, by (rows, linkage, metric). Choosing K by label_free re-fits the
#: same bootstrap subsamples for every K (eleven times per draw with K in 2..12): a tree is
#: K-free, so each is built once (ten draws, K in 2..12: 10 trees instead of 110).
_TREES: OrderedDict[tuple, np.ndarray] = OrderedDict()
_KEPT = 16


def _tree(rows: np.ndarray, method: str, metric: str) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage

    data = np.ascontiguousarray(rows)
    key = (hashlib.blake2b(data.tobytes(), digest_size=16).digest(), data.shape, method, metric)
    if key in _TREES:
        _TREES.move_to_end(key)
        return _TREES[key]
    tree = linkage(data, method=method, metric=metric)
    _TREES[key] = tree
    while len(_TREES) > _KEPT:
        _TREES.popitem(last=False)
    return tree


@hookimpl
def register_clusterers(register):
    register(Agglomerative)
