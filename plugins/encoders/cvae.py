"""``cvae``: a conditional VAE (MLP) conditioned on a metadata column the user names.

The condition (one-hot of the column's values, all zeros for a value not seen in training or
missing) is given to the encoder and the decoder, so the latent is free to describe what the
condition does not: condition on ``language`` to cluster songs across languages. Conditioning
on the very column a run evaluates makes those metrics label-informed: the run is tagged
``label_informed=true`` and warns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import EncoderInput, SpecError, Str, hookimpl
from musiclust.plugins.encoders.ae import MLP_HIDDEN, MLPBranch
from musiclust.plugins.encoders.neural import VariationalEncoder


class ConditionalVAE(MLPBranch, VariationalEncoder):
    """Conditional VAE (MLP) given one metadata column (cvae.condition=language)."""

    name = "cvae"
    accepts = frozenset({"vector", "matrix"})
    default_features = ("audio_stats",)
    params = (
        MLP_HIDDEN,
        Str("condition", "", help="the metadata column to condition on (required)"),
    )

    def check(self) -> None:
        super().check()
        if not self.condition.strip():
            raise SpecError(
                "cvae needs a column to condition on",
                "give --set cvae.condition=<column> (a metadata column such as language)",
            )

    def input_columns(self) -> list[str]:
        return [self.condition]

    def condition_values(self, X: EncoderInput) -> list[Any]:
        values = X.columns.get(self.condition)
        if values is None:
            raise SpecError(f"cvae: the input has no column '{self.condition}'")
        return [None if v is None or v != v else str(v) for v in values]

    def condition_matrix(self, X: EncoderInput, fit: bool) -> np.ndarray | None:
        values = self.condition_values(X)
        if fit:
            self.categories_ = sorted({v for v in values if v is not None})
        index = {c: i for i, c in enumerate(self.categories_)}
        onehot = np.zeros((len(values), len(self.categories_)), dtype=np.float32)
        for row, value in enumerate(values):
            if value in index:
                onehot[row, index[value]] = 1.0
        return onehot


@hookimpl
def register_encoders(register):
    register(ConditionalVAE)
