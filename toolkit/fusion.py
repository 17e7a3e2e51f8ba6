"""Fusion of vector blocks into one matrix for vector encoders.

Each block is centred on the mean of the rows present and scaled to unit total variance, so a
64-d lyrics block does not drown a 20-d audio block. A block declares how: ``columns``
z-scores each column and divides by ``sqrt(d)`` (statistics in unlike units: tempo in BPM
beside flatness near 0.01); ``block`` divides by one common scale, keeping the relative
variances (SVD or embedding outputs, whose small columns are mostly noise). Then the block is
multiplied by its ``weight`` and the blocks are concatenated. Rows of a block that are missing
(no lyrics) sit at the block's mean (zero) instead of a made-up vector; the mask travels with
the blocks for encoders that model missingness themselves. 2-D blocks pass through untouched.
"""

from __future__ import annotations

import numpy as np


class Fusion:
    """Fitted per-block centring, scaling and weighting (sklearn shape: fit, transform)."""

    def __init__(
        self, weights: dict[str, float] | None = None, scaling: dict[str, str] | None = None
    ) -> None:
        self.weights = dict(weights or {})
        self.scaling = dict(scaling or {})

    def fit(self, values: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> Fusion:
        self.order_ = [name for name, v in values.items() if v.ndim == 2]
        self.mean_: dict[str, np.ndarray] = {}
        self.scale_: dict[str, np.ndarray] = {}
        for name in self.order_:
            present = values[name][masks[name]].astype(np.float64)
            mean = present.mean(axis=0)
            centred = present - mean
            if self.scaling.get(name, "columns") == "columns":
                std = centred.std(axis=0)
                std[std < 1e-8] = 1.0  # constant columns stay zero instead of exploding
                scale = std * np.sqrt(present.shape[1])
            else:
                total = np.sqrt((centred**2).sum(axis=1).mean())
                scale = np.full(present.shape[1], total if total > 1e-12 else 1.0)
            self.mean_[name] = mean
            self.scale_[name] = scale
        return self

    def transform(
        self, values: dict[str, np.ndarray], masks: dict[str, np.ndarray]
    ) -> np.ndarray | None:
        if not self.order_:
            return None
        parts = []
        for name in self.order_:
            z = (values[name] - self.mean_[name]) / self.scale_[name]
            z[~masks[name]] = 0.0
            parts.append((z * self.weights.get(name, 1.0)).astype(np.float32))
        return np.concatenate(parts, axis=1)

    def fit_transform(
        self, values: dict[str, np.ndarray], masks: dict[str, np.ndarray]
    ) -> np.ndarray | None:
        return self.fit(values, masks).transform(values, masks)


def standardise(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Column-standardise the present rows; missing rows become NaN."""
    mask = np.ones(len(values), dtype=bool) if mask is None else mask
    out = np.full(values.shape, np.nan, dtype=np.float64)
    present = values[mask].astype(np.float64)
    std = present.std(axis=0)
    std[std < 1e-12] = 1.0
    out[mask] = (present - present.mean(axis=0)) / std
    return out
