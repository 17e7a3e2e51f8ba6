"""Feature extraction over a data set: cached, parallel, and robust to bad files.

Audio: each clip is decoded once per (decoding settings, framing) and every audio feature of
the run (and the reference feature) comes from one shared :class:`AudioAnalysis` per clip or
window. Results are cached per clip and feature; only cache misses reach the worker processes,
which are forked (they inherit the imported libraries: no start-up cost) and receive file paths,
never audio, so memory stays flat in the number of clips. A clip whose audio cannot be used is
skipped with its reason; a feature that raises a ``MusiclustError`` (a SpecError naming a bad
setting, say) stops the extraction instead: the problem is its configuration, not the clip.

Lyrics: corpus features (TF-IDF) are fitted on the clips that have lyrics; per-text features
(embeddings) are cached per text. Rows without lyrics are zeros with ``mask`` False, so later
steps know they are missing rather than a real vector.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musiclust.analysis import AudioAnalysis, segment_bounds
from musiclust.audio import AudioError, AudioSettings, decode
from musiclust.cache import FeatureCache, digest, file_identity
from musiclust.components import AudioFeature, FeatureExtractor, LyricsFeature
from musiclust.data import Dataset, Skip
from musiclust.errors import DataError, MusiclustError, PluginError
from musiclust.reference import space
from musiclust.scale import scratch_array
from musiclust.segments import Framing, mean_by_group

log = logging.getLogger("musiclust")


@dataclass
class FeatureBlock:
    """One feature for the kept clips: ``values`` (rows x d, or rows x F x T) and the rows
    present. Rows are clips, or windows of clips when ``groups`` (row -> clip index) is set."""

    name: str
    modality: str
    output: str
    values: np.ndarray
    mask: np.ndarray
    groups: np.ndarray | None = None


@dataclass
class Extraction:
    """The kept clips' features, the reference blocks (one row per clip), what was skipped."""

    dataset: Dataset
    blocks: dict[str, FeatureBlock]
    references: dict[str, FeatureBlock] = field(default_factory=dict)
    skipped: list[Skip] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)

    def reference_space(self) -> np.ndarray | None:
        """The reference blocks as one space (:func:`musiclust.reference.space`), or None."""
        if not self.references:
            return None
        return space([(b.values, b.mask) for b in self.references.values()])


@dataclass(frozen=True)
class _Task:
    index: int
    path: str
    settings: AudioSettings
    framing: Framing
    features: tuple[AudioFeature, ...]


def extract(
    dataset: Dataset,
    features: list[FeatureExtractor],
    settings: AudioSettings,
    *,
    framing: Framing | None = None,
    references: list[FeatureExtractor] | tuple[FeatureExtractor, ...] = (),
    cache: FeatureCache | None = None,
    n_jobs: int | str = "auto",
    progress: bool = True,
    scheduler: str | None = None,
) -> Extraction:
    """Compute ``features`` (and the per-clip ``references``) for ``dataset``'s clips: in
    ``n_jobs`` local processes, or on the Dask cluster ``scheduler`` names."""
    cache = cache or FeatureCache()
    started = time.perf_counter()
    framing = framing or Framing()
    plan: list[tuple[FeatureExtractor, AudioSettings, Framing]] = [
        (f, settings, framing) for f in features
    ]
    references = list(references)
    for i, reference in enumerate(references):
        # audio references are taken over their texture windows, then averaged per clip
        window = reference.texture_window if isinstance(reference, AudioFeature) else None
        texture = Framing(window) if window else Framing()
        in_run = any(reference is f for f in features)
        shared = settings == AudioSettings() and framing == texture
        if in_run and isinstance(reference, AudioFeature) and not shared:
            reference = references[i] = type(reference)(**reference.get_params())  # a twin
            in_run = False
        if not in_run:
            plan.append((reference, AudioSettings(), texture))

    needs_audio = any(isinstance(f, AudioFeature) for f in features)
    audio_plan = [p for p in plan if isinstance(p[0], AudioFeature)]
    values, reasons = _extract_audio(
        dataset, audio_plan, needs_audio, cache, n_jobs, progress, scheduler
    )

    keep = [i for i in range(len(dataset.clips)) if i not in reasons]
    skipped = [
        Skip(dataset.clips[i].id, str(dataset.clips[i].audio or ""), reason)
        for i, reason in sorted(reasons.items())
    ]
    if not keep:
        shown = "; ".join(f"{s.id}: {s.reason}" for s in skipped[:3])
        failing = {s.reason.split(":", 1)[0] for s in skipped}
        if len(failing) == 1 and next(iter(failing)).startswith("feature "):
            # the same feature failed on every clip: the plugin, not the data
            name = next(iter(failing))[len("feature ") :].replace(" failed", "")
            raise PluginError(
                f"feature '{name}' failed on all {len(dataset.clips)} clips ({shown})",
                "the clips decoded; the feature plugin raised on each",
            )
        raise DataError(
            f"no usable clips: all {len(dataset.clips)} were skipped ({shown})",
            "see the reasons above; check the data path and the audio settings",
        )
    kept = dataset.subset(keep)
    kept.skipped.extend(skipped)

    blocks: dict[str, FeatureBlock] = {}
    reference_blocks: dict[str, FeatureBlock] = {}
    # how many entries of the plan stack each (feature, settings, framing): a reference twin
    # may share a run feature's values, which are freed only by the last entry that reads them
    uses = Counter((f.name, s, fr) for f, s, fr in audio_plan)
    for feature, feature_settings, feature_framing in plan:
        if isinstance(feature, AudioFeature):
            uses[(feature.name, feature_settings, feature_framing)] -= 1
            last = uses[(feature.name, feature_settings, feature_framing)] == 0
            group = (feature_settings, feature_framing)
            block = _stack_audio(feature, group, values, keep, free=last)
        else:
            block = _lyrics_block(feature, kept, cache)
        if any(feature is r for r in references):
            reference_blocks[feature.name] = _per_clip(block, len(keep))
        if any(feature is f for f in features):
            blocks[feature.name] = block
    reference_blocks = {r.name: reference_blocks[r.name] for r in references}  # their order
    stats = {
        "cache_hits": float(cache.hits),
        "cache_misses": float(cache.misses),
        "cache_dropped": float(cache.dropped),
        "extract_seconds": time.perf_counter() - started,
    }
    return Extraction(kept, blocks, reference_blocks, skipped, stats)


def _per_clip(block: FeatureBlock, n: int) -> FeatureBlock:
    """A windowed block as one row per clip: the mean of its windows."""
    if block.groups is None:
        return block
    values = mean_by_group(block.values, block.groups, n).astype(np.float32)
    mask = np.bincount(block.groups[block.mask], minlength=n) > 0
    return FeatureBlock(block.name, block.modality, block.output, values, mask)


# -- audio ---------------------------------------------------------------------------------
_Key = tuple[int, str, AudioSettings, Framing]


def _extract_audio(
    dataset: Dataset,
    plan: list[tuple[FeatureExtractor, AudioSettings, Framing]],
    needs_audio: bool,
    cache: FeatureCache,
    n_jobs: int | str,
    progress: bool,
    scheduler: str | None = None,
) -> tuple[dict[_Key, np.ndarray], dict[int, str]]:
    values: dict[_Key, np.ndarray] = {}
    reasons: dict[int, str] = {}
    if not plan:
        return values, reasons
    groups: dict[tuple[AudioSettings, Framing], list[AudioFeature]] = {}
    for feature, settings, framing in plan:
        groups.setdefault((settings, framing), []).append(feature)  # type: ignore[arg-type]

    prefixes = {
        (f.name, settings, framing): cache.prefix(
            f.name, f.version, f.extraction_params(), {**settings.key(), **framing.key()}
        )
        for (settings, framing), group in groups.items()
        for f in group
    }
    tasks: list[_Task] = []
    keys: dict[_Key, str] = {}
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
        for (settings, framing), group in groups.items():
            missing = []
            for feature in group:
                slot = (index, feature.name, settings, framing)
                keys[slot] = cache.key(prefixes[(feature.name, settings, framing)], identity)
                hit = cache.get(feature.name, keys[slot])
                if hit is None:
                    missing.append(feature)
                else:
                    values[slot] = hit
            if missing:
                tasks.append(_Task(index, str(clip.audio), settings, framing, tuple(missing)))

    for task, result in _run_tasks(tasks, n_jobs, progress, scheduler):
        if isinstance(result, str):
            reasons.setdefault(task.index, result)
            continue
        for name, value in result.items():
            slot = (task.index, name, task.settings, task.framing)
            values[slot] = value
            cache.put(name, keys[slot], value)
    return values, reasons


def _run_tasks(
    tasks: list[_Task], n_jobs: int | str, progress: bool, scheduler: str | None = None
) -> Iterator[tuple[_Task, Any]]:
    """Yield (task, {feature: array} or a skip reason): in task order here, as they finish
    on a Dask cluster when ``scheduler`` names one."""
    if scheduler and tasks:
        from musiclust.distributed import run_on_dask

        bar = _progress(len(tasks), progress)
        try:
            yield from run_on_dask(tasks, scheduler, _work, bar, setup=_one_thread)
        finally:
            bar.close()
        return
    workers = _workers(n_jobs, len(tasks))
    executor: Executor | None = None
    if workers > 1:
        executor = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_one_thread)
    bar = _progress(len(tasks), progress and bool(tasks))
    try:
        if executor is None:
            results: Iterator[Any] = map(_work_one_thread, tasks)
        else:
            results = executor.map(_work, tasks, chunksize=max(1, len(tasks) // (workers * 8)))
        for task, result in zip(tasks, results, strict=True):
            bar.update(1)
            yield task, result
    finally:
        bar.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def _context() -> Any:
    """Fork where the platform has it: workers inherit librosa and friends, already imported
    (spawned workers would spend seconds importing them again)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _one_thread() -> None:
    """Workers are the parallelism: BLAS/OpenMP pools of their own would oversubscribe the
    cores (measured: 39 ms/clip with them, 17 ms without, 2 workers on 2 cores; musicnn's
    torch: 106 ms/clip with its default pool, 39 ms with one thread). One thread everywhere
    also makes values bit-identical whatever n_jobs is."""
    import os
    import sys

    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    if "torch" in sys.modules:  # torch sizes its own pool at first use
        sys.modules["torch"].set_num_threads(1)
    else:  # imported later in this worker (musicnn, audio_model): it reads these
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"


def _workers(n_jobs: int | str, n_tasks: int) -> int:
    if n_jobs == "auto":
        return 1 if n_tasks < 8 else max(1, min(os.cpu_count() or 1, 8))
    return max(1, min(int(n_jobs), n_tasks or 1))


def _work_one_thread(task: _Task) -> dict[str, np.ndarray] | str:
    """In-process work with the workers' thread settings: values do not depend on n_jobs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _work(task)


def _work(task: _Task) -> dict[str, np.ndarray] | str:
    return analyse_file(task.path, task.settings, task.framing, task.features)


def analyse_file(
    path: str, settings: AudioSettings, framing: Framing, features: tuple[AudioFeature, ...]
) -> dict[str, np.ndarray] | str:
    """Every feature of one file (stacked per window when framing has a length), or the reason
    the file cannot be used."""
    try:
        y = decode(path, settings)
    except AudioError as exc:
        return str(exc)
    n = y.shape[-1]
    if framing.length is None:
        windows = [y]
    else:
        bounds = segment_bounds(n, settings.sample_rate, framing.length, framing.hop)
        windows = [y[..., a:b] for a, b in bounds]
    rows: dict[str, list[np.ndarray]] = {f.name: [] for f in features}
    for window in windows:
        channels = [window] if window.ndim == 1 else list(window)  # mono=False: left, right
        analyses = [AudioAnalysis(c, settings.sample_rate) for c in channels]
        for feature in features:
            try:
                parts = [np.asarray(feature.extract(a), dtype=np.float32) for a in analyses]
            except MusiclustError:
                raise  # the feature's configuration, not this clip: the run stops, in one line
            except Exception as exc:
                return f"feature {feature.name} failed: {type(exc).__name__}: {exc}"
            value = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
            if not np.all(np.isfinite(value)):
                return f"feature {feature.name} is not finite for this clip"
            rows[feature.name].append(value)
    if framing.length is None:
        return {name: r[0] for name, r in rows.items()}
    return {name: np.stack(r) for name, r in rows.items()}


def _stack_audio(
    feature: FeatureExtractor,
    group: tuple[AudioSettings, Framing],
    values: dict[_Key, np.ndarray],
    keep: list[int],
    free: bool,
) -> FeatureBlock:
    settings, framing = group
    # with ``free``, taken out of ``values`` as stacked: a block and every clip's copy of it
    # were twice a large block in memory (the block itself may be a memory-mapped scratch file)
    take = values.pop if free else values.get
    per_clip = [take((i, feature.name, settings, framing), None) for i in keep]
    return stack_rows(feature, per_clip, framed=framing.length is not None)


def stack_rows(
    feature: FeatureExtractor, per_clip: list[np.ndarray | None], framed: bool
) -> FeatureBlock:
    """A block from one value per clip (windows x ... when framed). A clip without a value
    (the reference of a run without audio features, for a clip without audio) gets one row
    of zeros with mask False."""
    present = [v for v in per_clip if v is not None]
    if not present:
        raise DataError(f"feature '{feature.name}' could not be computed for any clip")
    item_ndim = (1 if feature.output == "vector" else 2) + framed
    shapes = {v.shape[framed:] for v in present}
    if len(shapes) > 1 or present[0].ndim != item_ndim:
        raise PluginError(
            f"feature '{feature.name}' returned arrays of shapes {sorted(shapes)[:3]}; a "
            f"{feature.output} feature must return one "
            f"{item_ndim - framed}-D shape for every clip"
        )
    counts = [len(v) if framed and v is not None else 1 for v in per_clip]
    stacked = scratch_array((sum(counts), *present[0].shape[framed:]), np.float32)
    mask = np.zeros(sum(counts), dtype=bool)
    start = 0
    for value, count in zip(per_clip, counts):
        if value is not None:
            stacked[start : start + count] = value
            mask[start : start + count] = True
        start += count
    groups = np.repeat(np.arange(len(per_clip)), counts) if framed else None
    return FeatureBlock(feature.name, "audio", feature.output, stacked, mask, groups)


# -- lyrics --------------------------------------------------------------------------------
def _lyrics_block(feature: FeatureExtractor, dataset: Dataset, cache: FeatureCache) -> FeatureBlock:
    assert isinstance(feature, LyricsFeature)
    mask = np.array([c.lyrics is not None for c in dataset.clips], dtype=bool)
    if not mask.any():
        raise DataError(
            f"feature '{feature.name}' needs lyrics, and none of the {len(mask)} clips has any",
            "drop it from --features, or point the source at the lyrics (--set folder.lyrics=PATH)",
        )
    texts = [c.lyrics for c in dataset.clips if c.lyrics is not None]
    if feature.corpus_fit:
        present = np.asarray(feature.fit_transform(texts), dtype=np.float32)
    else:
        present = _cached_texts(feature, texts, cache)
    if present.ndim != 2 or len(present) != len(texts):
        raise PluginError(
            f"feature '{feature.name}' returned shape {present.shape} for {len(texts)} texts; "
            "expected (n_texts, d)"
        )
    values = np.zeros((len(mask), present.shape[1]), dtype=np.float32)
    values[mask] = present
    return FeatureBlock(feature.name, "lyrics", "vector", values, mask)


def _cached_texts(feature: LyricsFeature, texts: list[str], cache: FeatureCache) -> np.ndarray:
    """Rows of a per-text feature, computing only the texts not cached yet."""
    prefix = cache.prefix(feature.name, feature.version, feature.extraction_params(), {})
    keys = [cache.key(prefix, digest(text)) for text in texts]
    rows: list[np.ndarray | None] = [cache.get(feature.name, k) for k in keys]
    todo = [i for i, r in enumerate(rows) if r is None]
    if todo:
        computed = np.asarray(feature.fit([]).transform([texts[i] for i in todo]), np.float32)
        for i, row in zip(todo, computed):
            rows[i] = row
            cache.put(feature.name, keys[i], row)
    return np.stack(rows)  # type: ignore[arg-type]


def extract_audio_rows(
    paths: list[str | None],
    features: list[AudioFeature],
    settings: AudioSettings,
    framing: Framing,
) -> tuple[dict[str, list[np.ndarray | None]], list[str]]:
    """Uncached extraction for prediction: per feature a value (or None) per path, and reasons."""
    values: dict[str, list[np.ndarray | None]] = {f.name: [] for f in features}
    reasons: list[str] = []
    for path in paths:
        result = (
            "no audio file"
            if path is None
            else analyse_file(path, settings, framing, tuple(features))
        )
        reasons.append(result if isinstance(result, str) else "")
        for feature in features:
            values[feature.name].append(None if isinstance(result, str) else result[feature.name])
    return values, reasons


def _progress(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc="audio features", unit="clip", disable=not enabled or None, leave=False
    )
