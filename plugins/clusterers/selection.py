"""Choosing K without labels: a declared criterion scored over a range of K.

Clusterers with ``n_clusters: auto`` fit each K in ``k_min..k_max`` (capped at n - 1) and keep
the best by their ``criterion``; the curve is kept in ``selection_`` for the ``k_selection``
report. Every criterion is label-free. Higher is better for all of them as computed here
(Davies-Bouldin, BIC and AIC are negated).

``label_free`` is the rule a search ranks its trials by (:mod:`musiclust.objectives`): the
silhouette in the run's reference space beyond what the same K finds in structureless data,
times the stability of bootstrap re-fits. The framework hands it in as the clusterer's
``scorer``. The internal criteria score the clusterer's own input space, where silhouette
falls to K = 2 on music: on the 50 dev clips, PCA + k-means with K by silhouette reached
AMI 0.19 (K = 2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from musiclust import Choice, DataError, Int, Param, SpecError, scale

INTERNAL = ("silhouette", "calinski_harabasz", "davies_bouldin")
LABEL_FREE = "label_free"


def k_params(criteria: tuple[str, ...], default: str) -> tuple[Param, ...]:
    """The parameters every K-choosing clusterer declares."""
    return (
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
        Choice("criterion", default, choices=criteria, help="how 'auto' scores each K"),
    )


def check_range(clusterer: Any) -> None:
    if clusterer.k_min > clusterer.k_max:
        raise SpecError(
            f"{clusterer.name}.k_min={clusterer.k_min} is above "
            f"{clusterer.name}.k_max={clusterer.k_max}"
        )


def fixed_k(clusterer: Any, n: int) -> int:
    if clusterer.n_clusters > n:
        raise DataError(
            f"{clusterer.name}.n_clusters={clusterer.n_clusters}, but there are only {n} points"
        )
    return clusterer.n_clusters


def score_partition(
    Z: np.ndarray, labels: np.ndarray, criterion: str, seed: int | None = 0
) -> float:
    """An internal criterion, higher is better; -inf when undefined (one cluster). The
    silhouette is computed on a stratified sample beyond SAMPLE_ROWS rows."""
    from sklearn import metrics

    from musiclust import scale

    keep = labels != -1
    k = len(set(labels[keep].tolist()))
    if not 2 <= k <= keep.sum() - 1:
        return -np.inf
    if criterion == "silhouette":
        return scale.silhouette(Z[keep], labels[keep], seed)
    if criterion == "calinski_harabasz":
        return float(metrics.calinski_harabasz_score(Z[keep], labels[keep]))
    return -float(metrics.davies_bouldin_score(Z[keep], labels[keep]))


def choose_k(
    clusterer: Any,
    Z: np.ndarray,
    fit: Callable[[int], tuple[np.ndarray, Any]],
    score: Callable[[np.ndarray, Any], float] | None = None,
) -> tuple[np.ndarray, Any]:
    """Fit K given or chosen; keeps ``selection_`` when chosen. Returns (labels, model)."""
    n = len(Z)
    if clusterer.n_clusters != "auto":
        return fit(fixed_k(clusterer, n))
    ks = list(range(clusterer.k_min, min(clusterer.k_max, n - 1) + 1))
    if not ks:
        return fit(max(1, min(clusterer.k_min, n)))
    criterion = clusterer.criterion
    if criterion == LABEL_FREE:
        scorer = clusterer.scorer
        if scorer is None:  # fitted outside a run (no reference space): say so, use silhouette
            criterion = "silhouette"
            clusterer.notes_ = [
                *clusterer.notes_,
                f"{clusterer.name}: criterion label_free needs the run's reference space; "
                "K was chosen by silhouette in the clusterer's input instead",
            ]
        else:
            return _choose(clusterer, ks, fit, lambda labels, _, k: scorer(labels, k), criterion)
    seed = clusterer.random_state
    own = score or (lambda labels, _: score_partition(Z, labels, criterion, seed))
    return _choose(clusterer, ks, fit, lambda labels, model, _: own(labels, model), criterion)


def _choose(
    clusterer: Any,
    ks: list[int],
    fit: Callable[[int], tuple[np.ndarray, Any]],
    score: Callable[[np.ndarray, Any, int], float],
    criterion: str,
) -> tuple[np.ndarray, Any]:
    """The best K of ``ks`` by ``score(labels, model, k)``; the curve goes to selection_."""
    from tqdm.auto import tqdm

    best = None
    scores = []
    # a bar on a terminal for the run's own clusterer (progress_ is set by the run)
    hide = None if clusterer.progress_ else True  # None: on a terminal
    for k in tqdm(ks, desc=f"{clusterer.name}: K by {criterion}", disable=hide, leave=False):
        labels, model = fit(k)
        value = score(labels, model, k)
        scores.append(value)
        if best is None or value > best[0]:
            best = (value, k, labels, model)
    assert best is not None
    clusterer.selection_ = {
        "criterion": criterion,
        "x": ks,
        "y": scores,
        "chosen": best[1],
        "xlabel": "K",
    }
    return best[2], best[3]


def fit_rows_param() -> Int:
    """The parameter of a clusterer whose memory or time grows with the square of its rows."""
    return Int(
        "fit_rows",
        scale.FIT_ROWS,
        low=0,
        high=10_000_000,
        help="beyond this many rows, fit a seeded sample of them and give every other row "
        "its nearest fitted row's cluster (0: fit every row)",
    )


def check_rows(clusterer: Any, n: int, factor: float, alternative: str) -> None:
    """Refuse a fit of ``n`` rows whose ``factor`` n x n halves this machine cannot hold."""
    fitted = n if clusterer.fit_rows <= 0 else min(n, clusterer.fit_rows)
    scale.check_quadratic(
        f"{clusterer.name} with fit_rows={clusterer.fit_rows}", fitted, factor, alternative
    )


class Sample:
    """The rows a quadratic clusterer fits (all, or a seeded sample of ``fit_rows``), and the
    way every other row gets a cluster: that of its nearest fitted row. Sampling keeps the
    clusters' shapes (a uniform sample has each cluster's share) at a fixed cost, where a
    full tree or affinity on 100,000 rows would take 40-80 GB."""

    def __init__(self, clusterer: Any, Z: np.ndarray, factor: float, alternative: str) -> None:
        check_rows(clusterer, len(Z), factor, alternative)
        self.idx = scale.fit_sample(len(Z), clusterer.fit_rows, clusterer.random_state)
        self.rows = Z if self.idx is None else Z[self.idx]
        self.nearest: np.ndarray | None = None
        clusterer.notes_ = []
        if self.idx is not None:
            self.nearest = scale.nearest_rows(self.rows, Z)
            self.nearest[self.idx] = np.arange(len(self.idx))
            clusterer.notes_ = [
                f"{clusterer.name}: fitted on a seeded sample of {len(self.idx):,} of "
                f"{len(Z):,} rows (fit_rows); the others joined their nearest fitted row's cluster"
            ]

    def extend(self, labels: np.ndarray) -> np.ndarray:
        """Labels of the fitted rows -> labels of every row."""
        return labels if self.nearest is None else np.asarray(labels)[self.nearest]
