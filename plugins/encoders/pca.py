"""``pca``: principal components of the fused, standardised features."""

from __future__ import annotations

import logging

import numpy as np

from musiclust import Bool, Encoder, EncoderInput, Int, hookimpl

log = logging.getLogger("musiclust")


class PCAEncoder(Encoder):
    """Principal component analysis of the fused feature vectors."""

    name = "pca"
    accepts = frozenset({"vector", "matrix"})  # 2-D features are flattened
    params = (
        Int(
            "n_components",
            16,
            low=1,
            high=4096,
            searchable=True,
            space=(2, 64),
            log=True,
            help="latent dimensions (fewer when the data has fewer clips or features)",
        ),
        Bool("whiten", False, searchable=True, help="scale components to unit variance"),
    )

    def fit(self, X: EncoderInput) -> PCAEncoder:
        from sklearn.decomposition import PCA

        flat = X.flat()
        k = min(self.n_components, *flat.shape)
        if k < self.n_components:
            log.info("pca: %d components (the data allows no more than %d)", k, k)
        self.model_ = PCA(n_components=k, whiten=self.whiten, random_state=self.random_state)
        self.model_.fit(flat)
        return self

    def transform(self, X: EncoderInput) -> np.ndarray:
        return self.model_.transform(X.flat())

    def diagnostics(self) -> dict[str, float]:
        return {
            "encoder.latent_dim": float(self.model_.n_components_),
            "encoder.explained_variance": float(self.model_.explained_variance_ratio_.sum()),
        }


@hookimpl
def register_encoders(register):
    register(PCAEncoder)
