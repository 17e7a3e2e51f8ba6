"""Budgets that keep every stage near-linear in the number of clips.

Some steps are quadratic in the rows they see: a silhouette, a hierarchical tree, a dense
affinity. Beyond a fixed size they work on a seeded sample and say so in the run's notes:

- silhouettes (metrics, K selection, the search objective and its null) on a sample of
  :data:`SAMPLE_ROWS` rows, stratified by cluster (every cluster keeps its share, and at least
  two members);
- the objective's bootstrap re-fits draw from :data:`STABILITY_ROWS` clips;
- quadratic clusterers (agglomerative, spectral) fit ``fit_rows`` rows and give every other row
  the cluster of its nearest fitted row.

Below these sizes nothing changes: the 50-1,000-clip figures are computed on every row, as
before. A quadratic step asked to run on every row of a large collection is checked against
the machine's memory before it starts (:func:`check_quadratic`).

Large arrays (a 2-D feature block of many clips, its fused copy) are memory-mapped files in
the cache's scratch folder rather than memory (:func:`scratch_array`): the kernel pages them
in and out, so a block larger than the machine's memory still trains, batch by batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import weakref

import numpy as np

from musiclust.cache import cache_root
from musiclust.errors import SpecError

log = logging.getLogger("musiclust")

#: What plugins may use: the row budgets and sampled fits large collections need
#: (tests/test_structure.py holds plugins to these).
__all__ = [
    "FIT_ROWS",
    "SAMPLE_ROWS",
    "STABILITY_ROWS",
    "check_quadratic",
    "fit_sample",
    "nearest_rows",
    "scratch_array",
    "silhouette",
    "stratified_sample",
]

#: Silhouettes beyond this many rows are computed on a stratified sample of this size (on
#: 6,000 blob rows the sampled value was within 0.01 of the full one: tests/test_scale.py).
SAMPLE_ROWS = 5000
#: The objective's bootstrap re-fits draw their 80% subsamples from at most this many clips
#: (ten re-fits per candidate K: a Ward tree on 4,000 rows took 0.5 s, on 1,000 0.02 s).
STABILITY_ROWS = 2000
#: Default rows a quadratic clusterer fits on; the rest take their nearest fitted row's cluster.
FIT_ROWS = 5000
#: Arrays above this size are memory-mapped scratch files (:func:`scratch_array`). Below it
#: nothing changes: stack39 for 1,000 clips is 20 MB. For 100,000 clips it is 2 GB, and
#: extraction, fusion and a trained encoder each held their own copy in memory.
MEMMAP_BYTES = 256 * 2**20


def scratch_array(shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """A zero-filled array: in memory up to :data:`MEMMAP_BYTES`, beyond that a memory-mapped
    file in ``<cache>/scratch``, removed from the folder at once (the mapping keeps it: the disk
    space returns when the array is freed, even if the process is killed). Where the folder
    cannot be written or lacks the room, the array stays in memory and a warning says so."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes <= MEMMAP_BYTES:
        return np.zeros(shape, dtype=dtype)
    folder = cache_root() / "scratch"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, suffix=".npy")
    except OSError as exc:
        return _in_memory(shape, dtype, f"{folder} cannot be written ({exc.strerror or exc})")
    try:
        # the room is claimed now: a mapped page that finds the disk full later is a SIGBUS
        try:
            os.posix_fallocate(fd, 0, nbytes)
        except AttributeError:  # macOS, Windows: a sparse file of the size
            os.ftruncate(fd, nbytes)
    except OSError as exc:
        os.close(fd)
        _remove(name)
        return _in_memory(shape, dtype, f"{folder} has no room ({exc.strerror or exc})")
    os.close(fd)
    mapped = np.memmap(name, dtype=dtype, mode="r+", shape=shape)  # claimed space reads as 0
    array = mapped.view(np.ndarray)  # the mapping stays alive as the view's base
    try:
        os.unlink(name)
    except OSError:  # Windows keeps an open file: remove it once the array is gone
        weakref.finalize(array, _remove, name)
    return array


def _in_memory(shape: tuple[int, ...], dtype: type, why: str) -> np.ndarray:
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize / 2**30
    log.warning("scratch files: %s; keeping a %.1f GiB array in memory", why, size)
    return np.zeros(shape, dtype=dtype)


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def stratified_sample(labels: np.ndarray, size: int, seed: int | None) -> np.ndarray:
    """Sorted indices of at most ``size`` rows; each label keeps its share (at least 2)."""
    n = len(labels)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    values, counts = np.unique(labels, return_counts=True)
    quota = np.maximum(np.minimum(counts, 2), np.floor(counts * size / n).astype(int))
    picked = [
        rng.choice(np.flatnonzero(labels == value), q, replace=False)
        for value, q in zip(values, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked))


def silhouette(
    X: np.ndarray, labels: np.ndarray, seed: int | None, size: int = SAMPLE_ROWS
) -> float:
    """Mean silhouette, on a stratified sample of ``size`` rows when there are more."""
    from sklearn.metrics import silhouette_score

    rows = stratified_sample(labels, size, seed)
    return float(silhouette_score(X[rows], labels[rows]))


def fit_sample(n: int, fit_rows: int, seed: int | None) -> np.ndarray | None:
    """Sorted indices of the rows a quadratic clusterer fits (None: all of them)."""
    if fit_rows <= 0 or n <= fit_rows:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, fit_rows, replace=False))


def nearest_rows(points: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """For each row of ``Z``, the index of its nearest row of ``points`` (Euclidean)."""
    from sklearn.metrics import pairwise_distances_argmin

    return pairwise_distances_argmin(Z, points)


def quadratic_bytes(n: int) -> int:
    """Memory a condensed n x n float64 distance matrix takes (a tree's or a silhouette's)."""
    return 8 * n * (n - 1) // 2


def available_bytes() -> int | None:
    """Memory this process could still take (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_quadratic(what: str, n: int, factor: float, alternative: str) -> None:
    """Refuse, before any work, a step that needs ``factor`` n x n matrices this machine
    cannot hold (an out-of-memory kill loses the run and says nothing)."""
    need = int(factor * quadratic_bytes(n))
    free = available_bytes()
    if free is not None and need > 0.8 * free:
        raise SpecError(
            f"{what} on {n:,} rows needs about {need / 2**30:.1f} GiB for its n x n distances; "
            f"this machine has {free / 2**30:.1f} GiB free",
            alternative,
        )


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (0 where unknown)."""
    try:
        import resource
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if os.uname().sysname != "Darwin" else peak / 2**20
