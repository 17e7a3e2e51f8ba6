"""``cluster_sizes``: clips per cluster (noise apart), the quickest view of a collapse."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musiclust import Evaluation, Report, hookimpl
from musiclust.plugins.reports.plotting import new_figure, save


class ClusterSizes(Report):
    """Bar chart of the number of clips in each cluster (and in noise)."""

    name = "cluster_sizes"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        ids, counts = np.unique(ev.clusters, return_counts=True)
        labels = ["noise" if i == -1 else str(i) for i in ids]
        fig = new_figure()
        ax = fig.add_subplot()
        ax.bar(labels, counts, color=["0.6" if i == -1 else "C0" for i in ids])
        ax.set_xlabel("cluster")
        ax.set_ylabel("clips")
        ax.set_title(f"cluster sizes ({len(ev.clusters)} clips)")
        return [save(fig, out_dir / "cluster_sizes.png")]


@hookimpl
def register_reports(register):
    register(ClusterSizes)
