"""``from_encoder``: the clusters an encoder yields itself (vade's mixture components)."""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import Clusterer, PluginError, hookimpl


class FromEncoder(Clusterer):
    """Use the encoder's own cluster assignments (encoders that have them: vade)."""

    name = "from_encoder"
    #: The encoder method this clusterer calls (the spec check looks for it).
    needs_encoder_method = "cluster_latent"

    def use_encoder(self, encoder: Any) -> None:
        self.encoder_ = encoder

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        encoder = getattr(self, "encoder_", None)
        if encoder is None or not hasattr(encoder, "cluster_latent"):
            raise PluginError("from_encoder needs a fitted encoder that yields clusters (vade)")
        self.selection_ = getattr(encoder, "selection_", None)  # vade's own choice of K
        return encoder.cluster_latent(Z)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return self.encoder_.cluster_latent(Z)


@hookimpl
def register_clusterers(register):
    register(FromEncoder)
