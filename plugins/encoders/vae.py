"""``vae``: a variational autoencoder (MLP) on the fused feature vectors."""

from __future__ import annotations

from musiclust import hookimpl
from musiclust.plugins.encoders.ae import MLP_HIDDEN, MLPBranch
from musiclust.plugins.encoders.neural import VariationalEncoder


class VAE(MLPBranch, VariationalEncoder):
    """Variational autoencoder (MLP); the latent is the posterior mean."""

    name = "vae"
    accepts = frozenset({"vector", "matrix"})  # 2-D features are flattened
    default_features = ("audio_stats",)
    params = (MLP_HIDDEN,)


@hookimpl
def register_encoders(register):
    register(VAE)
