"""``mfcc_stats``: mean and standard deviation of each MFCC over the clip."""

from __future__ import annotations

import numpy as np

from musiclust import AudioAnalysis, AudioFeature, Bool, Int, hookimpl
from musiclust.analysis import mean_std


class MfccStats(AudioFeature):
    """Mean and std of each MFCC over the clip (and of their deltas if asked)."""

    name = "mfcc_stats"
    params = (
        Int(
            "n_mfcc",
            20,
            low=2,
            high=128,
            searchable=True,
            space=(8, 40),
            help="number of coefficients",
        ),
        Int("n_mels", 128, low=16, high=512, help="mel bands the MFCCs are computed from"),
        Bool("deltas", False, searchable=True, help="add mean and std of the first deltas"),
    )

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        mfcc = audio.mfcc(self.n_mfcc, self.n_mels)
        parts = [mean_std(mfcc)]
        if self.deltas:
            parts.append(mean_std(deltas(mfcc)))
        return np.concatenate(parts)


def deltas(frames: np.ndarray) -> np.ndarray:
    """First-order deltas with librosa's 9-frame window, narrowed for very short clips."""
    import librosa

    width = min(9, frames.shape[1] - (1 - frames.shape[1] % 2))
    if width < 3:
        return np.zeros_like(frames)
    return librosa.feature.delta(frames, width=width)


@hookimpl
def register_features(register):
    register(MfccStats)
