"""``pca_scatter``: the latent projected on its first two principal axes, one plot coloured by
cluster and one per label column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plugins.reports.plotting import category_colours, new_figure, save
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
        xy = project_2d(ev.latent)
        colourings = {"cluster": ev.clusters.astype(object), **ev.labels}
        files = []
        for what, values in colourings.items():
            names, colours = category_colours(values)
            fig = new_figure()
            ax = fig.add_subplot()
            ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=18, linewidths=0)
            ax.set_title(f"latent (PCA projection) by {what}")
            ax.set_xlabel("PC 1")
            ax.set_ylabel("PC 2")
            if len(names) <= 20:
                from matplotlib.lines import Line2D

                _, swatch = category_colours(np.array(names, dtype=object))
                handles = [Line2D([], [], marker="o", ls="", color=c) for c in swatch]
                ax.legend(handles, names, fontsize=7, loc="best", title=what)
            files.append(save(fig, out_dir / f"latent_pca_{what}.png"))
        return files


@hookimpl
def register_reports(register):
    register(PcaScatter)
