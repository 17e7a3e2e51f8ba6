"""``audio_model``: embeddings from any local audio model with the Hugging Face ``transformers``
API (``AutoFeatureExtractor`` + ``AutoModel``): MERT, wav2vec2, HuBERT, WavLM, data2vec-audio,
the Audio Spectrogram Transformer, CLAP's audio tower.

``audio_model.path`` names a folder saved with ``save_pretrained`` (``config.json``,
``preprocessor_config.json`` and the weights). The hub is switched off and files are read from
that folder only: nothing is downloaded. Each clip (or window) is resampled to the model's rate,
cut into chunks of ``chunk`` seconds (at most the longest input the feature extractor keeps
whole: CLAP's would crop longer input at random), and every chunk's hidden states (one layer, or
the mean of all layers) are averaged over time (over both axes of 2-D maps); the chunks are
averaged weighted by their length.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import (
    AudioAnalysis,
    AudioFeature,
    Bool,
    Choice,
    Float,
    Int,
    SpecError,
    Str,
    hookimpl,
)
from musiclust.cache import digest

WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")


class AudioModel(AudioFeature):
    """Hidden states of a local transformers audio model (MERT, wav2vec2, HuBERT, CLAP...)."""

    name = "audio_model"
    scaling = "block"  # embedding dimensions keep their relative variances
    requirements = ("transformers", "torch")
    cache_ignores = ("weight", "device")
    params = (
        Str("path", "", help="local model folder (save_pretrained layout); required"),
        Int(
            "layer",
            -1,
            low=-1000,
            high=1000,
            also=("mean",),
            help="hidden layer (-1: the last, 0: the embeddings), or 'mean' of all layers",
        ),
        Float("chunk", 10.0, low=0.5, high=600.0, help="seconds per forward pass"),
        Bool("trust_remote_code", False, help="run modelling code shipped in the folder (MERT)"),
        Choice("device", "auto", choices=("auto", "cpu", "cuda"), help="auto: cuda if present"),
    )

    def check(self) -> None:
        model_folder(self.path)
        try:
            import transformers  # noqa: F401
        except ImportError:
            raise SpecError(
                "audio_model needs the transformers package", "pip install transformers"
            ) from None

    def extraction_params(self) -> dict[str, Any]:
        params = super().extraction_params()
        params["path"] = folder_identity(model_folder(self.path))  # the files, not the name
        return params

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        import torch

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        extractor, model = _load(str(model_folder(self.path)), self.trust_remote_code, device)
        rate = int(getattr(extractor, "sampling_rate", None) or audio.sr)
        y = audio.y
        if rate != audio.sr:
            import librosa

            y = librosa.resample(y, orig_sr=audio.sr, target_sr=rate, res_type="soxr_hq")
        step = max(1, round(self.chunk * rate))
        limit = getattr(extractor, "nb_max_samples", None)  # CLAP crops longer input at random
        if limit:
            step = min(step, int(limit))
        pooled, lengths = [], []
        for start in range(0, len(y), step):
            piece = y[start : start + step]
            if len(piece) < rate // 10 and pooled:  # a sliver at the end adds nothing
                break
            inputs = extractor(piece, sampling_rate=rate, return_tensors="pt")
            inputs = {k: v.to(device) for k, v in inputs.items() if hasattr(v, "to")}
            with torch.inference_mode():
                out = model(**inputs, output_hidden_states=True)
            pooled.append(_pool(out.hidden_states, self.layer))
            lengths.append(len(piece))
        return np.average(np.stack(pooled), axis=0, weights=lengths)


def _pool(hidden_states: tuple[Any, ...], layer: int | str) -> np.ndarray:
    """One layer (or the mean of all) averaged over every axis but the feature axis."""
    if layer != "mean" and not -len(hidden_states) <= int(layer) < len(hidden_states):
        raise SpecError(
            f"audio_model.layer={layer}: the model has {len(hidden_states)} hidden states "
            f"(layers {-len(hidden_states)}..{len(hidden_states) - 1})"
        )
    chosen = hidden_states if layer == "mean" else (hidden_states[int(layer)],)
    widths = sorted({h.shape[-1 if h.ndim == 3 else 1] for h in chosen})
    if len(widths) > 1:
        raise SpecError(
            f"audio_model.layer=mean needs layers of one width; this model's are {widths}: "
            "choose one layer"
        )
    vectors = []
    for h in chosen:
        h = h[0].float()  # batch of one; (time, dims), or (dims, height, width) for 2-D maps
        vectors.append(h.mean(dim=0) if h.ndim == 2 else h.flatten(1).mean(dim=1))
    return np.mean([v.cpu().numpy() for v in vectors], axis=0)


def model_folder(path: str) -> Path:
    """The model folder, checked for what an audio model needs, or a one-line SpecError."""
    if not path:
        raise SpecError(
            "audio_model.path is required: a local model folder (MERT, wav2vec2, HuBERT, CLAP)",
            "--set audio_model.path=/path/to/model (saved with save_pretrained; "
            "nothing is downloaded)",
        )
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise SpecError(f"audio_model.path: no such folder: {path}")
    config = folder / "config.json"
    if not config.is_file():
        raise SpecError(f"audio_model.path: {path} holds no model (no config.json)")
    try:
        model_type = json.loads(config.read_text()).get("model_type", "?")
    except (OSError, ValueError) as exc:
        raise SpecError(f"audio_model.path: {path}/config.json is unreadable: {exc}") from None
    if not (folder / "preprocessor_config.json").is_file():
        raise SpecError(
            f"audio_model.path: {path} holds no audio model (model type '{model_type}', "
            "no preprocessor_config.json: no audio feature extractor)"
        )
    if not any(p.name.endswith(WEIGHTS) for p in folder.iterdir()):
        raise SpecError(f"audio_model.path: {path} holds no weights file")
    return folder


def folder_identity(folder: Path) -> str:
    """What identifies the model's files: names, sizes and modification times, and config."""
    stats = sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()
    )
    return digest([str(folder.resolve()), stats])


@lru_cache(maxsize=2)
def _load(folder: str, trust_remote_code: bool, device: str) -> tuple[Any, Any]:
    """The feature extractor and the model (its audio tower for two-tower models), once per
    process, from local files only."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub at run time
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoFeatureExtractor, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    options = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    try:
        extractor = AutoFeatureExtractor.from_pretrained(folder, **options)
        model = AutoModel.from_pretrained(folder, **options)
    except Exception as exc:  # transformers' own message names the problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(f"audio_model.path: cannot load the model in {folder}: {first}") from None
    model = getattr(model, "audio_model", model)  # CLAP: the audio tower
    return extractor, model.eval().to(device)


@hookimpl
def register_features(register):
    register(AudioModel)
