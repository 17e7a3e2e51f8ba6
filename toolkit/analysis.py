"""Spectral representations of one decoded clip (or segment), each computed once and shared.

Every audio feature of a run receives the same :class:`AudioAnalysis`, so the STFT, the mel
spectrogram and the rest are computed once per clip however many features ask for them.
Frames follow librosa's defaults (n_fft 2048, hop 512, centred, zero padding) and every
representation equals librosa's to float32 precision (tests/test_analysis.py checks each one);
the speed comes from computing the STFT once, in float32, and from vectorised descriptors:

    one 18 s clip, one core      librosa from the waveform    here
    STFT                          ~12-40 ms                    ~5 ms
    centroid + bandwidth          ~33 ms                       ~3 ms
    chroma (tuning estimated)     ~24 ms                       ~2 ms (tuning given)

The filterbanks, dB scale, DCT and contrast are numpy ports (toolkit/dsp.py), so the common
features never import librosa; tuning estimation, onsets and tempo still use it.

Chroma assumes A440 tuning unless a feature asks for ``tuning="estimate"``; the estimate is then
made once per clip and shared.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

import musiclust.dsp as dsp

#: What plugins may use (tests/test_structure.py holds plugins to these).
__all__ = [
    "HOP",
    "N_FFT",
    "AudioAnalysis",
    "fit_frames",
    "mean_std",
    "segment_bounds",
    "stft_magnitude",
]


N_FFT = 2048
HOP = 512


@lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    n = np.arange(n_fft)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)).astype(np.float32)  # periodic Hann


_frequencies = lru_cache(maxsize=16)(dsp.fft_frequencies)


def stft_magnitude(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """|STFT| as librosa computes it (centred, zero-padded, periodic Hann), in float32."""
    import scipy.fft

    padded = np.pad(y.astype(np.float32, copy=False), n_fft // 2)
    if len(padded) < n_fft:
        padded = np.pad(padded, (0, n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    spectrum = scipy.fft.rfft(frames * _window(n_fft), axis=1, overwrite_x=True)
    return np.abs(spectrum).T  # (bins, frames), as librosa; a transposed view, no copy


class AudioAnalysis:
    """Lazy, memoised spectral views of a mono signal ``y`` at rate ``sr``."""

    def __init__(self, y: np.ndarray, sr: int) -> None:
        self.y = y
        self.sr = sr
        self.n_fft = N_FFT
        self.hop_length = HOP
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
        return self._get(("mag",), lambda: stft_magnitude(self.y, self.n_fft, self.hop_length))

    def power(self) -> np.ndarray:
        return self._get(("power",), lambda: self.magnitude() ** 2)

    def mel(self, n_mels: int = 128) -> np.ndarray:
        """Mel power spectrogram (librosa's Slaney filterbank) from the shared STFT."""
        return self._get(
            ("mel", n_mels), lambda: dsp.mel_filterbank(self.sr, self.n_fft, n_mels) @ self.power()
        )

    def log_mel(self, n_mels: int = 128) -> np.ndarray:
        """Mel spectrogram in dB, as ``librosa.feature.mfcc`` computes it (top_db 80)."""

        return self._get(("log_mel", n_mels), lambda: dsp.power_to_db(self.mel(n_mels)))

    def mfcc(self, n_mfcc: int = 20, n_mels: int = 128) -> np.ndarray:
        return self._get(("mfcc", n_mfcc, n_mels), lambda: dsp.mfcc(self.log_mel(n_mels), n_mfcc))

    def tuning(self) -> float:
        """Tuning deviation in fractions of a chroma bin, estimated once per clip."""

        def compute() -> float:
            import librosa

            return float(librosa.estimate_tuning(S=self.power(), sr=self.sr, n_fft=self.n_fft))

        return self._get(("tuning",), compute)

    def chroma(self, n_chroma: int = 12, tuning: float | str = 0.0) -> np.ndarray:
        """Chroma from the power spectrogram; ``tuning='estimate'`` estimates it (once)."""

        def compute() -> np.ndarray:
            value = self.tuning() if tuning == "estimate" else float(tuning)
            return dsp.chroma(self.power(), self.sr, self.n_fft, n_chroma, value)

        return self._get(("chroma", n_chroma, tuning), compute)

    def contrast(self, n_bands: int = 6) -> np.ndarray:
        return self._get(
            ("contrast", n_bands),
            lambda: dsp.spectral_contrast(self.magnitude(), self.sr, self.n_fft, n_bands),
        )

    def spectral(self, name: str) -> np.ndarray:
        """One-row descriptors with librosa's definitions: centroid, bandwidth (p=2),
        rolloff (85 %) and flatness (of the power spectrum), each (1, frames)."""
        return self._get(("spectral", name), lambda: _SPECTRAL[name](self))

    def zero_crossing_rate(self) -> np.ndarray:
        return self._get(("zcr",), lambda: _zero_crossing_rate(self.y, self.n_fft, self.hop_length))

    def rms(self) -> np.ndarray:
        """Root mean square per frame from the STFT (Parseval: DC and Nyquist bins count
        half), as librosa.feature.rms(S=...) computes it."""

        def compute() -> np.ndarray:
            power = self.power().astype(np.float64)
            total = 2 * power.sum(axis=0) - power[0] - power[-1]
            return np.sqrt(total / self.n_fft**2)[None, :].astype(np.float32)

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


def _moments(a: AudioAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Spectral centroid and second moment about zero, per frame (float64)."""

    def compute() -> tuple[np.ndarray, np.ndarray]:
        mag = a.magnitude()
        freqs = _frequencies(a.sr, a.n_fft)
        total = mag.sum(axis=0, dtype=np.float64)
        safe = np.where(total > np.finfo(np.float32).tiny, total, 1.0)
        centroid = (freqs @ mag) / safe
        second = ((freqs**2) @ mag) / safe
        return centroid, second

    return a._get(("moments",), compute)


def _centroid(a: AudioAnalysis) -> np.ndarray:
    return _moments(a)[0][None, :]


def _bandwidth(a: AudioAnalysis) -> np.ndarray:
    centroid, second = _moments(a)
    return np.sqrt(np.maximum(second - centroid**2, 0.0))[None, :]


def _rolloff(a: AudioAnalysis, roll_percent: float = 0.85) -> np.ndarray:
    cumulative = np.cumsum(a.magnitude(), axis=0, dtype=np.float64)
    reached = cumulative >= roll_percent * cumulative[-1]
    return _frequencies(a.sr, a.n_fft)[np.argmax(reached, axis=0)][None, :]


def _flatness(a: AudioAnalysis, amin: float = 1e-10) -> np.ndarray:
    power = np.maximum(a.power(), amin)
    geometric = np.exp(np.mean(np.log(power), axis=0))
    return (geometric / np.mean(power, axis=0))[None, :]


_SPECTRAL = {
    "centroid": _centroid,
    "bandwidth": _bandwidth,
    "rolloff": _rolloff,
    "flatness": _flatness,
}


def _zero_crossing_rate(y: np.ndarray, frame_length: int, hop: int) -> np.ndarray:
    """librosa's zero-crossing rate (centred with edge padding, |y| <= 1e-10 counts as 0)."""
    padded = np.pad(y, frame_length // 2, mode="edge")
    signs = np.signbit(np.where(np.abs(padded) <= 1e-10, 0.0, padded))
    changes = np.concatenate([[0], np.cumsum(signs[1:] != signs[:-1])])
    starts = np.arange(0, len(padded) - frame_length + 1, hop)
    return ((changes[starts + frame_length - 1] - changes[starts]) / frame_length)[None, :]


def mean_std(frames: np.ndarray) -> np.ndarray:
    """Per-row mean then per-row standard deviation of a (rows, frames) array."""
    frames = np.atleast_2d(frames)
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)])


# -- segments and fixed-length frame sequences ---------------------------------------------
def segment_bounds(
    n_samples: int, sr: int, length: float, hop: float | None = None
) -> list[tuple[int, int]]:
    """Windows of ``length`` seconds every ``hop`` seconds that cover the whole signal.

    Full windows are placed from the start; when they leave more than a tenth of a window
    uncovered at the end, one more window is aligned with the end. A signal shorter than one
    window is a single (shorter) window.
    """
    size = round(length * sr)
    step = max(1, round((hop or length) * sr))
    if n_samples <= size:
        return [(0, n_samples)]
    bounds = [(start, start + size) for start in range(0, n_samples - size + 1, step)]
    if n_samples - bounds[-1][1] > size / 10:
        bounds.append((n_samples - size, n_samples))
    return bounds


def fit_frames(frames: np.ndarray, n: int, policy: str) -> tuple[np.ndarray, bool]:
    """A (rows, T) sequence brought to ``n`` frames; also whether anything was cut off.

    ``pad``: shorter sequences are padded with each row's minimum (silence-like), longer ones
    cropped to their first ``n`` frames (reported). ``resize``: linear interpolation in time, so
    the whole sequence is kept at a different time resolution.
    """
    t = frames.shape[1]
    if t == n:
        return frames, False
    if policy == "resize":
        positions = np.linspace(0, t - 1, n)
        left = np.floor(positions).astype(int)
        right = np.minimum(left + 1, t - 1)
        weight = (positions - left)[None, :]
        return frames[:, left] * (1 - weight) + frames[:, right] * weight, False
    if t > n:
        return frames[:, :n], True
    fill = np.repeat(frames.min(axis=1, keepdims=True), n - t, axis=1)
    return np.concatenate([frames, fill], axis=1), False
