"""``hybrid_vae``: the multimodal beta-VAE: a convolutional audio branch over the 2-D features,
an MLP lyrics branch over the vector features, one fused latent and two decoders.

The lyrics reconstruction is masked where a clip has no lyrics (missing lyrics are not a
"has no words" signal to learn). Each modality's reconstruction term has its own weight.

``preset=published`` rebuilds the published model so results can be compared with it: the same
architecture (1,256,897 parameters with 39 x 130 audio and 64-d lyrics), its loss (mean squared
errors, lyrics weighted 0.1, a KL averaged over batch and latent dimensions: an effective beta
hundreds of times below its nominal value), its training (Adam 5e-4, batch 64, 100 epochs,
beta 0 -> 1 over 50, clip 1.0), its TF-IDF (500 terms, English stop words, min_df 2, 64 SVD
dimensions) and its input (the first 130 frames of each clip only), as the shipped spec file
``published-hybrid`` states them (``musiclust run --config published-hybrid``). Settings the
user gives explicitly win over the preset's. The default preset keeps the shape but sums the
loss per sample (beta means what it says) and uses the whole clip as 3 s windows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from musiclust import Choice, EncoderInput, Float, Str, hookimpl, spec_settings
from musiclust.plugins.encoders.conv_vae import CHANNELS
from musiclust.plugins.encoders.neural import (
    NeuralEncoder,
    VariationalEncoder,
    matrix_input,
    parse_widths,
    vector_mask,
)


class HybridVAE(VariationalEncoder):
    """Multimodal beta-VAE: conv audio branch + MLP lyrics branch, fused latent, two decoders."""

    name = "hybrid_vae"
    accepts = frozenset({"matrix", "vector"})
    needs = frozenset({"matrix"})  # the audio branch is convolutional
    default_features = ("stack39", "tfidf")
    params = (
        replace(NeuralEncoder.declared_params()["latent_dim"], default=32),
        Choice(
            "preset",
            "default",
            choices=("default", "published"),
            help="published: the published model, loss and training, to compare against",
        ),
        CHANNELS,
        Str("lyrics_hidden", "64,32", help="widths of the lyrics MLP (the decoder mirrors them)"),
        Float("audio_weight", 1.0, low=0.0, high=1000.0, help="weight of the audio reconstruction"),
        Float(
            "lyrics_weight",
            1.0,
            low=0.0,
            high=1000.0,
            searchable=True,
            space=(0.1, 10.0),
            log=True,
            help="weight of the lyrics reconstruction",
        ),
    )

    def check(self) -> None:
        parse_widths(self.channels, f"{self.name}.channels")
        parse_widths(self.lyrics_hidden, f"{self.name}.lyrics_hidden")

    def implied_settings(self) -> dict[str, Any]:
        """preset=published: the rest of the shipped spec ``published-hybrid`` (its features'
        settings, training and framing)."""
        if self.preset != "published":
            return {}
        implied = spec_settings("published-hybrid")
        implied.pop("hybrid_vae.preset")
        return implied

    def loss_mode(self) -> str:
        return "mean" if self.preset == "published" else "sum"

    def branches(self, X: EncoderInput) -> tuple[list[Any], dict[str, np.ndarray], dict]:
        from musiclust.plugins.encoders.nn.nets import BranchSpec

        image = matrix_input(X, self.name)
        specs = [
            BranchSpec(
                "audio",
                "conv",
                image.shape[1:],
                parse_widths(self.channels, "channels"),
                self.dropout,
                self.audio_weight,
            )
        ]
        inputs, masks = {"audio": image}, {}
        if X.vectors is not None:
            specs.append(
                BranchSpec(
                    "lyrics",
                    "mlp",
                    (X.vectors.shape[1],),
                    parse_widths(self.lyrics_hidden, "lyrics_hidden"),
                    self.dropout,
                    self.lyrics_weight,
                )
            )
            inputs["lyrics"] = X.vectors
            mask = vector_mask(X, [n for n, b in X.blocks.items() if b.ndim == 2])
            if mask is not None:
                masks["lyrics"] = mask
        return specs, inputs, masks

    def _training_notes(self, result: Any) -> list[str]:
        notes = super()._training_notes(result)
        if len(self.specs_) == 1:  # the audio branch; no lyrics branch was built
            notes.append(
                "hybrid_vae: no vector (lyrics) features in this run: the audio branch alone"
            )
        return notes


@hookimpl
def register_encoders(register):
    register(HybridVAE)
