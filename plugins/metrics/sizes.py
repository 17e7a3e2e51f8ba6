"""``sizes``: how the clips spread over clusters (the first thing to check for collapse)."""

from __future__ import annotations

import numpy as np

from musiclust import Evaluation, Metric, hookimpl


class Sizes(Metric):
    """Number of clusters, noise share, largest-cluster share and cluster-size entropy."""

    name = "sizes"

    def compute(self, ev: Evaluation) -> dict[str, float | str | None]:
        clusters = ev.clusters
        n = len(clusters)
        noise = clusters == -1
        _, counts = np.unique(clusters[~noise], return_counts=True)
        shares = counts / counts.sum() if counts.size else counts
        return {
            "n_clusters": float(len(counts)),
            "noise_share": float(noise.mean()) if n else 0.0,
            "largest_cluster_share": float(counts.max() / n) if counts.size else 0.0,
            "cluster_size_entropy": float(-(shares * np.log(shares)).sum()) if counts.size else 0.0,
        }


@hookimpl
def register_metrics(register):
    register(Sizes)
