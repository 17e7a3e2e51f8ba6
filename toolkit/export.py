"""``musiclust features``: extracted (and cached) feature blocks to files numpy and pandas read.

    <out>.npz          one array per feature (rows x d, or rows x F x T for 2-D features), and
                       per feature ``<name>.mask`` (row present) and, for windows,
                       ``<name>.clip`` (the row's clip, an index into the CSV)
    <out>.csv          one row per clip: index, id, audio, lyrics present, label columns,
                       and per feature whether the clip has it
    <out>.skipped.csv  files left out, and why

No model is fitted and no MLflow run is started.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.errors import SpecError
from musiclust.registry import Registry


@dataclass
class Exported:
    arrays: Path
    index: Path
    skipped: Path
    n_clips: int
    n_skipped: int
    shapes: dict[str, tuple[int, ...]]
    notes: list[str] = field(default_factory=list)


def export_features(
    registry: Registry,
    out: str | Path,
    *,
    data: str | None,
    source: str | None,
    features: str,
    sets: list[str],
    config: str | None = None,
    progress: bool = True,
) -> Exported:
    from musiclust.adapt import load
    from musiclust.audio import AudioSettings
    from musiclust.cache import FeatureCache
    from musiclust.extraction import extract
    from musiclust.segments import Framing
    from musiclust.spec import build_spec, instantiate

    out = Path(out).expanduser()
    if out.suffix.lower() != ".npz":
        out = out.with_name(out.name + ".npz") if out.suffix == "" else out.with_suffix(".npz")
    if not out.parent.is_dir():
        raise SpecError(f"--out {out}: the folder {out.parent} does not exist")
    # pca takes every kind of feature block, so any feature list resolves
    auto = not any(s.startswith("segments.length=") for s in sets)  # chosen for the user?
    spec = build_spec(
        registry,
        data=data,
        source=source,
        features=features,
        encoder="pca",
        sets=sets,
        config=config,
        reports=[],
    )
    _, dataset, _ = load(spec, registry)
    components = [instantiate(registry, "feature", p, spec.seed) for p in spec.features]
    extraction = extract(
        dataset,
        components,
        AudioSettings.from_params(spec.audio),
        framing=Framing.from_params(spec.segments),
        cache=FeatureCache(),
        n_jobs=spec.audio["n_jobs"],
        scheduler=spec.audio["scheduler"],
        progress=progress,
    )
    clips = extraction.dataset.clips
    arrays: dict[str, np.ndarray] = {"id": np.array([c.id for c in clips])}
    labels = extraction.dataset.label_columns
    index: dict[str, list[Any]] = {
        "index": list(range(len(clips))),
        "id": [c.id for c in clips],
        "audio": [None if c.audio is None else str(c.audio) for c in clips],
        "has_lyrics": [c.lyrics is not None for c in clips],
        **{column: [c.labels.get(column) for c in clips] for column in labels},
    }
    shapes = {}
    for name, block in extraction.blocks.items():
        arrays[name] = block.values
        arrays[f"{name}.mask"] = block.mask
        shapes[name] = tuple(block.values.shape)
        if block.groups is not None:
            arrays[f"{name}.clip"] = block.groups
            present = np.zeros(len(clips), bool)
            present[block.groups[block.mask]] = True
        else:
            present = block.mask
        index[f"has_{name}"] = [bool(p) for p in present]
    np.savez_compressed(out, **arrays)
    # the csv module, not pandas: importing pandas would be a tenth of a 100-clip command
    index_path = out.with_suffix(".csv")
    _write_csv(index_path, list(index), zip(*index.values()))
    skipped = dataset.skipped + extraction.skipped
    skipped_path = out.with_name(out.stem + ".skipped.csv")
    _write_csv(skipped_path, ["id", "path", "reason"], ((s.id, s.path, s.reason) for s in skipped))
    notes = list(spec.notes)
    framing = Framing.from_params(spec.segments)
    if framing.length is not None:  # every feature is cut, not only the 2-D one that asked
        notes.append(
            f"every feature is taken over {framing.length:.3g} s windows"
            f"{' (segments.length=auto: the 2-D features length)' if auto else ''}: rows are "
            "windows, <name>.clip in the .npz gives each one's clip; "
            "--set segments.length=none for one row per clip"
        )
    return Exported(out, index_path, skipped_path, len(clips), len(skipped), shapes, notes)


def _write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """A CSV as pandas writes one: None as an empty field, booleans as True/False."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
