"""2-D audio features (rows x frames) for convolutional encoders: ``mfcc``, ``mel``,
``chroma``, ``contrast`` and ``stack39``, the published hybrid VAE's 39 x T input.

Frames follow n_fft 2048 and hop 512; each feature brings its frame sequence to ``frames``
(130 = 3 s at 22050 Hz). With ``segments.length: auto`` a clip is cut into windows of exactly
that length, so the whole clip is used, as one row per window.
"""

from __future__ import annotations

import numpy as np

from musiclust import AudioAnalysis, Bool, Choice, FrameFeature, Int, hookimpl
from musiclust.plugins.features.mfcc_stats import deltas


def _tuning(value: str) -> float | str:
    return value if value == "estimate" else float(value)


class Mfcc(FrameFeature):
    """MFCC frames (n_mfcc x frames), optionally with their first deltas stacked below."""

    name = "mfcc"
    params = (
        Int("n_mfcc", 20, low=2, high=128, searchable=True, space=(8, 40)),
        Int("n_mels", 128, low=16, high=512, help="mel bands the MFCCs come from"),
        Bool("deltas", False, searchable=True, help="stack the first deltas below"),
    )

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        mfcc = audio.mfcc(self.n_mfcc, self.n_mels)
        return np.vstack([mfcc, deltas(mfcc)]) if self.deltas else mfcc


class Mel(FrameFeature):
    """Log-mel spectrogram in dB (n_mels x frames; n_fft 2048, hop 512)."""

    name = "mel"
    params = (Int("n_mels", 128, low=16, high=512, searchable=True, space=(32, 128)),)

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        return audio.log_mel(self.n_mels)


class Chroma(FrameFeature):
    """Chroma (12 x frames) from the power spectrogram; A440 unless tuning=estimate."""

    name = "chroma"
    params = (
        Choice(
            "tuning",
            "0.0",
            choices=("0.0", "estimate"),
            help="assume A440 (fast) or estimate the tuning once per clip",
        ),
    )

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        return audio.chroma(tuning=_tuning(self.tuning))


class Contrast(FrameFeature):
    """Spectral contrast (n_bands + 1 rows x frames)."""

    name = "contrast"
    params = (Int("n_bands", 6, low=1, high=8),)

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        return audio.contrast(self.n_bands)


class Stack39(FrameFeature):
    """The published hybrid VAE's input: 20 MFCC + 12 chroma + 7 contrast rows x frames."""

    name = "stack39"
    params = (
        Choice("tuning", "0.0", choices=("0.0", "estimate"), help="chroma tuning, as in chroma"),
    )

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        return np.vstack(
            [audio.mfcc(20), audio.chroma(tuning=_tuning(self.tuning)), audio.contrast(6)]
        )


@hookimpl
def register_features(register):
    for cls in (Mfcc, Mel, Chroma, Contrast, Stack39):
        register(cls)
