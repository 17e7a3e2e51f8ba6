"""``ae``: a plain autoencoder (MLP) on the fused feature vectors; the code is the latent."""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import EncoderInput, Str, hookimpl
from musiclust.plugins.encoders.neural import NeuralEncoder, parse_widths, vector_input

MLP_HIDDEN = Str(
    "hidden",
    "256,128",
    help="widths of the MLP's hidden layers, input side first (the decoder mirrors them)",
)


#: Window length these encoders imply when the run sets none: a trained encoder needs rows,
#: and a 30 s clip gives ten 3 s windows (the clip's latent is their mean, segments.back).
WINDOW_SECONDS = 3.0


class MLPBranch:
    """The one-branch MLP input shared by ae, vae, cvae and vade: the flat fused features,
    with 2-D features flattened and missing blocks (lyrics) masked out of the loss.

    Unless the run sets ``segments.length`` (``none`` keeps whole clips), audio features are
    computed per 3 s window: ten times the rows to train on for 30 s clips."""

    hidden: str
    dropout: float
    name: str

    def check(self) -> None:
        parse_widths(self.hidden, f"{self.name}.hidden")

    def implied_settings(self) -> dict[str, Any]:
        return {"segments.length": WINDOW_SECONDS}

    def branches(self, X: EncoderInput) -> tuple[list[Any], dict[str, np.ndarray], dict]:
        from musiclust.plugins.encoders.nn.nets import BranchSpec

        flat, mask = vector_input(X)
        spec = BranchSpec(
            "features", "mlp", (flat.shape[1],), parse_widths(self.hidden, "hidden"), self.dropout
        )
        return [spec], {"features": flat}, ({} if mask is None else {"features": mask})


class AutoEncoder(MLPBranch, NeuralEncoder):
    """Plain autoencoder (MLP): the deterministic code of the fused features."""

    name = "ae"
    variational = False
    accepts = frozenset({"vector", "matrix"})  # 2-D features are flattened
    default_features = ("audio_stats",)
    params = (MLP_HIDDEN,)


@hookimpl
def register_encoders(register):
    register(AutoEncoder)
