"""Segments: cutting clips into fixed windows, and the declared way back to the clip.

With ``segments.length`` set, every audio feature of a run is computed per window (a 30 s clip
gives ten 3 s windows), encoders see one row per window, and ``segments.back`` says how the
windows return to the clip:

- ``latent``: the mean of the window latents is the clip's latent (default);
- ``features``: the mean of the window features is the clip's feature row;
- ``vote``: windows are clustered and the clip takes its windows' most frequent cluster
  (ties go to the lowest cluster id; noise windows do not vote).

``length: auto`` means: none for runs of vector features only; the window of the 2-D features
(``frames`` x hop / rate, 2.995 s for 130 frames) when a 2-D feature pads or crops to its
frames, so that 2-D features cover the whole clip rather than its first seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from musiclust.params import Choice, Float

#: The window lengths a search tries (none: whole clips), unless ``segments.length`` is set.
SEARCHED_LENGTHS = (None, 2.0, 3.0)

SEGMENT_PARAMS = (
    Float(
        "length",
        "auto",
        low=0.1,
        also=("auto",),
        nullable=True,
        help="window length in seconds; none: whole clips; auto: see the docs",
    ),
    Float(
        "hop", None, low=0.05, nullable=True, help="seconds between window starts (none: length)"
    ),
    Choice(
        "back",
        "latent",
        choices=("latent", "features", "vote"),
        searchable=True,
        help="how windows return to the clip: mean latent, mean features, or vote",
    ),
)


@dataclass(frozen=True)
class Framing:
    """How a clip is cut: whole (length None) or into windows of ``length`` every ``hop`` s."""

    length: float | None = None
    hop: float | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Framing:
        length = params.get("length")
        return cls(None if length in (None, "auto") else float(length), params.get("hop"))

    def key(self) -> dict[str, Any]:
        return {"length": self.length, "hop": self.hop}


def mean_by_group(rows: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Row means per group (groups are 0..n-1)."""
    sums = np.zeros((n, *rows.shape[1:]), dtype=np.float64)
    np.add.at(sums, groups, rows)
    counts = np.bincount(groups, minlength=n).reshape(-1, *([1] * (rows.ndim - 1)))
    return sums / np.maximum(counts, 1)


def vote(labels: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Each group's most frequent non-noise label (lowest on ties; -1 if all noise)."""
    out = np.full(n, -1, dtype=int)
    for g in range(n):
        votes = labels[(groups == g) & (labels != -1)]
        if len(votes):
            out[g] = int(np.bincount(votes).argmax())
    return out
