"""``identity``: the fused, standardised features themselves (the no-encoder baseline).

2-D features are flattened (each block scaled to unit total variance times its weight)."""

from __future__ import annotations

import numpy as np

from musiclust import Encoder, EncoderInput, hookimpl


class Identity(Encoder):
    """No encoding: cluster the fused, standardised feature vectors directly."""

    name = "identity"
    accepts = frozenset({"vector", "matrix"})

    def fit(self, X: EncoderInput) -> Identity:
        self.n_features_ = X.flat().shape[1]
        return self

    def transform(self, X: EncoderInput) -> np.ndarray:
        return X.flat()


@hookimpl
def register_encoders(register):
    register(Identity)
