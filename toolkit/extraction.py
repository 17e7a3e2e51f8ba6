"""Feature extraction over a data set: cached, optionally parallel, and robust to bad files.

Audio: each clip is decoded once per set of decoding settings; every audio feature of the run
(and the reference feature) is computed from one shared :class:`AudioAnalysis`. Results are
cached per clip and feature. A clip whose audio cannot be used is skipped with its reason.

Lyrics: lyrics features are fitted on the clips that have lyrics; rows without lyrics are zeros
with ``mask`` False, so later steps know they are missing rather than a real vector.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from toolkit.analysis import AudioAnalysis
from toolkit.audio import AudioError, AudioSettings, decode
from toolkit.cache import FeatureCache, file_identity
from toolkit.components import AudioFeature, FeatureExtractor, LyricsFeature
from toolkit.data import Dataset, Skip
from toolkit.errors import DataError, PluginError

log = logging.getLogger("musiclust")


@dataclass
class FeatureBlock:
    """One feature for every kept clip: ``values`` (N x d or N x F x T) and rows present."""

    name: str
    modality: str
    output: str
    values: np.ndarray
    mask: np.ndarray


@dataclass
class Extraction:
    """The kept clips' features, the reference block, and what was skipped."""

    dataset: Dataset
    blocks: dict[str, FeatureBlock]
    reference: FeatureBlock | None
    skipped: list[Skip] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Task:
    index: int
    path: str
    settings: AudioSettings
    features: tuple[AudioFeature, ...]


def extract(
    dataset: Dataset,
    features: list[FeatureExtractor],
    settings: AudioSettings,
    *,
    reference: FeatureExtractor | None = None,
    reference_settings: AudioSettings | None = None,
    cache: FeatureCache | None = None,
    n_jobs: int | str = "auto",
    progress: bool = True,
) -> Extraction:
    """Compute ``features`` (and the ``reference`` feature) for the clips of ``dataset``."""
    cache = cache or FeatureCache()
    started = time.perf_counter()
    reference_settings = reference_settings or AudioSettings()
    plan: list[tuple[FeatureExtractor, AudioSettings]] = [(f, settings) for f in features]
    if reference is not None and all(reference is not f for f in features):
        plan.append((reference, reference_settings))

    audio_plan = [(f, s) for f, s in plan if isinstance(f, AudioFeature)]
    needs_audio = any(isinstance(f, AudioFeature) for f in features)
    audio_values, reasons = _extract_audio(
        dataset, audio_plan, needs_audio, cache, n_jobs, progress
    )

    keep = [i for i in range(len(dataset.clips)) if i not in reasons]
    skipped = [
        Skip(dataset.clips[i].id, str(dataset.clips[i].audio or ""), reason)
        for i, reason in sorted(reasons.items())
    ]
    if not keep:
        shown = "; ".join(f"{s.id}: {s.reason}" for s in skipped[:3])
        raise DataError(
            f"no usable clips: all {len(dataset.clips)} were skipped ({shown})",
            "see the reasons above; check the data path and the audio settings",
        )
    kept = dataset.subset(keep)
    kept.skipped.extend(skipped)

    blocks: dict[str, FeatureBlock] = {}
    reference_block = None
    for feature, feature_settings in plan:
        if isinstance(feature, AudioFeature):
            block = _stack_audio(feature, feature_settings, audio_values, keep)
        else:
            block = _lyrics_block(feature, kept)
        if feature is reference and all(feature is not f for f in features):
            reference_block = block
        else:
            blocks[feature.name] = block
            if feature is reference:
                reference_block = block
    stats = {
        "cache_hits": float(cache.hits),
        "cache_misses": float(cache.misses),
        "extract_seconds": time.perf_counter() - started,
    }
    return Extraction(kept, blocks, reference_block, skipped, stats)


# -- audio ---------------------------------------------------------------------------------
def _extract_audio(
    dataset: Dataset,
    plan: list[tuple[FeatureExtractor, AudioSettings]],
    needs_audio: bool,
    cache: FeatureCache,
    n_jobs: int | str,
    progress: bool,
) -> tuple[dict[tuple[int, str, AudioSettings], np.ndarray], dict[int, str]]:
    values: dict[tuple[int, str, AudioSettings], np.ndarray] = {}
    reasons: dict[int, str] = {}
    if not plan:
        return values, reasons
    groups: dict[AudioSettings, list[AudioFeature]] = {}
    for feature, settings in plan:
        groups.setdefault(settings, []).append(feature)  # type: ignore[arg-type]

    tasks: list[_Task] = []
    keys: dict[tuple[int, str, AudioSettings], str] = {}
    for index, clip in enumerate(dataset.clips):
        if clip.audio is None:
            if needs_audio:
                reasons[index] = "no audio file"
            continue
        try:
            identity = file_identity(clip.audio)
        except OSError as exc:
            reasons[index] = f"cannot read file: {exc.strerror or exc}"
            continue
        for settings, group in groups.items():
            missing = []
            for feature in group:
                key = cache.key(
                    identity,
                    feature.name,
                    feature.version,
                    feature.extraction_params(),
                    settings.key(),
                )
                keys[(index, feature.name, settings)] = key
                hit = cache.get(feature.name, key)
                if hit is None:
                    missing.append(feature)
                else:
                    values[(index, feature.name, settings)] = hit
            if missing:
                tasks.append(_Task(index, str(clip.audio), settings, tuple(missing)))

    for index, settings, result in _run_tasks(tasks, n_jobs, progress):
        if isinstance(result, str):
            reasons.setdefault(index, result)
            continue
        for name, value in result.items():
            values[(index, name, settings)] = value
            cache.put(name, keys[(index, name, settings)], value)
    return values, reasons


def _run_tasks(tasks: list[_Task], n_jobs: int | str, progress: bool) -> Any:
    """Yield (clip index, settings, {feature: array} or a skip reason), in task order."""
    workers = _workers(n_jobs, len(tasks))
    bar = _progress(len(tasks), progress and bool(tasks))
    try:
        if workers == 1:
            results = (_work(task) for task in tasks)
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=workers, return_as="generator", batch_size="auto")(
                delayed(_work)(task) for task in tasks
            )
        for task, result in zip(tasks, results, strict=True):
            bar.update(1)
            yield task.index, task.settings, result
    finally:
        bar.close()


def _workers(n_jobs: int | str, n_tasks: int) -> int:
    if n_jobs == "auto":
        # worker start-up (importing librosa) costs seconds: only worth it with enough clips
        return 1 if n_tasks < 24 else max(1, min(os.cpu_count() or 1, 8))
    return max(1, min(int(n_jobs), n_tasks or 1))


def _work(task: _Task) -> dict[str, np.ndarray] | str:
    try:
        y = decode(task.path, task.settings)
    except AudioError as exc:
        return str(exc)
    analysis = AudioAnalysis(y, task.settings.sample_rate)
    out = {}
    for feature in task.features:
        try:
            value = np.asarray(feature.extract(analysis), dtype=np.float32)
        except Exception as exc:
            return f"feature {feature.name} failed: {type(exc).__name__}: {exc}"
        if not np.all(np.isfinite(value)):
            return f"feature {feature.name} is not finite for this clip"
        out[feature.name] = value
    return out


def _stack_audio(
    feature: FeatureExtractor,
    settings: AudioSettings,
    values: dict[tuple[int, str, AudioSettings], np.ndarray],
    keep: list[int],
) -> FeatureBlock:
    """One row per kept clip. Rows are missing (zeros, mask False) only for clips without audio,
    which happens for the reference feature of a run that uses no audio feature itself."""
    rows = [values.get((i, feature.name, settings)) for i in keep]
    present = [r for r in rows if r is not None]
    expected_ndim = 1 if feature.output == "vector" else 2
    shapes = {r.shape for r in present}
    if len(shapes) > 1 or (present and present[0].ndim != expected_ndim):
        raise PluginError(
            f"feature '{feature.name}' returned arrays of shapes {sorted(shapes)[:3]}; a "
            f"{feature.output} feature must return one {expected_ndim}-D shape for every clip"
        )
    if not present:
        raise DataError(f"feature '{feature.name}' could not be computed for any clip")
    mask = np.array([r is not None for r in rows], dtype=bool)
    stacked = np.zeros((len(rows), *present[0].shape), dtype=np.float32)
    stacked[mask] = np.stack(present)
    return FeatureBlock(feature.name, "audio", feature.output, stacked, mask)


# -- lyrics --------------------------------------------------------------------------------
def _lyrics_block(feature: FeatureExtractor, dataset: Dataset) -> FeatureBlock:
    assert isinstance(feature, LyricsFeature)
    mask = np.array([c.lyrics is not None for c in dataset.clips], dtype=bool)
    if not mask.any():
        raise DataError(
            f"feature '{feature.name}' needs lyrics, and none of the {len(mask)} clips has any",
            "drop it from --features, or point the source at the lyrics (--set folder.lyrics=PATH)",
        )
    texts = [c.lyrics for c in dataset.clips if c.lyrics is not None]
    present = np.asarray(feature.fit_transform(texts), dtype=np.float32)
    if present.ndim != 2 or len(present) != len(texts):
        raise PluginError(
            f"feature '{feature.name}' returned shape {present.shape} for {len(texts)} texts; "
            "expected (n_texts, d)"
        )
    values = np.zeros((len(mask), present.shape[1]), dtype=np.float32)
    values[mask] = present
    return FeatureBlock(feature.name, "lyrics", "vector", values, mask)


def extract_audio_rows(
    paths: list[str | None],
    features: list[AudioFeature],
    settings: AudioSettings,
) -> tuple[dict[str, list[np.ndarray | None]], list[str]]:
    """Uncached extraction for prediction: per feature a row (or None) per path, and reasons."""
    rows: dict[str, list[np.ndarray | None]] = {f.name: [] for f in features}
    reasons: list[str] = []
    for path in paths:
        result = (
            "no audio file" if path is None else _work(_Task(0, path, settings, tuple(features)))
        )
        reasons.append(result if isinstance(result, str) else "")
        for feature in features:
            rows[feature.name].append(None if isinstance(result, str) else result[feature.name])
    return rows, reasons


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc="audio features", unit="clip", disable=not enabled or None, leave=False
    )
