"""The interactive cluster map of ``report.html``: an inline SVG, one circle per song, coloured
by cluster; hovering a circle names the song (its id, title or artist where the data has
them, its labels and its cluster). Plain SVG ``<title>`` elements make the tooltips, so the
map needs no script and no library: it works opened from disk, mailed, and inside the MLflow
UI's artifact view alike. Beyond :data:`POINTS` songs a seeded sample is drawn (the caption
says so), which keeps the page small at any collection size."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

#: What plugins may use: the 2-D projection report.html's map uses, shared by pca_scatter
#: (tests/test_structure.py holds plugins to these).
__all__ = ["projection"]


#: The most songs drawn: an SVG circle is about 150 bytes with its tooltip.
POINTS = 2000
#: Colours for clusters 0, 1, ... (matplotlib's tab10 then tab10's lighter half); noise grey.
PALETTE = (  # noqa: SIM905 (one colour per cluster, read as rows)
    "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf "
    "#aec7e8 #ffbb78 #98df8a #ff9896 #c5b0d5 #c49c94 #f7b6d2 #c7c7c7 #dbdb8d #9edae5"
).split()
NOISE = "#b0b0b0"
WIDTH, HEIGHT, PAD = 900, 560, 24


def projection(latent: np.ndarray) -> np.ndarray:
    """The first two principal axes of ``latent`` (rows x 2; a zero second axis for a 1-D
    latent or fewer than 3 rows). The ``pca_scatter`` report draws the same projection."""
    x = np.nan_to_num(np.asarray(latent, dtype=np.float64).reshape(len(latent), -1))
    centred = x - x.mean(axis=0)
    if centred.shape[1] == 1 or len(centred) < 3:
        return np.column_stack([centred[:, 0], np.zeros(len(centred))])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def hover_texts(
    ids: list[str], clusters: np.ndarray, labels: dict[str, Any], clips: Any
) -> list[str]:
    """What hovering each song shows: id, title and artist (when the data has them), every
    label, the cluster."""
    texts = []
    for i, (song, cluster) in enumerate(zip(ids, clusters, strict=True)):
        meta = getattr(clips[i], "meta", {}) if clips is not None else {}
        named = [str(meta[k]) for k in ("title", "artist") if meta.get(k)]
        parts = [song, *named]
        parts += [f"{column}: {values[i]}" for column, values in labels.items()]
        parts.append("noise" if cluster == -1 else f"cluster {cluster}")
        texts.append(" | ".join(parts))
    return texts


def render(
    latent: np.ndarray,
    clusters: np.ndarray,
    ids: list[str],
    labels: dict[str, Any],
    clips: Any = None,
    seed: int = 0,
) -> str:
    """The map as an HTML fragment (an SVG and its caption)."""
    n = len(ids)
    shown = np.arange(n)
    if n > POINTS:
        shown = np.sort(np.random.default_rng(seed).choice(n, POINTS, replace=False))
    xy = projection(np.asarray(latent)[shown])
    texts = hover_texts(
        [ids[i] for i in shown],
        np.asarray(clusters)[shown],
        {column: np.asarray(values, dtype=object)[shown] for column, values in labels.items()},
        None if clips is None else [clips[i] for i in shown],
    )
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    x = PAD + (xy[:, 0] - low[0]) / span[0] * (WIDTH - 2 * PAD)
    y = HEIGHT - PAD - (xy[:, 1] - low[1]) / span[1] * (HEIGHT - 2 * PAD)
    radius = 5 if len(shown) <= 300 else 3
    circles = []
    for text, i, cx, cy in zip(texts, shown, x, y, strict=True):
        colour = _colour(int(clusters[i]))
        circles.append(
            f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='{radius}' fill='{colour}'>"
            f"<title>{html.escape(text)}</title></circle>"
        )
    legend = " ".join(
        f"<span style='color:{_colour(c)}'>&#9679;</span> {'noise' if c == -1 else c}"
        for c in sorted(set(np.asarray(clusters).tolist()))
    )
    sampled = f"; {len(shown):,} of {n:,} songs drawn at random" if len(shown) < n else ""
    return (
        f"<figure class=map><svg viewBox='0 0 {WIDTH} {HEIGHT}' width='{WIDTH}' "
        "role='img' aria-label='cluster map' style='max-width:100%;height:auto;"
        "border:1px solid #ddd'><style>circle:hover{stroke:#000;stroke-width:2}</style>"
        f"{''.join(circles)}</svg>"
        f"<figcaption>Hover a point for the song. Clusters: {legend}. The first two principal "
        f"components of the clustered space{sampled}.</figcaption></figure>"
    )


def _colour(cluster: int) -> str:
    return NOISE if cluster == -1 else PALETTE[cluster % len(PALETTE)]
