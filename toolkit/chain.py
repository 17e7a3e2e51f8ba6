"""The fitted chain features -> fusion -> encoder -> clusterer, from raw clips to cluster ids.

The pipeline fits it; the logged MLflow model pickles it and calls :meth:`Chain.predict` on new
rows of (audio path, lyrics).
"""

from __future__ import annotations

import numpy as np

from toolkit.audio import AudioSettings
from toolkit.components import (
    AudioFeature,
    Clusterer,
    Encoder,
    EncoderInput,
    FeatureExtractor,
    LyricsFeature,
)
from toolkit.errors import PluginError
from toolkit.extraction import FeatureBlock, extract_audio_rows
from toolkit.fusion import Fusion


class Chain:
    def __init__(
        self,
        features: list[FeatureExtractor],
        encoder: Encoder,
        clusterer: Clusterer,
        audio: AudioSettings,
    ) -> None:
        self.features = features
        self.encoder = encoder
        self.clusterer = clusterer
        self.audio = audio

    @property
    def modalities(self) -> set[str]:
        return {f.modality for f in self.features}

    def fit_predict(self, blocks: dict[str, FeatureBlock]) -> tuple[np.ndarray, np.ndarray]:
        """Fit fusion, encoder and clusterer on extracted blocks; return (latent, clusters)."""
        values = {f.name: blocks[f.name].values for f in self.features}
        masks = {f.name: blocks[f.name].mask for f in self.features}
        self.widths_ = {name: v.shape[1:] for name, v in values.items()}
        self.fusion_ = Fusion(
            weights={f.name: f.weight for f in self.features},
            scaling={f.name: f.scaling for f in self.features},
        ).fit(values, masks)
        X = EncoderInput(self.fusion_.transform(values, masks), values, masks)
        latent = _checked_latent(self.encoder.fit_transform(X), len(X), self.encoder.name)
        clusters = self.clusterer.fit_predict(latent)
        return latent, clusters

    def encode(
        self, audio: list[str | None], lyrics: list[str | None]
    ) -> tuple[np.ndarray, list[str]]:
        """Latent rows for the usable inputs and, for every input, a skip reason ('' if used)."""
        audio_features = [f for f in self.features if isinstance(f, AudioFeature)]
        reasons = [""] * len(audio)
        values: dict[str, list[np.ndarray | None]] = {}
        if audio_features:
            values, reasons = extract_audio_rows(audio, audio_features, self.audio)
        if self.modalities == {"lyrics"}:
            reasons = [r or ("" if t is not None else "no lyrics") for r, t in zip(reasons, lyrics)]
        used = [i for i, r in enumerate(reasons) if not r]
        if not used:
            return np.zeros((0, 0)), reasons
        arrays: dict[str, np.ndarray] = {}
        masks: dict[str, np.ndarray] = {}
        for feature in self.features:
            if isinstance(feature, AudioFeature):
                arrays[feature.name] = np.stack([values[feature.name][i] for i in used])
                masks[feature.name] = np.ones(len(used), dtype=bool)
            else:
                assert isinstance(feature, LyricsFeature)
                arrays[feature.name], masks[feature.name] = self._lyrics(
                    feature, [lyrics[i] for i in used]
                )
        X = EncoderInput(self.fusion_.transform(arrays, masks), arrays, masks)
        return _checked_latent(self.encoder.transform(X), len(used), self.encoder.name), reasons

    def predict(
        self, audio: list[str | None], lyrics: list[str | None]
    ) -> tuple[np.ndarray, list[str]]:
        """Cluster ids for new inputs (-1 where an input could not be used) and the reasons."""
        latent, reasons = self.encode(audio, lyrics)
        out = np.full(len(reasons), -1, dtype=int)
        used = [i for i, r in enumerate(reasons) if not r]
        if used:
            out[used] = self.clusterer.predict(latent)
        return out, reasons

    def _lyrics(
        self, feature: LyricsFeature, texts: list[str | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        mask = np.array([t is not None for t in texts], dtype=bool)
        values = np.zeros((len(texts), *self.widths_[feature.name]), dtype=np.float32)
        if mask.any():
            values[mask] = feature.transform([t for t in texts if t is not None])
        return values, mask


def _checked_latent(latent: object, n: int, encoder: str) -> np.ndarray:
    Z = np.asarray(latent, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != n or Z.shape[1] < 1:
        raise PluginError(
            f"encoder '{encoder}' returned a latent of shape {Z.shape}; expected ({n}, k)"
        )
    if not np.all(np.isfinite(Z)):
        raise PluginError(f"encoder '{encoder}' returned non-finite latent values")
    return Z
