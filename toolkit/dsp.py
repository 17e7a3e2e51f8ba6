"""librosa's filterbanks and spectral descriptors, written with numpy alone.

Importing ``librosa.feature`` costs about 1.5 s per process (scipy.signal, numba), more than
extracting MFCC, chroma and contrast from 50 clips takes, and every ``musiclust features`` or
``run`` pays it. These are the few definitions the common features need: the Slaney mel
filterbank, the chroma filterbank, dB conversion, the DCT-II of MFCCs, spectral contrast and
soxr resampling, each equal to librosa 0.11's to float32 precision (tests/test_analysis.py
compares them). What stays with librosa (tuning estimation, onsets, tempo, RMS) imports it
where it is asked for.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

#: What plugins may use (tests/test_structure.py holds plugins to these).
__all__ = [
    "chroma",
    "chroma_filterbank",
    "fft_frequencies",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "mfcc",
    "power_to_db",
    "resample",
    "spectral_contrast",
]


_F_SP = 200.0 / 3  # Slaney's mel scale: linear below 1 kHz, logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def fft_frequencies(sr: float, n_fft: int) -> np.ndarray:
    return np.linspace(0, sr / 2, 1 + n_fft // 2)


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    high = hz >= _MIN_LOG_HZ
    mel[high] = _MIN_LOG_MEL + np.log(hz[high] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * _F_SP
    high = mel >= _MIN_LOG_MEL
    hz[high] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[high] - _MIN_LOG_MEL))
    return hz


@lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular Slaney-normalised mel filters from 0 Hz to Nyquist, (n_mels, 1 + n_fft/2)."""
    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array([0.0]))[0], hz_to_mel([sr / 2.0])[0], n_mels + 2)
    )
    ramps = edges[:, None] - fft_frequencies(sr, n_fft)[None, :]
    widths = np.diff(edges)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # constant energy per band
    weights = weights.astype(np.float32)
    weights.flags.writeable = False
    return weights


@lru_cache(maxsize=16)
def chroma_filterbank(sr: int, n_fft: int, n_chroma: int = 12, tuning: float = 0.0) -> np.ndarray:
    """Gaussian bumps per pitch class over FFT bins, weighted around octave 5 (C first),
    (n_chroma, 1 + n_fft/2): Ellis's chroma filters, as librosa builds them."""
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    bins = n_chroma * np.log2(frequencies / (a440 / 16))
    bins = np.concatenate([[bins[0] - 1.5 * n_chroma], bins])
    widths = np.concatenate([np.maximum(bins[1:] - bins[:-1], 1.0), [1.0]])
    half = np.round(n_chroma / 2)
    distance = np.subtract.outer(bins, np.arange(n_chroma, dtype=np.float64)).T
    distance = np.remainder(distance + half + 10 * n_chroma, n_chroma) - half
    weights = np.exp(-0.5 * (2 * distance / widths[None, :]) ** 2)
    norms = np.sqrt(np.sum(weights**2, axis=0, keepdims=True))
    weights /= np.where(norms < np.finfo(np.float64).tiny, 1.0, norms)
    weights *= np.exp(-0.5 * ((bins / n_chroma - 5.0) / 2.0) ** 2)[None, :]
    weights = np.roll(weights, -3 * (n_chroma // 12), axis=0)
    weights = np.ascontiguousarray(weights[:, : 1 + n_fft // 2], dtype=np.float32)
    weights.flags.writeable = False
    return weights


def power_to_db(power: np.ndarray, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """10 log10(power) against a reference of 1, floored ``top_db`` below the peak."""
    db = 10.0 * np.log10(np.maximum(amin, power))
    return db if top_db is None else np.maximum(db, db.max() - top_db)


@lru_cache(maxsize=16)
def _dct_rows(n_rows: int, n: int) -> np.ndarray:
    """The first ``n_rows`` rows of the orthonormal DCT-II matrix of size ``n``."""
    k = np.arange(n_rows)[:, None]
    basis = np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))
    basis *= np.where(k == 0, np.sqrt(1.0 / n), np.sqrt(2.0 / n))
    return basis


def mfcc(log_mel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """Orthonormal DCT-II of the log-mel rows, first ``n_mfcc`` coefficients (no lifter).

    A (n_mfcc, n_mels) matrix product: cheaper than a full DCT when n_mfcc is small, and no
    scipy.fft to import."""
    basis = _dct_rows(n_mfcc, log_mel.shape[0]).astype(log_mel.dtype, copy=False)
    return basis @ log_mel


def chroma(power: np.ndarray, sr: int, n_fft: int, n_chroma: int, tuning: float) -> np.ndarray:
    """Chroma from a power spectrogram, each frame scaled to a maximum of 1."""
    raw = chroma_filterbank(sr, n_fft, n_chroma, float(tuning)) @ power
    peak = np.max(np.abs(raw), axis=0, keepdims=True).astype(np.float64)
    peak[peak < np.finfo(raw.dtype).tiny] = 1.0
    return (raw / peak).astype(raw.dtype, copy=False)


def spectral_contrast(
    magnitude: np.ndarray, sr: int, n_fft: int, n_bands: int = 6, fmin: float = 200.0
) -> np.ndarray:
    """Peak minus valley (dB) per octave band, the top and bottom 2 % of each band's bins."""
    freq = fft_frequencies(sr, n_fft)
    octaves = np.zeros(n_bands + 2)
    octaves[1:] = fmin * 2.0 ** np.arange(n_bands + 1)
    if np.any(octaves[:-1] >= 0.5 * sr):
        raise ValueError(f"{n_bands} contrast bands from {fmin:g} Hz exceed Nyquist at {sr} Hz")
    valley = np.zeros((n_bands + 1, magnitude.shape[1]))
    peak = np.zeros_like(valley)
    for k, (low, high) in enumerate(itertools.pairwise(octaves)):
        band = (freq >= low) & (freq <= high)
        inside = np.flatnonzero(band)
        if k > 0:
            band[inside[0] - 1] = True  # one bin below the band, as librosa takes
        if k == n_bands:
            band[inside[-1] + 1 :] = True  # the last band runs to Nyquist
        rows = magnitude[band]
        if k < n_bands:
            rows = rows[:-1]
        count = max(int(np.rint(0.02 * band.sum())), 1)
        ordered = np.sort(rows, axis=0)
        valley[k] = ordered[:count].mean(axis=0)
        peak[k] = ordered[-count:].mean(axis=0)
    return power_to_db(peak) - power_to_db(valley)


def resample(y: np.ndarray, native: int, target: int) -> np.ndarray:
    """soxr's high-quality resampler along the last axis, to ceil(n * target / native) samples."""
    import soxr

    n = int(np.ceil(y.shape[-1] * target / native))
    rows = [soxr.resample(row, native, target, quality="soxr_hq") for row in np.atleast_2d(y)]
    out = np.stack(rows)
    out = out[:, :n] if out.shape[1] >= n else np.pad(out, ((0, 0), (0, n - out.shape[1])))
    return (out if y.ndim == 2 else out[0]).astype(y.dtype, copy=False)
