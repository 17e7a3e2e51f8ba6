"""The data a run reads, and a resolved spec fitted to it: default features the data cannot
feed are swapped for an alternative or dropped (explicit ones fail in one line), the encoder's
needs are checked, and ``reference.features=auto`` becomes concrete."""

from __future__ import annotations

from typing import Any

from musiclust import reference
from musiclust.components import Source
from musiclust.data import Dataset
from musiclust.errors import DataError
from musiclust.registry import Registry
from musiclust.spec import Part, Spec, _resolve_params, instantiate


def adapt_to_data(spec: Spec, registry: Registry, has_audio: bool, has_lyrics: bool) -> list[str]:
    """Drop default features the data cannot feed; fail on explicit ones. Returns notes."""
    notes = []
    kept = []

    def feeds(cls: Any) -> bool:
        return has_audio if cls.modality == "audio" else has_lyrics

    for part in spec.features:
        modality = part.cls.modality
        if feeds(part.cls):
            kept.append(part)
            continue
        names = spec.alternatives.get(part.name, []) if spec.default_features else []
        cls = next((c for n in names if feeds(c := registry.get("feature", n).cls)), None)
        if cls is not None:
            other = cls.name
            params = _resolve_params(other, cls.declared_params(), spec.standby.get(other, {}))
            kept.append(Part(other, params, cls))
            notes.append(
                f"default feature '{other}' instead of '{part.name}': the data has no {modality}"
            )
        elif spec.default_features:
            notes.append(f"default feature '{part.name}' dropped: the data has no {modality}")
        else:
            raise DataError(
                f"feature '{part.name}' needs {modality}, and the data has none",
                "choose features for the data with --features",
            )
    if not kept:
        raise DataError(
            "none of the encoder's default features fits the data "
            f"({', '.join(p.name for p in spec.features)})",
            "choose features with --features",
        )
    spec.features = kept
    encoder = spec.encoder.cls
    outputs = {p.cls.output for p in kept}
    for kind in sorted(encoder.needs - outputs):
        what = {"matrix": "a 2-D feature (mfcc, mel, chroma, stack39 ...)"}.get(kind, kind)
        raise DataError(
            f"encoder '{spec.encoder.name}' needs {what}, and none of the run's features "
            f"({', '.join(p.name for p in kept)}) is one",
            "choose features with --features" if has_audio else "the data has no audio",
        )
    for name in sorted(set(spec.standby) - {p.name for p in kept}):
        notes.append(
            f"--set {name}.* not used: {name} stands in for a default feature only on data "
            "that needs it"
        )
    spec.reference["features"] = ",".join(
        reference.resolve(registry, spec.reference["features"], has_audio, has_lyrics)
    )
    return notes


def load_source(spec: Spec, registry: Registry) -> tuple[Source, Dataset]:
    """The spec's data source and its clips, nothing decoded: the first step of every command
    that reads data (run, search, ``features``, ``describe``, ``--dry-run``)."""
    source = instantiate(registry, "source", spec.source, spec.seed)
    assert isinstance(source, Source)
    return source, source.load()


def load(spec: Spec, registry: Registry) -> tuple[Source, Dataset, list[str]]:
    """The data source and its clips, the spec fitted to the data's modalities, and the notes
    that came of it (what a run, ``features`` and ``run --dry-run`` start from)."""
    source, dataset = load_source(spec, registry)
    notes = [*spec.notes, *dataset.notes]
    notes += adapt_to_data(spec, registry, dataset.has_audio, dataset.has_lyrics)
    return source, dataset, notes
