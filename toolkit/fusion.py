"""Fusion of vector blocks into one matrix for vector encoders.

Each block is centred on the mean of the rows present and brought to a common scale. A block
declares how its columns are treated: ``columns`` z-scores each column (statistics in unlike
units: tempo in BPM beside flatness near 0.01); ``block`` keeps the relative variances (SVD or
embedding outputs, whose small columns are mostly noise). Then the blocks are balanced
against each other (``fusion.balance``):

- ``variance``: each block is scaled to unit total variance. A block with a few dominant
  directions then steers PCA and k-means: where the lyrics alone carry a label
  (``benchmarks/results/fusion.md``), the audio swamps them (fused AMI 0.02-0.05 against 1.00).
- ``mfa``, multiple factor analysis (Escofier and Pages): each block is divided by its first
  principal standard deviation, so no block can dominate the first principal axis of the
  whole. The lyrics' language then counts; but a block of noise has a flat spectrum, so its
  total variance grows with its width, and noisy lyrics (speech-to-text transcripts) or lyrics
  unrelated to the label swamp the audio instead: on the dev clips it halves genre AMI.
- ``auto`` (default): ``mfa`` over the blocks that hold signal; a block whose spectrum does not
  rise above that of noise is left out (weight 0). The test is random-matrix theory's: the
  singular values of a pure-noise block fill the Marchenko-Pastur bulk, whose upper edge is
  ``sigma * (sqrt(n) + sqrt(p))``; the noise level ``sigma`` is estimated from the median
  singular value (Gavish and Donoho, 2014), and a direction above the edge is one noise cannot
  make (Baik, Ben Arous and Peche). On the dev cases the languages' lyrics rise 1.04-1.10x
  above the edge and are balanced by ``mfa``; lyrics unrelated to the label (0.53x) and
  gtzan-mini's transcripts (0.45x) stay inside the bulk and are left out, so the audio keeps
  its AMI. A block too small to estimate a bulk (fewer than 5 rows or columns) is kept. When
  the lyrics are a truncated SVD of a large corpus, the median comes from its top components
  and the test is conservative.

With a single vector block there is nothing to balance: it gets unit total variance either
way. Then the block is multiplied by its ``weight`` and the blocks are concatenated; how each
was scaled is said in ``notes_``. Rows of a block that are missing (no lyrics) sit at the
block's mean (zero) instead of a made-up vector; the mask travels with the blocks for encoders
that model missingness themselves. 2-D blocks (rows x frames) have each row standardised over
clips and time, for convolutional encoders.
"""

from __future__ import annotations

import functools

import numpy as np

from musiclust.components import EncoderInput
from musiclust.params import Choice
from musiclust.scale import scratch_array

BALANCES = ("auto", "mfa", "variance")
#: fewer rows or columns than this: no bulk to estimate the noise from, the block is kept
MIN_BULK = 5
FUSION_PARAMS = (
    Choice(
        "balance",
        "auto",
        choices=BALANCES,
        help="how blocks are balanced: auto (mfa over the blocks that rise above noise, the "
        "rest left out), mfa (each block's first principal axis at unit variance) or "
        "variance (each block at unit total variance)",
    ),
)


class Fusion:
    """Fitted per-block centring, scaling and weighting (sklearn shape: fit, transform)."""

    def __init__(
        self,
        weights: dict[str, float] | None = None,
        scaling: dict[str, str] | None = None,
        balance: str = "auto",
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
        self.left_out_: list[str] = []
        self.notes_: list[str] = []
        vectors = [n for n, b in values.items() if b.ndim == 2]
        several = len(vectors) > 1
        scaled: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name, block in values.items():
            if block.ndim == 3:  # 2-D rows x frames: standardise each row over clips and time
                mean, std = _matrix_moments(block, masks[name])
                self.mean_[name], self.scale_[name] = mean, np.where(std < 1e-8, 1.0, std)
                continue
            present = block[masks[name]].astype(np.float64)
            mean = present.mean(axis=0)
            if self.scaling.get(name, "columns") == "columns":
                std = present.std(axis=0)
                std[std < 1e-8] = 1.0  # constant columns stay zero instead of exploding
                scale = std
            else:
                scale = np.ones(present.shape[1])
            scaled[name] = (mean, scale, (present - mean) / scale)
        auto = self.balance == "auto" and several
        signal = {n: noise_edge(z) for n, (_, _, z) in scaled.items()} if auto else {}
        if auto:
            if all(found == 0 for found, _ in signal.values()):
                self.notes_.append(
                    "fusion (auto): no block rises above the noise edge; all are kept"
                )
            else:
                self.left_out_ = [n for n, (found, _) in signal.items() if found == 0]
        for name, (mean, scale, z) in scaled.items():
            if self.balance in ("mfa", "auto") and several:
                divisor, what = _first_sd(z), "its first principal standard deviation"
            else:
                divisor, what = np.sqrt((z**2).sum(axis=1).mean()), "its total standard deviation"
            divisor = divisor if divisor > 1e-12 else 1.0  # a constant block stays zero
            self.mean_[name], self.scale_[name] = mean, scale * divisor
            if not several:
                continue
            found, ratio = signal.get(name, (0, 0.0))
            head = (
                f"fusion ({self.balance}): {name} ({int(masks[name].sum())} of "
                f"{len(masks[name])} rows, {values[name].shape[1]} columns)"
            )
            edge = (
                "too few rows or columns to test against noise"
                if found < 0
                else f"{found} directions above the noise edge, the first {ratio:.2f}x it"
            )
            if name in self.left_out_:
                self.notes_.append(f"{head} left out: {edge}")
            else:
                self.notes_.append(
                    f"{head} divided by {what}, {divisor:.3g}, then weighted "
                    f"{self.weights.get(name, 1.0):g}" + (f" ({edge})" if auto else "")
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
            if values[name].ndim == 3:
                blocks[name] = _standardised_matrix(
                    values[name], masks[name], self.mean_[name], self.scale_[name]
                )
                continue
            z = (values[name] - self.mean_[name]) / self.scale_[name]
            z[~masks[name]] = 0.0
            if z.ndim == 2:
                left_out = name in getattr(self, "left_out_", ())
                z = z * (0.0 if left_out else self.weights.get(name, 1.0))
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


#: Rows per step when a 2-D block is standardised: whole-block float64 temporaries (the
#: present rows, their deviations) are each twice the block's size (4 GB apiece for stack39 on
#: 100,000 clips).
_ROWS = 1024


def _matrix_moments(block: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each row of a 2-D feature (axis 1) over the present
    clips and every frame, as ``(F, 1)`` columns: in blocks of rows, two passes, float64."""
    total, squares, count = np.zeros(block.shape[1]), np.zeros(block.shape[1]), 0
    for first in range(0, len(block), _ROWS):
        x = block[first : first + _ROWS][mask[first : first + _ROWS]].astype(np.float64)
        total += x.sum(axis=(0, 2))
        count += x.shape[0] * x.shape[2]
    mean = total / max(count, 1)
    for first in range(0, len(block), _ROWS):
        x = block[first : first + _ROWS][mask[first : first + _ROWS]].astype(np.float64)
        x -= mean[:, None]
        squares += (x * x).sum(axis=(0, 2))
    return mean[:, None], np.sqrt(squares / max(count, 1))[:, None]


def _standardised_matrix(
    block: np.ndarray, mask: np.ndarray, mean: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """``(block - mean) / scale`` as float32, zero where a clip is missing, written in blocks
    of rows into a :func:`~musiclust.scale.scratch_array` (memory-mapped when large)."""
    out = scratch_array(block.shape, np.float32)
    for first in range(0, len(block), _ROWS):
        z = (block[first : first + _ROWS] - mean) / scale
        z[~mask[first : first + _ROWS]] = 0.0
        out[first : first + _ROWS] = z
    return out


def _first_sd(z: np.ndarray) -> float:
    """The standard deviation along the first principal axis of centred rows ``z``."""
    if len(z) < 2:
        return 0.0
    small = z.T @ z if z.shape[1] <= len(z) else z @ z.T  # the smaller Gram matrix
    return float(np.sqrt(max(np.linalg.eigvalsh(small)[-1], 0.0) / len(z)))


def noise_edge(z: np.ndarray) -> tuple[int, float]:
    """How many directions of the rows ``z`` rise above the Marchenko-Pastur edge of noise,
    and the first singular value over the edge; (-1, nan) when there are too few rows or
    columns to estimate a bulk from."""
    centred = z - z.mean(axis=0)
    n, p = centred.shape
    big, small = max(n - 1, p), min(n - 1, p)  # centring removes one dimension
    if small < MIN_BULK:
        return -1, float("nan")
    s = np.linalg.svd(centred, compute_uv=False)[:small]
    beta = small / big
    sigma = np.median(s) / np.sqrt(big * _mp_median(max(round(beta, 3), 0.001)))
    if sigma <= 0:  # a constant block, or rank below half its size: no bulk
        return 0, 0.0
    edge = sigma * np.sqrt(big) * (1 + np.sqrt(beta))
    return int((s > edge).sum()), float(s[0] / edge)


@functools.lru_cache(maxsize=512)
def _mp_median(beta: float) -> float:
    """The median of the Marchenko-Pastur law with aspect ratio ``beta`` (unit noise)."""
    from scipy.integrate import quad
    from scipy.optimize import brentq

    lo, hi = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2

    def density(x: float) -> float:
        return np.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * np.pi * beta * x)

    return float(brentq(lambda m: quad(density, lo, m, limit=200)[0] - 0.5, lo + 1e-12, hi))


def standardise(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Column-standardise the present rows; missing rows become NaN."""
    mask = np.ones(len(values), dtype=bool) if mask is None else mask
    out = np.full(values.shape, np.nan, dtype=np.float64)
    present = values[mask].astype(np.float64)
    std = present.std(axis=0)
    std[std < 1e-12] = 1.0
    out[mask] = (present - present.mean(axis=0)) / std
    return out
