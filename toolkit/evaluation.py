"""What metrics and reports see, and how their results are collected.

Labels reach this module only: no step before it reads them. A metric returns named numbers; a
value that is a string means "not computed" and says why (undefined at this size, say), so a
small data set yields a report instead of a crash.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.components import Clusterer, Encoder, Metric, Report
from musiclust.errors import NotComputed, PluginError

log = logging.getLogger("musiclust")


@dataclass
class Evaluation:
    """A fitted run seen from the outside: latent, clusters, labels and the reference space.

    ``reference`` is the data set's fixed yardstick (:mod:`musiclust.reference`: standardised
    ``audio_stats`` over 2 s texture windows beside ``musicnn`` where installed, or ``tfidf``
    for data without audio), with NaN rows where a clip has none, so runs with different
    features are scored in the same space; ``reference_name`` names its features (``a+b``)."""

    ids: list[str]
    latent: np.ndarray
    clusters: np.ndarray
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    reference: np.ndarray | None = None
    reference_name: str | None = None
    encoder: Encoder | None = None
    clusterer: Clusterer | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    seed: int = 0

    @property
    def n(self) -> int:
        return len(self.ids)

    def sizes(self) -> dict[str, float]:
        """How the clips spread over clusters: ``n_clusters`` (noise, -1, is none),
        ``noise_share``, ``largest_cluster_share`` and ``cluster_size_entropy``. Every run has
        them (the collapse verdict reads them), whichever metric plugins it runs."""
        noise = self.clusters == -1
        _, counts = np.unique(self.clusters[~noise], return_counts=True)
        shares = counts / counts.sum() if counts.size else counts
        n = len(self.clusters)
        return {
            "n_clusters": float(len(counts)),
            "noise_share": float(noise.mean()) if n else 0.0,
            "largest_cluster_share": float(counts.max() / n) if counts.size else 0.0,
            "cluster_size_entropy": float(-(shares * np.log(shares)).sum()) if counts.size else 0.0,
        }

    def reference_rows(self) -> np.ndarray:
        if self.reference is None:
            return np.zeros(self.n, dtype=bool)
        return ~np.isnan(self.reference).any(axis=1)


#: The largest cluster's share above which a search ranks a clustering as collapsed: stricter
#: than a run's tag at K = 2-4, because while ranking, a giant cluster beside slivers is the
#: trap a collapsed latent falls into.
RANKING_LIMIT = 0.5


def collapse_limit(k: float) -> float:
    """The largest cluster's share above which a K-cluster partition counts as collapsed:
    nearer to holding every clip than to its balanced share 1/K, (1 + 1/K) / 2 (K = 2: 75%,
    K = 5: 60%, K = 10: 55%). "Above half" flagged any uneven split at K = 2 (6 of 10 songs)."""
    k = max(1.0, float(k))
    return (1.0 + 1.0 / k) / 2.0 if k >= 2 else 0.5


def collapse_reasons(
    n_clusters: float, largest_share: float, active_units: float | None, limit: float | None = None
) -> list[str]:
    """Why a clustering counts as collapsed (none: it does not), the one rule behind a run's
    ``collapsed`` tag and a search's guard: fewer than 2 clusters, a largest cluster above
    ``limit`` of the clips (default :func:`collapse_limit` of K; a search ranks with
    :data:`RANKING_LIMIT`), fewer than 2 active latent units."""
    reasons = []
    if n_clusters < 2:
        reasons.append("fewer than 2 clusters")
    else:
        limit = collapse_limit(n_clusters) if limit is None else limit
        if largest_share > limit:
            reasons.append(
                f"the largest cluster holds {largest_share:.0%} of the clips (limit {limit:.0%})"
            )
    if active_units is not None and active_units < 2:
        reasons.append(f"only {active_units:.0f} active latent units")
    return reasons


def compute_metrics(
    ev: Evaluation, metrics: list[Metric]
) -> tuple[dict[str, float], dict[str, str]]:
    """Run every metric plugin; returns (values, {key: why not computed})."""
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    for metric in metrics:
        try:
            result = metric.compute(ev)
        except Exception as exc:
            log.warning("metric %s failed: %s: %s", metric.name, type(exc).__name__, exc)
            missing[metric.name] = f"failed: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(result, dict):
            raise PluginError(
                f"metric '{metric.name}' returned {type(result).__name__}, not a dict"
            )
        for key, value in result.items():
            if key in values:
                log.warning(
                    "metric %s: key %s already set by another metric; kept", metric.name, key
                )
                continue
            if value is None or isinstance(value, str):
                missing[key] = value or "not computed"
                continue
            number = float(value)
            if math.isfinite(number):
                values[key] = number
            else:
                missing[key] = "not finite"
        ev.metrics.update(values)
    return values, missing


def render_reports(
    ev: Evaluation, reports: list[Report], out_dir: Path, progress: bool = False
) -> tuple[list[Path], dict[str, str]]:
    """Run every report plugin into ``out_dir``; a failing report is recorded, never fatal.
    With ``progress``, a bar on a terminal (t-SNE of 3,000 clips took 7 s)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    failed: dict[str, str] = {}
    for report in bar(reports, "reports", progress):
        try:
            written = report.render(ev, out_dir) or []
        except NotComputed as reason:
            failed[report.name] = f"not applicable: {reason}"
            continue
        except Exception as exc:
            log.warning("report %s failed: %s: %s", report.name, type(exc).__name__, exc)
            failed[report.name] = f"{type(exc).__name__}: {exc}"
            continue
        for path in map(Path, written):
            if not path.is_file():
                failed[report.name] = f"said it wrote {path.name}, which does not exist"
            else:
                files.append(path)
    return files, failed


def bar(items: Any, what: str, enabled: bool) -> Any:
    """``items`` with a progress bar on a terminal (none in a pipe, a log or a test)."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=what, disable=not enabled or None, leave=False)
