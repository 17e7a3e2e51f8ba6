"""``audio_stats``: the full statistics vector of a clip (also every run's reference space).

Mean and standard deviation of 20 MFCCs, 12 chroma bins, 7 spectral-contrast bands, spectral
centroid, bandwidth, roll-off, flatness, zero-crossing rate and RMS, plus the tempo: 91 numbers
per clip, all derived from one STFT.
"""

from __future__ import annotations

import numpy as np

from musiclust import AudioAnalysis, AudioFeature, hookimpl
from musiclust.analysis import mean_std

SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness")


class AudioStats(AudioFeature):
    """Mean/std of MFCC, chroma, contrast and spectral descriptors, plus tempo (91 values)."""

    name = "audio_stats"

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        blocks = [audio.mfcc(20), audio.chroma(), audio.contrast()]
        blocks += [audio.spectral(name) for name in SPECTRAL]
        blocks += [audio.zero_crossing_rate(), audio.rms()]
        stats = [mean_std(b) for b in blocks]
        return np.concatenate([*stats, [audio.tempo()]])


@hookimpl
def register_features(register):
    register(AudioStats)
