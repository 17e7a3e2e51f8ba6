"""``internal``: silhouette, Calinski-Harabasz and Davies-Bouldin, label-free.

Computed twice: in the space that was clustered (keys ``silhouette`` ...) and in the data set's
fixed reference space (``reference.silhouette`` ...), so a collapsed or distorted latent cannot
look good by scoring itself. Noise points (-1) are left out.
"""

from __future__ import annotations

import numpy as np

from musiclust import Evaluation, Int, Metric, hookimpl, scale

KEYS = ("silhouette", "calinski_harabasz", "davies_bouldin")


def internal_scores(
    X: np.ndarray, labels: np.ndarray, sample_size: int, seed: int | None, prefix: str = ""
) -> dict[str, float | str]:
    """The three scores, or for each the reason it is undefined here."""
    from sklearn import metrics

    keep = labels != -1
    X, labels = X[keep], labels[keep]
    k, n = len(set(labels.tolist())), len(labels)
    if not 2 <= k <= n - 1:
        reason = f"needs 2 to n-1 clusters, got {k} cluster(s) of {n} clustered clips"
        return {prefix + key: reason for key in KEYS}
    return {
        prefix + "silhouette": scale.silhouette(X, labels, seed, sample_size),
        prefix + "calinski_harabasz": float(metrics.calinski_harabasz_score(X, labels)),
        prefix + "davies_bouldin": float(metrics.davies_bouldin_score(X, labels)),
    }


class Internal(Metric):
    """Silhouette, Calinski-Harabasz, Davies-Bouldin in the latent and the reference space."""

    name = "internal"
    params = (
        Int(
            "sample_size",
            scale.SAMPLE_ROWS,
            low=100,
            help="silhouette on a seeded sample of this many clips (stratified by cluster)",
        ),
    )

    def compute(self, ev: Evaluation) -> dict[str, float | str | None]:
        out: dict[str, float | str | None] = dict(
            internal_scores(ev.latent, ev.clusters, self.sample_size, ev.seed)
        )
        if ev.reference is None:
            out.update({f"reference.{k}": "no reference features" for k in KEYS})
        else:
            rows = ev.reference_rows()
            out.update(
                internal_scores(
                    ev.reference[rows],
                    ev.clusters[rows],
                    self.sample_size,
                    ev.seed,
                    prefix="reference.",
                )
            )
        return out


@hookimpl
def register_metrics(register):
    register(Internal)
