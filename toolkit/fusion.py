"""Fusion of vector blocks into one matrix for vector encoders.

Each block is centred on the mean of the rows present and scaled to unit total variance, so a
64-d lyrics block does not drown a 20-d audio block. A block declares how: ``columns``
z-scores each column and divides by ``sqrt(d)`` (statistics in unlike units: tempo in BPM
beside flatness near 0.01); ``block`` divides by one common scale, keeping the relative
variances (SVD or embedding outputs, whose small columns are mostly noise). Then the block is
multiplied by its ``weight`` and the blocks are concatenated. Rows of a block that are missing
(no lyrics) sit at the block's mean (zero) instead of a made-up vector; the mask travels with
the blocks for encoders that model missingness themselves. 2-D blocks (rows x frames) have
each row standardised over clips and time, for convolutional encoders.
"""

from __future__ import annotations

import numpy as np

from toolkit.components import EncoderInput


class Fusion:
    """Fitted per-block centring, scaling and weighting (sklearn shape: fit, transform)."""

    def __init__(
        self, weights: dict[str, float] | None = None, scaling: dict[str, str] | None = None
    ) -> None:
        self.weights = dict(weights or {})
        self.scaling = dict(scaling or {})

    def fit(self, values: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> Fusion:
        self.order_ = list(values)
        self.mean_: dict[str, np.ndarray] = {}
        self.scale_: dict[str, np.ndarray] = {}
        for name, block in values.items():
            present = block[masks[name]].astype(np.float64)
            if block.ndim == 3:  # 2-D rows x frames: standardise each row over clips and time
                mean = present.mean(axis=(0, 2))[:, None]
                std = present.std(axis=(0, 2))[:, None]
                scale = np.where(std < 1e-8, 1.0, std)
            elif self.scaling.get(name, "columns") == "columns":
                mean = present.mean(axis=0)
                std = present.std(axis=0)
                std[std < 1e-8] = 1.0  # constant columns stay zero instead of exploding
                scale = std * np.sqrt(present.shape[1])
            else:
                mean = present.mean(axis=0)
                total = np.sqrt(((present - mean) ** 2).sum(axis=1).mean())
                scale = np.full(present.shape[1], total if total > 1e-12 else 1.0)
            self.mean_[name] = mean
            self.scale_[name] = scale
        return self

    def transform(
        self,
        values: dict[str, np.ndarray],
        masks: dict[str, np.ndarray],
        groups: np.ndarray | None = None,
    ) -> EncoderInput:
        blocks = {}
        for name in self.order_:
            z = (values[name] - self.mean_[name]) / self.scale_[name]
            z[~masks[name]] = 0.0
            if z.ndim == 2:
                z = z * self.weights.get(name, 1.0)
            blocks[name] = z.astype(np.float32)
        vectors = [blocks[n] for n in self.order_ if blocks[n].ndim == 2]
        return EncoderInput(
            vectors=np.concatenate(vectors, axis=1) if vectors else None,
            blocks=blocks,
            masks=dict(masks),
            groups=groups,
            weights=dict(self.weights),
        )

    def fit_transform(
        self,
        values: dict[str, np.ndarray],
        masks: dict[str, np.ndarray],
        groups: np.ndarray | None = None,
    ) -> EncoderInput:
        return self.fit(values, masks).transform(values, masks, groups)


def standardise(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Column-standardise the present rows; missing rows become NaN."""
    mask = np.ones(len(values), dtype=bool) if mask is None else mask
    out = np.full(values.shape, np.nan, dtype=np.float64)
    present = values[mask].astype(np.float64)
    std = present.std(axis=0)
    std[std < 1e-12] = 1.0
    out[mask] = (present - present.mean(axis=0)) / std
    return out
