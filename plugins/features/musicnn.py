"""``musicnn``: embeddings of the pretrained musicnn tagging networks, offline, in PyTorch.

The networks (Pons and Serra, 2019) are re-implemented in ``plugins/features/nets/musicnn.py``
and load the trained weights shipped inside the PyPI package ``musicnn`` 0.1.0 straight from its
TensorFlow checkpoints; TensorFlow is never imported. That package pins TensorFlow 1 and
numpy < 1.17, so install it for its weights alone: ``pip install --no-deps musicnn==0.1.0``
(or name a folder holding the model folders with ``musicnn.weights``).

The clip (or window) is resampled to 16 kHz, cut into 3 s patches (187 frames, repeat-padded
when shorter), each patch goes through the network, and the chosen layer's per-patch vectors
are pooled over the clip. On the 50 GTZAN dev clips the port's outputs equal the reference
implementation's within 8e-6 (taggram), 8e-5 (``mean_pool``, values up to 5) and 4e-3
(``max_pool``, values up to 100), and cluster identically (benchmarks/results/embeddings.md);
tests/test_musicnn.py checks two recorded clips. ``penultimate`` is the default: it clusters
the dev clips best of the four layers (AMI 0.709 at K = 10, against 0.531 for audio_stats).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import AudioAnalysis, AudioFeature, Choice, Float, Int, SpecError, Str, hookimpl
from musiclust.cache import digest
from musiclust.plugins.features.nets.tf_checkpoint import CheckpointError

MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
INSTALL = "pip install --no-deps musicnn==0.1.0 (its weights; TensorFlow is not needed)"


class Musicnn(AudioFeature):
    """Pretrained musicnn embeddings (MSD/MTT musicnn or vgg), pooled over 3 s patches."""

    name = "musicnn"
    requirements = ("torch",)
    cache_ignores = ("weight", "device", "batch_size")
    texture_window = None  # its 3 s patches are its texture windows
    params = (
        Choice("model", "MSD_musicnn", choices=MODELS, help="trained on MSD or MagnaTagATune"),
        Choice(
            "layer",
            "penultimate",
            choices=("taggram", "penultimate", "max_pool", "mean_pool"),
            help="tag probabilities (50), the 200-d dense layer, or the temporal pools (753)",
        ),
        Choice(
            "pooling",
            "mean",
            choices=("mean", "mean_std"),
            help="over a clip's patches: the mean, or the mean and standard deviation",
        ),
        Float(
            "hop",
            None,
            low=0.1,
            high=30.0,
            nullable=True,
            help="seconds between patch starts (none: 3 s patches without overlap)",
        ),
        Str("weights", "", help="folder holding <model>/.index (default: the musicnn package)"),
        Choice("device", "auto", choices=("auto", "cpu", "cuda"), help="auto: cuda if present"),
        Int("batch_size", 64, low=1, high=4096, help="patches per forward pass"),
    )

    def check(self) -> None:
        weights_folder(self.weights, self.model)

    def extraction_params(self) -> dict[str, Any]:
        params = super().extraction_params()
        params["weights"] = _located(self.weights, self.model)[1]  # the weights, not their path
        return params

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        from musiclust.plugins.features.nets import musicnn as nets

        y = audio.y
        if audio.sr != nets.SAMPLE_RATE:
            import librosa

            y = librosa.resample(
                y, orig_sr=audio.sr, target_sr=nets.SAMPLE_RATE, res_type="soxr_hq"
            )
        batch = nets.patches(nets.log_mel(y), nets.hop_frames(self.hop))
        device = _device(self.device)
        folder = _located(self.weights, self.model)[0]
        try:
            net = nets.load(self.model, str(folder), device)
        except CheckpointError as exc:
            raise SpecError(
                f"musicnn: the {self.model} checkpoint in {folder} is unreadable: {exc}",
                "reinstall it: pip install --force-reinstall --no-deps musicnn==0.1.0",
            ) from None
        values = nets.embed(net, batch, device, self.batch_size)[self.layer]
        if self.pooling == "mean":
            return values.mean(axis=0)
        return np.concatenate([values.mean(axis=0), values.std(axis=0)])


def weights_folder(given: str, model: str) -> Path:
    """The folder holding ``<model>/.index``: ``given``, else the installed ``musicnn``."""
    if given:
        folder = Path(given).expanduser()
        where = f"musicnn.weights={given}"
    else:
        spec = importlib.util.find_spec("musicnn")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise SpecError("musicnn: the model weights are not installed", INSTALL)
        folder = Path(next(iter(spec.submodule_search_locations)))
        where = f"the musicnn package at {folder}"
    if not (folder / model / ".index").is_file():
        raise SpecError(
            f"musicnn: no {model} checkpoint ({model}/.index) in {where}",
            f"{INSTALL}, or point musicnn.weights at a folder holding {model}/",
        )
    return folder


@lru_cache(maxsize=8)
def _located(given: str, model: str) -> tuple[Path, str]:
    """The weights folder and a digest of the model's index, once per process (a search's
    trials and a worker's clips ask again and again; a failure is not cached)."""
    folder = weights_folder(given, model)
    return folder, digest((folder / model / ".index").read_bytes().hex())


def _device(choice: str) -> str:
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@hookimpl
def register_features(register):
    register(Musicnn)
