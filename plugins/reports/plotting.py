"""Shared plotting helpers for the built-in reports (matplotlib's object API, no pyplot)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np


def new_figure(width: float = 6.4, height: float = 4.8) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save(fig: Any, path: Path) -> Path:
    fig.savefig(path)
    return path


def categories(values: np.ndarray) -> list[str]:
    """Sorted category names (noise -1 and missing values apart)."""
    present = {str(v) for v in values if v is not None and str(v) != "-1"}
    return sorted(present, key=lambda s: (len(s), s))


def category_colours(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Category names and an RGBA colour per value (noise -1 / missing in grey)."""
    from matplotlib import colormaps

    names = categories(values)
    cmap = colormaps["tab20" if len(names) > 10 else "tab10"]
    index = {name: i for i, name in enumerate(names)}
    grey = (0.6, 0.6, 0.6, 0.6)
    colours = np.array(
        [
            cmap(index[str(v)] % cmap.N) if v is not None and str(v) in index else grey
            for v in values
        ]
    )
    return names, colours


def scatter_figure(xy: np.ndarray, values: np.ndarray, what: str, title: str) -> Any:
    """One point per clip coloured by ``values``, with a legend of its categories."""
    from matplotlib.lines import Line2D

    names, colours = category_colours(values)
    fig = new_figure()
    ax = fig.add_subplot()
    ax.scatter(xy[:, 0], xy[:, 1], c=colours, s=18, linewidths=0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    if len(names) <= 20:
        _, swatches = category_colours(np.array(names, dtype=object))
        handles = [Line2D([], [], marker="o", ls="", color=c) for c in swatches]
        ax.legend(handles, names, fontsize=7, loc="best", title=what)
    return fig


def scatter_reports(
    name: str, xy: np.ndarray, ev: Any, rows: np.ndarray, out_dir: Path, title: str
) -> list[Path]:
    """Scatter plots by cluster and by each label, plus the plotted points as CSV."""
    colourings = {
        "cluster": ev.clusters[rows].astype(object),
        **{col: values[rows] for col, values in ev.labels.items()},
    }
    files = []
    for what, values in colourings.items():
        fig = scatter_figure(xy, values, what, f"{title} by {what}")
        files.append(save(fig, out_dir / f"latent_{name}_{what}.png"))
    table = out_dir / f"latent_{name}.csv"
    with open(table, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "x", "y", *colourings])
        ids = np.asarray(ev.ids, dtype=object)[rows]
        for i, (x, y) in enumerate(xy):
            writer.writerow(
                [
                    ids[i],
                    f"{x:.6g}",
                    f"{y:.6g}",
                    *["" if v[i] is None else v[i] for v in colourings.values()],
                ]
            )
    return [*files, table]
