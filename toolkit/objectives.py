"""What a search maximises: one number per trial, on one yardstick for every trial.

Label-free objectives never see labels, nor their number. They score a clustering in the data
set's fixed *reference space* (:mod:`musiclust.reference`: the ``audio_stats`` of the clips over
2 s texture windows beside the pretrained ``musicnn`` embedding where its weights are installed,
``tfidf`` without audio), never in the trial's own latent space, so a latent that collapsed or
was stretched to look clustered cannot grade itself. ``benchmarks/results/objectives.md``
compares the candidate spaces on the dev clips.

Every objective returns the value and its parts (logged as ``objective.<part>`` in the trial's
run), and a degenerate clustering (one cluster, or the largest holding more than half of the
clips, or fewer than 2 active latent units) scores :data:`COLLAPSED`, below any real
clustering. Both it and a run's ``collapsed=true`` tag apply one rule
(:func:`musiclust.evaluation.collapse_reasons`); the guard takes a largest-cluster limit of one
half, stricter than the tag's at K = 2-4, because while ranking, a giant cluster beside slivers
is the trap a collapsed latent falls into.

``reference_gap`` (part of the default): the silhouette of the clusters in the reference space
minus the silhouette k-means reaches with the same K on structureless data of the same shape (a
Gaussian with the reference space's covariance, as in the gap statistic). Plain silhouette
rises as K falls, so on its own it picks K=2 on almost any music collection; the null at the
same K removes that pull and leaves what the clusters explain beyond chance.

``stability``: how well the clustering survives re-fitting the clusterer on bootstrap
subsamples (80% of the clips, ten draws): the mean adjusted Rand index between the re-fit's
clusters and the trial's on the subsample. Clusters that are an artefact of one fit do not
come back. The re-fit takes the trial's own way to clip clusters (windows that vote are
re-clustered and vote again).

``label_free`` (the default): ``reference_gap * stability`` (both must hold), or the gap alone
when it is not positive (no structure beyond chance ranks below any that has some). See
``benchmarks/results/objectives.md`` for how each picks on the dev clips.

``ami`` / ``ami:<column>``: supervised (adjusted mutual information with a label column); the
study is tagged ``label_tuned=true``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musiclust import defaults
from musiclust.errors import DataError, SpecError, did_you_mean
from musiclust.evaluation import RANKING_LIMIT, collapse_reasons
from musiclust.segments import vote

#: The score of a collapsed or undefined clustering (all real scores are above it).
COLLAPSED = -1.0
BOOTSTRAP_DRAWS = 10
BOOTSTRAP_SHARE = 0.8
NULL_DRAWS = 3
#: Rows of each structureless draw. The null and the clusters' silhouette both estimate a
#: population mean, which a few thousand rows pin down (k-means on a 291-d Gaussian took about
#: 0.3 s per draw and K at 1,000 rows, and grows with them; the search pays it for every K).
NULL_ROWS = 2000


@dataclass
class Scored:
    value: float
    parts: dict[str, float] = field(default_factory=dict)
    reason: str | None = None  # why the value is COLLAPSED


@dataclass
class Inputs:
    """What an objective may look at. ``labels`` is filled only for supervised objectives."""

    clusters: np.ndarray
    reference: np.ndarray | None  # standardised reference rows (clips that have them)
    reference_rows: np.ndarray | None  # boolean mask of those clips
    refit: Callable[[np.ndarray, int], np.ndarray] | None  # (clip indices, draw) -> clusters
    active_units: float | None = None
    labels: dict[str, np.ndarray] = field(default_factory=dict)


class Objective:
    name = ""
    supervised = False
    direction = "maximize"
    label: str | None = None

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._null: dict[int, float] = {}
        self._shape: np.ndarray | None = None

    def score(self, x: Inputs) -> Scored:
        reason = collapse_reason(x.clusters, x.active_units)
        if reason:
            return Scored(COLLAPSED, {}, reason)
        return self._score(x)

    def _score(self, x: Inputs) -> Scored:
        raise NotImplementedError

    # -- parts shared by the label-free objectives ------------------------------------------
    def reference_gap(self, x: Inputs) -> tuple[float, float]:
        """(gap, silhouette) in the reference space (on a stratified sample beyond
        :data:`musiclust.scale.SAMPLE_ROWS` clips)."""
        from musiclust import scale

        if x.reference is None or x.reference_rows is None:
            raise SpecError(
                f"objective '{self.name}' scores in the reference space, which this data lacks",
                "install the audio_stats / tfidf features, or use --objective stability",
            )
        R, labels = x.reference, x.clusters[x.reference_rows]
        keep = labels != -1
        R, labels = R[keep], labels[keep]
        k = len(set(labels.tolist()))
        if not 2 <= k <= len(labels) - 1:
            return COLLAPSED, COLLAPSED
        silhouette = scale.silhouette(R, labels, self.seed)
        return silhouette - self.null_silhouette(R, k), silhouette

    def null_silhouette(self, R: np.ndarray, k: int) -> float:
        """Mean silhouette of k-means (K=k) on Gaussian data with R's covariance, as many rows
        as R up to NULL_ROWS (cached per K: an objective serves one reference space)."""
        if k not in self._null:
            from sklearn.cluster import KMeans
            from sklearn.metrics import silhouette_score

            if self._shape is None:  # R's covariance, as a map from white noise (once)
                centred = R - R.mean(axis=0)
                _, s, vt = np.linalg.svd(centred, full_matrices=False)
                self._shape = (s / np.sqrt(max(len(R) - 1, 1)))[:, None] * vt
            rng = np.random.default_rng(self.seed)
            values = []
            for draw in range(NULL_DRAWS):
                G = rng.standard_normal((min(len(R), NULL_ROWS), len(self._shape))) @ self._shape
                labels = KMeans(k, n_init=4, random_state=draw).fit_predict(G)
                values.append(silhouette_score(G, labels) if len(set(labels)) > 1 else 0.0)
            self._null[k] = float(np.mean(values))
        return self._null[k]

    def stability(self, x: Inputs) -> float:
        from sklearn.metrics import adjusted_rand_score

        if x.refit is None:
            raise SpecError(f"objective '{self.name}' needs a clusterer it can re-fit")
        from musiclust.scale import STABILITY_ROWS

        n = len(x.clusters)
        # beyond STABILITY_ROWS clips the draws come from a fixed seeded subset of that size:
        # ten re-fits cost the same at 10,000 clips as at 5,000
        base = np.arange(n)
        if n > STABILITY_ROWS:
            base = np.sort(np.random.default_rng(self.seed + 1).choice(n, STABILITY_ROWS, False))
        size = max(3, round(BOOTSTRAP_SHARE * len(base)))
        if size >= len(base):
            return COLLAPSED
        rng = np.random.default_rng(self.seed)
        values = []
        for draw in range(BOOTSTRAP_DRAWS):
            idx = np.sort(rng.choice(base, size, replace=False))
            try:
                again = x.refit(idx, draw)
            except DataError:  # K above the subsample's size: no stable clustering to speak of
                return COLLAPSED
            values.append(adjusted_rand_score(x.clusters[idx], again))
        return float(np.mean(values))


class ReferenceGap(Objective):
    """Silhouette in the reference space beyond what the same K finds in structureless data."""

    name = "reference_gap"

    def _score(self, x: Inputs) -> Scored:
        gap, silhouette = self.reference_gap(x)
        return Scored(gap, {"reference_gap": gap, "reference_silhouette": silhouette})


class ReferenceSilhouette(Objective):
    """Plain silhouette in the reference space (favours small K: see the module docstring)."""

    name = "reference_silhouette"

    def _score(self, x: Inputs) -> Scored:
        gap, silhouette = self.reference_gap(x)
        return Scored(silhouette, {"reference_gap": gap, "reference_silhouette": silhouette})


class Stability(Objective):
    """Agreement of bootstrap re-fits of the clusterer with the clustering (mean ARI)."""

    name = "stability"

    def _score(self, x: Inputs) -> Scored:
        value = self.stability(x)
        if value == COLLAPSED:
            return Scored(COLLAPSED, {}, "the clusterer fails on bootstrap subsamples")
        return Scored(value, {"stability": value})


class LabelFree(Objective):
    """The default: reference gap times bootstrap stability."""

    name = "label_free"

    def _score(self, x: Inputs) -> Scored:
        gap, silhouette = self.reference_gap(x)
        if gap == COLLAPSED:
            return Scored(COLLAPSED, {}, "fewer than 2 clusters in the reference space")
        stability = self.stability(x)
        if stability == COLLAPSED:
            return Scored(COLLAPSED, {}, "the clusterer fails on bootstrap subsamples")
        # no structure beyond chance (gap <= 0) stays ranked by the gap, below every
        # clustering that has some; otherwise both must hold
        value = gap * max(stability, 0.0) if gap > 0 else gap
        return Scored(
            value,
            {"reference_gap": gap, "reference_silhouette": silhouette, "stability": stability},
        )


class AMI(Objective):
    """Supervised: adjusted mutual information with a label column (tags label_tuned=true)."""

    name = "ami"
    supervised = True

    def __init__(self, seed: int = 0, label: str | None = None) -> None:
        super().__init__(seed)
        self.label = label

    def score(self, x: Inputs) -> Scored:  # a collapsed clustering simply scores low
        from sklearn.metrics import adjusted_mutual_info_score

        label = self.label or (
            defaults.LABEL if defaults.LABEL in x.labels else next(iter(x.labels), None)
        )
        if label not in x.labels:
            raise SpecError(
                f"objective ami: the data has no label column '{label or ''}'",
                f"label columns: {', '.join(x.labels) or 'none'}",
            )
        truth = x.labels[label]
        known = np.array([t is not None for t in truth])
        value = float(adjusted_mutual_info_score(truth[known].astype(str), x.clusters[known]))
        return Scored(value, {f"{label}.ami": value})


OBJECTIVES: dict[str, type[Objective]] = {
    c.name: c for c in (LabelFree, ReferenceGap, Stability, ReferenceSilhouette, AMI)
}
DEFAULT = "label_free"


def get_objective(text: str | None, seed: int = 0) -> Objective:
    """``label_free`` (default), ``reference_gap``, ``stability``, ``reference_silhouette``,
    ``ami`` or ``ami:<label column>``."""
    name, _, label = (text or DEFAULT).partition(":")
    if name not in OBJECTIVES:
        raise SpecError(
            f"unknown objective '{name}'; known: {', '.join(OBJECTIVES)}",
            did_you_mean(name, OBJECTIVES) or "ami takes a label column as ami:genre",
        )
    if name == "ami":
        return AMI(seed, label or None)
    if label:
        raise SpecError(f"objective '{name}' takes no ':{label}' (only ami:<column> does)")
    return OBJECTIVES[name](seed)


def collapse_reason(clusters: np.ndarray, active_units: float | None) -> str | None:
    """Why a clustering ranks as collapsed (the run's rule, at :data:`RANKING_LIMIT`), or None."""
    kept = clusters[clusters != -1]
    k = len(set(kept.tolist()))
    share = np.bincount(kept - kept.min()).max() / len(clusters) if k else 0.0
    reasons = collapse_reasons(k, share, active_units, RANKING_LIMIT)
    return reasons[0] if reasons else None


def describe(objective: Objective) -> dict[str, Any]:
    return {
        "objective": objective.name if objective.label is None else f"ami:{objective.label}",
        "label_tuned": "true" if objective.supervised else "false",
    }


def refitter(
    fresh: Any,
    latent: np.ndarray,
    clusters: np.ndarray,
    back: str,
    groups: np.ndarray | None,
    rows: np.ndarray | None,
) -> Any:
    """``(clip indices, draw) -> clusters of those clips``, re-fitted the way the trial got
    its clusters: on the clip latents, or, when windows vote, on the drawn clips' windows.
    ``fresh(draw)`` makes an unfitted, seeded twin of the trial's clusterer."""
    found = len(set(clusters[clusters != -1].tolist()))
    voting = back == "vote" and groups is not None and rows is not None

    def refit(idx: np.ndarray, draw: int) -> np.ndarray:
        clusterer = fresh(draw)
        if clusterer.needs_encoder_method:
            # the encoder's own clusters cannot be re-fitted alone: a Gaussian mixture
            # with as many components stands in for them
            from sklearn.mixture import GaussianMixture

            model = GaussianMixture(max(found, 1), covariance_type="diag", random_state=draw)
            return model.fit_predict(latent[idx])
        if voting:
            assert groups is not None and rows is not None
            position = np.full(len(latent), -1)
            position[idx] = np.arange(len(idx))
            drawn = position[groups] >= 0
            windows = np.asarray(clusterer.fit_predict(rows[drawn]))
            return vote(windows, position[groups][drawn], len(idx))
        return np.asarray(clusterer.fit_predict(latent[idx]))

    return refit
