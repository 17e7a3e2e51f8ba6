"""Spectral representations of one decoded clip, each computed once and shared.

Every audio feature of a run receives the same :class:`AudioAnalysis` for a clip, so the STFT,
the mel spectrogram, the tuning estimate and so on are computed once per clip however many
features ask for them. Frame parameters default to librosa's (n_fft 2048, hop 512).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


class AudioAnalysis:
    """Lazy, memoised spectral views of a mono signal ``y`` at rate ``sr``."""

    def __init__(self, y: np.ndarray, sr: int, n_fft: int = 2048, hop_length: int = 512) -> None:
        self.y = y
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self._memo: dict[tuple[Any, ...], Any] = {}

    def _get(self, key: tuple[Any, ...], compute: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr

    def magnitude(self) -> np.ndarray:
        """|STFT|, shape (1 + n_fft/2, frames)."""

        def compute() -> np.ndarray:
            import librosa

            return np.abs(librosa.stft(self.y, n_fft=self.n_fft, hop_length=self.hop_length))

        return self._get(("mag",), compute)

    def power(self) -> np.ndarray:
        return self._get(("power",), lambda: self.magnitude() ** 2)

    def mel(self, n_mels: int = 128) -> np.ndarray:
        """Mel power spectrogram from the shared STFT."""
        return self._get(
            ("mel", n_mels), lambda: _mel_basis(self.sr, self.n_fft, n_mels) @ self.power()
        )

    def log_mel(self, n_mels: int = 128) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.power_to_db(self.mel(n_mels), ref=1.0, top_db=None)

        return self._get(("log_mel", n_mels), compute)

    def mfcc(self, n_mfcc: int = 20, n_mels: int = 128) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.feature.mfcc(S=self.log_mel(n_mels), n_mfcc=n_mfcc)

        return self._get(("mfcc", n_mfcc, n_mels), compute)

    def tuning(self) -> float:
        """Tuning deviation, estimated once per clip (chroma would otherwise redo it per call)."""

        def compute() -> float:
            import librosa

            return float(librosa.estimate_tuning(S=self.power(), sr=self.sr, n_fft=self.n_fft))

        return self._get(("tuning",), compute)

    def chroma(self, n_chroma: int = 12) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.feature.chroma_stft(
                S=self.power(),
                sr=self.sr,
                n_fft=self.n_fft,
                tuning=self.tuning(),
                n_chroma=n_chroma,
            )

        return self._get(("chroma", n_chroma), compute)

    def contrast(self, n_bands: int = 6) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.feature.spectral_contrast(
                S=self.magnitude(), sr=self.sr, n_fft=self.n_fft, n_bands=n_bands
            )

        return self._get(("contrast", n_bands), compute)

    def spectral(self, name: str) -> np.ndarray:
        """One-row spectral descriptors: centroid, bandwidth, rolloff, flatness."""

        def compute() -> np.ndarray:
            import librosa

            fn = getattr(librosa.feature, f"spectral_{name}")
            kwargs: dict[str, Any] = {"S": self.magnitude()}
            if name != "flatness":
                kwargs["sr"] = self.sr
            return fn(**kwargs)

        return self._get(("spectral", name), compute)

    def zero_crossing_rate(self) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.feature.zero_crossing_rate(
                self.y, frame_length=self.n_fft, hop_length=self.hop_length
            )

        return self._get(("zcr",), compute)

    def rms(self) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.feature.rms(S=self.magnitude(), frame_length=self.n_fft)

        return self._get(("rms",), compute)

    def onset_envelope(self) -> np.ndarray:
        def compute() -> np.ndarray:
            import librosa

            return librosa.onset.onset_strength(S=self.log_mel(), sr=self.sr)

        return self._get(("onset",), compute)

    def tempo(self) -> float:
        def compute() -> float:
            import librosa

            value = librosa.feature.tempo(
                onset_envelope=self.onset_envelope(), sr=self.sr, hop_length=self.hop_length
            )
            return float(np.atleast_1d(value)[0])

        return self._get(("tempo",), compute)


def mean_std(frames: np.ndarray) -> np.ndarray:
    """Per-row mean then per-row standard deviation of a (rows, frames) array."""
    frames = np.atleast_2d(frames)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)])
