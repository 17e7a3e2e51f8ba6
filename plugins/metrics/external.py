"""``external``: agreement of the clusters with each label column, for evaluation only.

For each label column (``genre``, ``language``, ...): AMI and ARI (chance-adjusted), NMI,
V-measure, homogeneity, completeness, purity and Hungarian accuracy, under the keys
``<column>.<metric>``. Clips without that label are left out. Noise points (-1) form one group
for the information-based scores and count as errors for purity and accuracy, so declaring
points noise never raises a score.
"""

from __future__ import annotations

import numpy as np

from musiclust import Evaluation, Int, Metric, hookimpl


def contingency(labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Counts of (cluster, class) over non-noise clips: rows are clusters, columns classes."""
    keep = clusters != -1
    _, cls = np.unique(labels, return_inverse=True)
    ids, clu = np.unique(clusters[keep], return_inverse=True)
    table = np.zeros((len(ids), cls.max() + 1 if len(cls) else 0), dtype=np.int64)
    np.add.at(table, (clu, cls[keep]), 1)
    return table


def purity(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Share of clips that belong to their cluster's majority class (noise counts as wrong)."""
    table = contingency(labels, clusters)
    return float(table.max(axis=1).sum() / len(labels)) if table.size else 0.0


def hungarian_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy under the best one-to-one matching of clusters to classes."""
    from scipy.optimize import linear_sum_assignment

    table = contingency(labels, clusters)
    if not table.size:
        return 0.0
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / len(labels))


def external_scores(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    from sklearn import metrics

    homogeneity, completeness, v_measure = metrics.homogeneity_completeness_v_measure(
        labels, clusters
    )
    return {
        "ami": float(metrics.adjusted_mutual_info_score(labels, clusters)),
        "ari": float(metrics.adjusted_rand_score(labels, clusters)),
        "nmi": float(metrics.normalized_mutual_info_score(labels, clusters)),
        "v_measure": float(v_measure),
        "homogeneity": float(homogeneity),
        "completeness": float(completeness),
        "purity": purity(labels, clusters),
        "accuracy": hungarian_accuracy(labels, clusters),
    }


class External(Metric):
    """AMI, ARI, NMI, V-measure, homogeneity, completeness, purity, accuracy per label column,
    and the same scores against shuffled labels (what chance alone gives these clusters)."""

    name = "external"
    params = (
        Int(
            "shuffles",
            10,
            low=0,
            high=1000,
            help="label shuffles for the chance control <column>.shuffled.<metric> (0: none)",
        ),
    )

    def compute(self, ev: Evaluation) -> dict[str, float | str | None]:
        out: dict[str, float | str | None] = {}
        rng = np.random.default_rng(ev.seed)
        for column, values in ev.labels.items():
            rows = np.array([v is not None for v in values], dtype=bool)
            if rows.sum() < 2:
                out[f"{column}.ami"] = "fewer than 2 labelled clips"
                continue
            labels = np.asarray(values[rows]).astype(str)
            clusters = ev.clusters[rows]
            scores = external_scores(labels, clusters)
            out.update({f"{column}.{k}": v for k, v in scores.items()})
            out[f"{column}.n_classes"] = float(len(set(labels.tolist())))
            if self.shuffles:
                control = [
                    external_scores(rng.permutation(labels), clusters) for _ in range(self.shuffles)
                ]
                for key in ("ami", "ari", "nmi", "purity", "accuracy"):
                    out[f"{column}.shuffled.{key}"] = float(np.mean([c[key] for c in control]))
        return out


@hookimpl
def register_metrics(register):
    register(External)
