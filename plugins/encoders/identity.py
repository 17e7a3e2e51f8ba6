"""``identity``: the fused, standardised features themselves (the no-encoder baseline)."""

from __future__ import annotations

import numpy as np

from toolkit import Encoder, EncoderInput, hookimpl


class Identity(Encoder):
    """No encoding: cluster the fused, standardised feature vectors directly."""

    name = "identity"

    def fit(self, X: EncoderInput) -> Identity:
        self.n_features_ = X.vectors.shape[1]
        return self

    def transform(self, X: EncoderInput) -> np.ndarray:
        return X.vectors


@hookimpl
def register_encoders(register):
    register(Identity)
