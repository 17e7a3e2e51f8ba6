"""Shared plotting helpers for the built-in reports (matplotlib's object API, no pyplot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def new_figure(width: float = 6.4, height: float = 4.8):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save(fig, path: Path) -> Path:
    fig.savefig(path)
    return path


def category_colours(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Sorted category names and an RGBA colour per value (noise -1 / missing in grey)."""
    from matplotlib import colormaps

    names = sorted(
        {str(v) for v in values if v is not None and str(v) != "-1"}, key=lambda s: (len(s), s)
    )
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
