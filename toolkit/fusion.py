"""Fusion of vector blocks into one matrix for vector encoders.

Each block is centred on the mean of the rows present and brought to a common scale. A block
declares how its columns are treated: ``columns`` z-scores each column (statistics in unlike
units: tempo in BPM beside flatness near 0.01); ``block`` keeps the relative variances (SVD or
embedding outputs, whose small columns are mostly noise). Then the blocks are balanced
against each other (``fusion.balance``):

- ``variance`` (default): each block is scaled to unit total variance. A block with a few
  dominant directions then steers PCA and k-means: where the lyrics alone carry a label
  (``benchmarks/results/fusion.md``), the audio swamps them.
- ``mfa``, multiple factor analysis (Escofier and Pages): each block is divided by its first
  principal standard deviation, so no block can dominate the first principal axis of the
  whole. The lyrics' language then counts; but a block of noise has a flat spectrum, so its
  total variance grows with its width, and noisy lyrics (speech-to-text transcripts) or lyrics
  unrelated to the label swamp the audio instead: on the dev clips it halves genre AMI.
  Neither is right in both directions; see the benchmark.

With a single vector block there is nothing to balance: it gets unit total variance either
way. Then the block is multiplied by its ``weight`` and the blocks are concatenated; how each
was scaled is said in ``notes_``. Rows of a block that are missing (no lyrics) sit at the
block's mean (zero) instead of a made-up vector; the mask travels with the blocks for encoders
that model missingness themselves. 2-D blocks (rows x frames) have each row standardised over
clips and time, for convolutional encoders.
"""

from __future__ import annotations

import numpy as np

from toolkit.components import EncoderInput
from toolkit.params import Choice

BALANCES = ("mfa", "variance")
FUSION_PARAMS = (
    Choice(
        "balance",
        "variance",
        choices=BALANCES,
        help="how blocks are balanced: variance (each block at unit total variance) or mfa "
        "(each block's first principal axis at unit variance)",
    ),
)


class Fusion:
    """Fitted per-block centring, scaling and weighting (sklearn shape: fit, transform)."""

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        scaling: dict[str, str] | None = None,
        balance: str = "variance",
    ) -> None:
        if balance not in BALANCES:
            raise ValueError(f"fusion balance must be one of {BALANCES}, not {balance!r}")
        self.weights = dict(weights or {})
        self.scaling = dict(scaling or {})
        self.balance = balance

    def fit(self, values: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> Fusion:
        self.order_ = list(values)
        self.mean_: dict[str, np.ndarray] = {}
        self.scale_: dict[str, np.ndarray] = {}
        self.notes_: list[str] = []
        vectors = [n for n, b in values.items() if b.ndim == 2]
        for name, block in values.items():
            present = block[masks[name]].astype(np.float64)
            if block.ndim == 3:  # 2-D rows x frames: standardise each row over clips and time
                mean = present.mean(axis=(0, 2))[:, None]
                std = present.std(axis=(0, 2))[:, None]
                self.mean_[name], self.scale_[name] = mean, np.where(std < 1e-8, 1.0, std)
                continue
            mean = present.mean(axis=0)
            if self.scaling.get(name, "columns") == "columns":
                std = present.std(axis=0)
                std[std < 1e-8] = 1.0  # constant columns stay zero instead of exploding
                scale = std
            else:
                scale = np.ones(present.shape[1])
            z = (present - mean) / scale
            if self.balance == "mfa" and len(vectors) > 1:
                divisor, what = _first_sd(z), "its first principal standard deviation"
            else:
                divisor, what = np.sqrt((z**2).sum(axis=1).mean()), "its total standard deviation"
            divisor = divisor if divisor > 1e-12 else 1.0  # a constant block stays zero
            self.mean_[name], self.scale_[name] = mean, scale * divisor
            if len(vectors) > 1:
                self.notes_.append(
                    f"fusion ({self.balance}): {name} ({int(masks[name].sum())} of "
                    f"{len(masks[name])} rows, {block.shape[1]} columns) divided by {what}, "
                    f"{divisor:.3g}, then weighted {self.weights.get(name, 1.0):g}"
                )
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


def _first_sd(z: np.ndarray) -> float:
    """The standard deviation along the first principal axis of centred rows ``z``."""
    if len(z) < 2:
        return 0.0
    small = z.T @ z if z.shape[1] <= len(z) else z @ z.T  # the smaller Gram matrix
    return float(np.sqrt(max(np.linalg.eigvalsh(small)[-1], 0.0) / len(z)))


def standardise(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Column-standardise the present rows; missing rows become NaN."""
    mask = np.ones(len(values), dtype=bool) if mask is None else mask
    out = np.full(values.shape, np.nan, dtype=np.float64)
    present = values[mask].astype(np.float64)
    std = present.std(axis=0)
    std[std < 1e-12] = 1.0
    out[mask] = (present - present.mean(axis=0)) / std
    return out
