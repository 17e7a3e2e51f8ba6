"""The reference space: one fixed yardstick per data set, whatever features a run uses.

Every run is also scored in it (the ``reference.*`` metrics), and a search's label-free
objective scores every trial in it (:mod:`musiclust.objectives`), so a latent that collapsed or
was stretched to look clustered cannot grade itself. ``--set reference.features=a,b`` names its
features; ``auto`` (the default) takes, for audio, the hand-crafted ``audio_stats`` and, when
the musicnn weights are installed, the pretrained ``musicnn`` embedding; for lyrics-only data,
``tfidf``. Each is taken per clip in its own texture (``audio_stats`` over 2 s windows, averaged;
``musicnn`` over its 3 s patches), its columns standardised, each block scaled to unit total
variance, side by side.

Why both: ``benchmarks/results/objectives.md`` scores 1710 real clusterings of the dev clips
(pipelines on ``audio_stats`` and on ``musicnn``) with the default objective in each candidate
space. In the statistics alone, the ranking prefers clusterings of the statistics (Spearman with
AMI against genre -0.10; the best of 40 random clusterings averages 0.615 AMI); in both views
together it follows genre (Spearman 0.82; best of 40: 0.703), and it ranks the statistics'
own pipelines better too (Spearman 0.81 against 0.59). The pretrained view carries what a
million tagged songs taught it; the statistics keep what is plainly audible (tempo, timbre,
loudness) in the yardstick. They are taken over texture windows because a whole clip's
statistics mix its sections (an intro, a chorus) into their spreads.
"""

from __future__ import annotations

import numpy as np

from musiclust import defaults
from musiclust.errors import DataError, SpecError, did_you_mean
from musiclust.fusion import standardise
from musiclust.params import Str
from musiclust.registry import Registry

REFERENCE_PARAMS = (
    Str(
        "features",
        "auto",
        help="features of the reference space, comma-separated; auto: audio_stats "
        "(+ musicnn when its weights are installed), tfidf without audio",
    ),
)


def check(registry: Registry, value: str) -> None:
    """Unknown feature names in ``reference.features``: one line, before any work."""
    if value == "auto":
        return
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise SpecError("reference.features: name at least one feature, or auto")
    known = [i.name for i in registry.infos("feature")]
    for name in names:
        if name not in known:
            raise SpecError(
                f"reference.features: unknown feature '{name}'; known features: "
                + ", ".join(known),
                did_you_mean(name, known),
            )


def resolve(registry: Registry, value: str, has_audio: bool, has_lyrics: bool) -> list[str]:
    """The reference's feature names for this data (``auto`` made concrete)."""
    if value != "auto":
        names = [n.strip() for n in value.split(",") if n.strip()]
        for name in names:
            modality = registry.get("feature", name).cls.modality
            if not (has_audio if modality == "audio" else has_lyrics):
                raise DataError(
                    f"reference.features: '{name}' needs {modality}, and the data has none"
                )
        return names
    names = defaults.REFERENCE_AUDIO if has_audio else defaults.REFERENCE_LYRICS
    return [n for n in names if registry.cannot_run("feature", n) is None]


def space(blocks: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(values, mask) blocks as one space: each block's columns standardised, the block scaled
    to unit total variance (so 91 statistics and a 200-d embedding count alike), side by side;
    NaN rows where a clip lacks a block."""
    parts = []
    for values, mask in blocks:
        z = standardise(values, mask)
        parts.append(z / np.sqrt(z.shape[1]) if len(blocks) > 1 else z)
    joint = np.concatenate(parts, axis=1)
    joint[np.isnan(joint).any(axis=1)] = np.nan
    return joint
