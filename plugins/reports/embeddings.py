"""``tsne`` and ``umap``: 2-D maps of the latent, by cluster and by each label.

t-SNE runs by default; UMAP is opt-in (``--reports umap`` or a config's report list, and
``pip install "musiclust[umap]"``) because its numba compilation costs about 20 s per
process. Above ``max_points`` clips a seeded sample is drawn. Maps need at least 5 clips
(t-SNE's perplexity must stay below their number).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from musiclust import Evaluation, Float, Int, NotComputed, Report, hookimpl
from musiclust.plugins.reports.plotting import scatter_reports

MIN_POINTS = 5


class _Map(Report):
    title: ClassVar[str] = ""

    def embed(self, latent: np.ndarray, seed: int | None) -> np.ndarray:
        raise NotImplementedError

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        if ev.n < MIN_POINTS:
            raise NotComputed(f"{self.name} needs at least {MIN_POINTS} clips, got {ev.n}")
        rows = np.arange(ev.n)
        if ev.n > self.max_points:
            rows = np.sort(np.random.default_rng(ev.seed).choice(ev.n, self.max_points, False))
        xy = self.embed(ev.latent[rows], ev.seed)
        return scatter_reports(self.name, xy, ev, rows, out_dir, f"latent ({self.title})")


class TSNEMap(_Map):
    """t-SNE map of the latent, coloured by cluster and by each label."""

    name = "tsne"
    title = "t-SNE"
    params = (
        Float("perplexity", "auto", low=1.0, also=("auto",), help="auto: min(30, (clips - 1) / 3)"),
        Int("max_points", 3000, low=MIN_POINTS, help="a seeded sample above this many clips"),
    )

    def embed(self, latent: np.ndarray, seed: int | None) -> np.ndarray:
        from sklearn.manifold import TSNE

        n = len(latent)
        perplexity = self.perplexity
        if perplexity == "auto":
            perplexity = max(2.0, min(30.0, (n - 1) / 3))
        perplexity = min(perplexity, n - 1.0)
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed
        ).fit_transform(latent)


class UMAPMap(_Map):
    """UMAP map of the latent, by cluster and by each label (opt-in: slow to compile)."""

    name = "umap"
    title = "UMAP"
    default = False
    params = (
        Int("n_neighbors", 15, low=2, high=200, help="neighbourhood size (capped at clips - 1)"),
        Float("min_dist", 0.1, low=0.0, high=1.0, help="how tightly points may pack"),
        Int("max_points", 5000, low=MIN_POINTS, help="a seeded sample above this many clips"),
    )

    def embed(self, latent: np.ndarray, seed: int | None) -> np.ndarray:
        import warnings

        try:
            import umap
        except ImportError:
            hint = 'pip install "musiclust[umap]"'
            raise NotComputed(f"umap-learn is not installed: {hint}") from None

        with warnings.catch_warnings():  # "n_jobs overridden by random_state": wanted here
            warnings.simplefilter("ignore", UserWarning)
            model = umap.UMAP(
                n_neighbors=min(self.n_neighbors, len(latent) - 1),
                min_dist=self.min_dist,
                random_state=seed,
            )
            return model.fit_transform(latent)


@hookimpl
def register_reports(register):
    register(TSNEMap)
    register(UMAPMap)
