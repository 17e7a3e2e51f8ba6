"""Small synthetic encoder inputs and quickly trained encoders, shared by the encoder tests.

Needs numpy, torch and the installed plugins only (no MLflow): the CUDA tests run with it on a
GPU machine that has no MLflow."""

import numpy as np

from musiclust import EncoderInput
from musiclust.registry import get_registry

FAST = {"epochs": 6, "patience": 3, "batch_size": 16}
#: Every trained encoder, with the parameters it needs on the synthetic input.
ENCODERS = [
    ("ae", {}),
    ("vae", {}),
    ("conv_vae", {}),
    ("hybrid_vae", {}),
    ("cvae", {"condition": "language"}),
    ("vade", {"n_clusters": 2, "pretrain_epochs": 3}),
]


def make_encoder(name, **params):
    encoder = get_registry().get("encoder", name).cls(**{**FAST, **params})
    encoder.random_state = 0
    return encoder


def synthetic_input(n=40, with_matrix=True, missing_lyrics=True):
    """Two groups of rows that differ in both blocks; lyrics missing for some rows."""
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], n // 2)
    vectors = rng.normal(size=(n, 12)).astype(np.float32) + group[:, None] * 2.0
    blocks = {"tfidf": vectors}
    masks = {"tfidf": np.ones(n, dtype=bool)}
    if missing_lyrics:
        masks["tfidf"][::5] = False
        vectors[::5] = 0.0
    if with_matrix:
        image = rng.normal(size=(n, 10, 24)).astype(np.float32) + group[:, None, None]
        blocks["stack39"] = image
        masks["stack39"] = np.ones(n, dtype=bool)
    columns = {"language": np.array(["en", "bn"] * (n // 2), dtype=object)}
    return EncoderInput(vectors, blocks, masks, columns=columns)
