"""``pca_scatter``: the latent on its first two principal axes, by cluster and by each label."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plugins.reports.plotting import scatter_reports
from toolkit import Report, hookimpl
from toolkit.evaluation import Evaluation


def project_2d(latent: np.ndarray) -> np.ndarray:
    """First two principal axes (a second zero axis for a 1-D latent)."""
    centred = latent - latent.mean(axis=0)
    if latent.shape[1] == 1 or len(latent) < 3:
        return np.column_stack([centred[:, 0], np.zeros(len(latent))])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


class PcaScatter(Report):
    """Scatter of the latent's first two principal axes, by cluster and by each label."""

    name = "pca_scatter"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        rows = np.arange(ev.n)
        return scatter_reports(
            "pca", project_2d(ev.latent), ev, rows, out_dir, "latent (PCA projection)"
        )


@hookimpl
def register_reports(register):
    register(PcaScatter)
