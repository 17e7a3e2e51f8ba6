"""``conv_vae``: a convolutional VAE on 2-D features (spectrogram-like rows x frames)."""

from __future__ import annotations

from typing import Any

import numpy as np

from musiclust import EncoderInput, Str, hookimpl
from musiclust.plugins.encoders.neural import VariationalEncoder, matrix_input, parse_widths

CHANNELS = Str(
    "channels",
    "32,64,128",
    help="channels of the Conv2d blocks (kernel 3, stride 2); the decoder mirrors them",
)


class ConvVAE(VariationalEncoder):
    """Convolutional VAE over the 2-D features stacked by rows (one image per clip or window)."""

    name = "conv_vae"
    accepts = frozenset({"matrix"})
    default_features = ("stack39",)
    params = (CHANNELS,)

    def check(self) -> None:
        parse_widths(self.channels, f"{self.name}.channels")

    def branches(self, X: EncoderInput) -> tuple[list[Any], dict[str, np.ndarray], dict]:
        from musiclust.plugins.encoders.nn.nets import BranchSpec

        image = matrix_input(X, self.name)
        spec = BranchSpec(
            "audio", "conv", image.shape[1:], parse_widths(self.channels, "channels"), self.dropout
        )
        return [spec], {"audio": image}, {}


@hookimpl
def register_encoders(register):
    register(ConvVAE)
