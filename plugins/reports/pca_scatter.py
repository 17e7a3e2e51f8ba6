"""``pca_scatter``: the latent on its first two principal axes, by cluster and by each label."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musiclust import Evaluation, Report, hookimpl
from musiclust.cluster_map import projection
from musiclust.plugins.reports.plotting import scatter_reports


class PcaScatter(Report):
    """Scatter of the latent's first two principal axes, by cluster and by each label."""

    name = "pca_scatter"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        rows = np.arange(ev.n)
        return scatter_reports(
            "pca", projection(ev.latent), ev, rows, out_dir, "latent (PCA projection)"
        )


@hookimpl
def register_reports(register):
    register(PcaScatter)
