"""The run specification: which plugins, with which parameters, fully resolved before any work.

A spec is a plain mapping (YAML on disk)::

    source:    {name: folder, params: {path: ..., lyrics: ...}}
    features:  [{name: mfcc_stats, params: {...}}, {name: tfidf, params: {...}}]
    encoder:   {name: pca, params: {n_components: 16, ...}}
    clusterer: {name: kmeans, params: {n_clusters: auto, ...}}
    metrics:   [{name: internal, params: {}}, ...]
    reports:   [{name: pca_scatter, params: {}}, ...]
    audio:     {sample_rate: 22050, ...}
    segments:  {length: auto, ...}
    reference: {features: auto}
    fusion:    {balance: auto}
    seed:      0

It is built from defaults, then a ``--config`` file, then command-line options, then ``--set
plugin.param=value`` assignments; every default is filled in and every value checked against
the plugin's declaration, so a typo fails in one line before anything is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from musiclust import defaults, reference
from musiclust.analysis import HOP
from musiclust.audio import AUDIO_PARAMS
from musiclust.cache import digest
from musiclust.components import Component, Encoder, FeatureExtractor, Source
from musiclust.errors import DataError, SpecError, did_you_mean
from musiclust.fusion import FUSION_PARAMS
from musiclust.params import Param
from musiclust.registry import Registry
from musiclust.segments import SEGMENT_PARAMS
from musiclust.specfile import SECTIONS, load_config

#: Settings sections that take ``--set section.param=value`` like plugins do.
SETTINGS: dict[str, tuple[Param, ...]] = {
    "audio": AUDIO_PARAMS,
    "segments": SEGMENT_PARAMS,
    "reference": reference.REFERENCE_PARAMS,
    "fusion": FUSION_PARAMS,
}
assert tuple(SETTINGS) == SECTIONS  # specfile reads spec files knowing only their names
#: Spec entries that do not change results (left out of the hash).
UNHASHED = {("audio", "n_jobs"), ("audio", "scheduler")}


@dataclass
class Part:
    """One plugin of a spec: its name and its resolved parameters; once resolved, also its
    class, so nothing downstream looks the name up in the registry again."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    cls: Any = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}


@dataclass
class Spec:
    source: Part
    features: list[Part]
    encoder: Part
    clusterer: Part
    metrics: list[Part]
    reports: list[Part]
    audio: dict[str, Any]
    segments: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    fusion: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    #: True when the features came from the encoder's defaults (they may adapt to the data).
    default_features: bool = False
    #: For a default feature chosen among alternatives, the ones after it, in order, and the
    #: ``--set`` parameters given for those (used if the data calls one in).
    alternatives: dict[str, list[str]] = field(default_factory=dict)
    standby: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: What resolving decided that a user should know (logged with the run, not hashed).
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "features": [p.to_dict() for p in self.features],
            "encoder": self.encoder.to_dict(),
            "clusterer": self.clusterer.to_dict(),
            "metrics": [p.to_dict() for p in self.metrics],
            "reports": [p.to_dict() for p in self.reports],
            "audio": dict(self.audio),
            "segments": dict(self.segments),
            "reference": dict(self.reference),
            "fusion": dict(self.fusion),
            "seed": self.seed,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def hash(self) -> str:
        data = self.to_dict()
        for section, key in UNHASHED:
            data[section].pop(key, None)
        return digest(data)[:12]

    def parts(self) -> list[tuple[str, Part]]:
        """(family, part) for every plugin in the spec."""
        out = [("source", self.source)]
        out += [("feature", p) for p in self.features]
        out += [("encoder", self.encoder), ("clusterer", self.clusterer)]
        out += [("metric", p) for p in self.metrics] + [("report", p) for p in self.reports]
        return out

    def flat_params(self) -> dict[str, str]:
        """MLflow params, the same keys in every run: ``encoder.name``, ``encoder.n_components``,
        ``feature.names``, ``feature.tfidf.dims``, ``audio.sample_rate``, ``spec.seed``.

        None of them is a bare MLproject parameter name (``encoder``, ``seed``...): under
        ``mlflow run`` MLflow logs those itself, as typed, and params cannot change.
        """
        out: dict[str, str] = {"spec.seed": str(self.seed)}
        for family, part in (
            ("source", self.source),
            ("encoder", self.encoder),
            ("clusterer", self.clusterer),
        ):
            out[f"{family}.name"] = part.name
            out.update({f"{family}.{k}": _text(v) for k, v in part.params.items()})
        for family, parts in (
            ("feature", self.features),
            ("metric", self.metrics),
            ("report", self.reports),
        ):
            out[f"{family}.names"] = ",".join(p.name for p in parts)
            for part in parts:
                out.update({f"{family}.{part.name}.{k}": _text(v) for k, v in part.params.items()})
        for section in SETTINGS:
            out.update({f"{section}.{k}": _text(v) for k, v in getattr(self, section).items()})
        return out


def _text(value: Any) -> str:
    return "none" if value is None else str(value)


# -- building ------------------------------------------------------------------------------
def build_spec(
    registry: Registry,
    *,
    data: str | None = None,
    source: str | None = None,
    features: str | list[str] | None = None,
    encoder: str | None = None,
    clusterer: str | None = None,
    reports: str | list[str] | None = None,
    sets: tuple[str, ...] | list[str] = (),
    config: str | Path | dict[str, Any] | None = None,
    seed: int | None = None,
) -> Spec:
    """Resolve a spec from a config file (or its mapping), options and ``--set`` assignments;
    raise SpecError."""
    raw = load_config(config) if config else {}
    # a spec file's data path is relative to the file; otherwise to the current folder
    in_file = isinstance(config, str | Path) and Path(config).is_file()
    base_dir = Path(config).resolve().parent if in_file else Path.cwd()
    if data is not None:
        raw["data"] = data
    elif raw.get("data") is not None:
        raw["data"] = str((base_dir / str(raw["data"])).resolve())
    for key, value in (("source", source), ("encoder", encoder), ("clusterer", clusterer)):
        if value is not None:
            raw[key] = _override(raw.get(key), value, key)
    if features is not None:
        raw["features"] = _split(features) if isinstance(features, str) else list(features)
    if reports is not None:
        raw["reports"] = _split(reports) if isinstance(reports, str) else list(reports)
    if seed is not None:
        raw["seed"] = seed

    source_part = _source_part(registry, raw)
    encoder_part = _part(raw.get("encoder") or defaults.ENCODER, "encoder")
    encoder_cls = registry.get("encoder", encoder_part.name).cls
    default_features = raw.get("features") in (None, [], "")
    alternatives: dict[str, list[str]] = {}
    default_notes: list[str] = []
    if default_features:
        assert issubclass(encoder_cls, Encoder)
        feature_parts = []
        for slot in encoder_cls.default_features:
            options = usable_alternatives(registry, slot, default_notes)
            if options:
                feature_parts.append(Part(options[0]))
                alternatives[options[0]] = options[1:]
    else:
        feature_parts = [_part(f, "features") for f in _as_list(raw["features"], "features")]
    spec = Spec(
        source=source_part,
        features=feature_parts,
        encoder=encoder_part,
        clusterer=_part(raw.get("clusterer") or defaults.CLUSTERER, "clusterer"),
        metrics=_parts_or_all(registry, raw.get("metrics"), "metric"),
        reports=_parts_or_all(registry, raw.get("reports"), "report"),
        audio=dict(raw.get("audio") or {}),
        segments=dict(raw.get("segments") or {}),
        reference=dict(raw.get("reference") or {}),
        fusion=dict(raw.get("fusion") or {}),
        seed=_seed(raw.get("seed", 0)),
        default_features=default_features,
        alternatives=alternatives,
    )
    apply_sets(spec, sets)
    given = _given_keys(spec)
    resolve(spec, registry)
    _apply_implied(spec, registry, given)
    spec.notes.extend(default_notes)
    return spec


def usable_alternatives(
    registry: Registry, slot: str | tuple[str, ...], notes: list[str] | None = None
) -> list[str]:
    """The names of a default-features entry that are installed and can run here, in order
    (a plain name is kept as it is: it fails later with its own message if it cannot run)."""
    if isinstance(slot, str):
        return [slot]
    out = []
    for name in slot:
        reason = registry.cannot_run("feature", name)
        if reason is None:
            out.append(name)
        elif notes is not None and not out and "not installed" not in reason:
            notes.append(f"default feature '{name}' cannot run here ({reason}): using the next")
    return out


def _given_keys(spec: Spec) -> set[str]:
    """``plugin.param`` / ``section.param`` keys set by a config file, ``--set`` or options."""
    keys = {f"{part.name}.{k}" for _, part in spec.parts() for k in part.params}
    return keys | {f"{section}.{k}" for section in SETTINGS for k in getattr(spec, section)}


def _apply_implied(spec: Spec, registry: Registry, given: set[str]) -> None:
    """Settings the encoder's configuration implies (a preset), where the user gave none."""
    encoder = spec.encoder.cls(**spec.encoder.params)
    implied = {k: v for k, v in encoder.implied_settings().items() if k not in given}
    by_name = {part.name: part for _, part in spec.parts()}
    applied = []
    for key, value in implied.items():
        target, _, param = key.partition(".")
        if target in SETTINGS:
            getattr(spec, target)[param] = value
        elif target in by_name:
            by_name[target].params[param] = value
        else:
            continue  # a plugin that is not in this run
        applied.append(f"{key}={_text(value)}")
    if applied:
        resolve(spec, registry)
        spec.notes.append(
            f"{spec.encoder.name} settings implied by its configuration: {', '.join(applied)}"
        )


def _source_part(registry: Registry, raw: dict[str, Any]) -> Part:
    data = raw.get("data")
    if raw.get("source"):
        part = _part(raw["source"], "source")
    elif data:
        path = Path(data)
        if path.is_dir():
            part = Part(defaults.SOURCE_FOR_FOLDER)
        elif path.is_file() and path.suffix.lower() == ".csv":
            part = Part(defaults.SOURCE_FOR_CSV)
        elif not path.exists():
            raise DataError(f"no such file or folder: {data}")
        else:
            raise SpecError(
                f"--data {data}: a folder or a .csv file is expected",
                "or name the source with --source",
            )
    else:
        part = Part(defaults.SOURCE_WITHOUT_DATA)
    if data:
        cls = registry.get("source", part.name).cls
        assert issubclass(cls, Source)
        if not cls.takes_path:
            raise SpecError(f"source '{part.name}' takes no --data path")
        part.params["path"] = str(Path(data).expanduser().resolve())
    return part


def _override(current: Any, name: str, what: str) -> Part:
    """The plugin named on the command line, keeping the config's parameters if it is the same."""
    if current:
        part = _part(current, what)
        if part.name == name:
            return part
    return Part(name)


def _part(value: Any, what: str) -> Part:
    if isinstance(value, Part):
        return value
    if isinstance(value, str) and value:
        return Part(value.strip())
    if isinstance(value, dict):
        if "name" in value:
            params = value.get("params") or {}
            extra = set(value) - {"name", "params"}
            if extra or not isinstance(params, dict):
                raise SpecError(f"{what}: expected {{name: ..., params: {{...}}}}, got {value!r}")
            return Part(str(value["name"]), dict(params))
        if len(value) == 1:  # {pca: {n_components: 8}}
            ((name, params),) = value.items()
            return Part(str(name), dict(params or {}))
    raise SpecError(
        f"{what}: expected a plugin name or {{name: ..., params: {{...}}}}, got {value!r}"
    )


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        return _split(value)
    if isinstance(value, list):
        return value
    raise SpecError(f"{what}: expected a list or a comma-separated string, got {value!r}")


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _parts_or_all(registry: Registry, value: Any, family: str) -> list[Part]:
    if value is None:  # every installed one that runs by default
        infos = registry.infos(family)
        return [Part(i.name) for i in infos if getattr(i.cls, "default", True)]
    return [_part(v, family + "s") for v in _as_list(value, family + "s")]


def _seed(value: Any) -> int:
    if isinstance(value, bool):
        raise SpecError(f"seed: expected an integer, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise SpecError(f"seed: expected an integer, got {value!r}") from None


def set_items(sets: tuple[str, ...] | list[str]) -> list[str]:
    """``--set`` strings as single ``plugin.param=value`` items: several may share one string,
    space-separated (as the MLproject passes them); quote a value that holds spaces
    (``folder.lyrics='/my music/lyrics'``)."""
    import shlex

    items = []
    for text in sets:
        try:
            items += shlex.split(text)
        except ValueError as exc:
            raise SpecError(f"--set {text}: {exc} (close the quote)") from None
    return items


def apply_sets(spec: Spec, sets: tuple[str, ...] | list[str]) -> None:
    """Apply ``plugin.param=value`` assignments (see :func:`set_items`)."""
    by_name = {part.name: part for _, part in spec.parts()}
    standby = {n for names in spec.alternatives.values() for n in names} - set(by_name)
    for item in set_items(sets):
        key, sep, value = item.partition("=")
        target, dot, param = key.partition(".")
        if not sep or not dot or not target or not param:
            raise SpecError(f"--set {item}: expected plugin.param=value (as kmeans.n_clusters=10)")
        if target in SETTINGS:
            getattr(spec, target)[param] = _Raw(value)
        elif target in by_name:
            by_name[target].params[param] = _Raw(value)
        elif target in standby:  # a default feature's alternative: kept for adapt_to_data
            spec.standby.setdefault(target, {})[param] = _Raw(value)
        else:
            in_run = ", ".join(sorted(by_name))
            raise SpecError(
                f"--set {item}: '{target}' is not part of this run (plugins in it: {in_run}; "
                f"settings: {', '.join(SETTINGS)})",
                did_you_mean(target, [*by_name, *SETTINGS]),
            )


class _Raw(str):
    """A value typed on the command line: parsed with the declaration's own parser."""


def _check_value(owner: str, param: Param, value: Any) -> Any:
    try:
        return param.parse(value) if isinstance(value, _Raw) else param.validate(value)
    except ValueError as exc:
        raise SpecError(f"{owner}.{param.name}: {exc}") from None


def _resolve_params(owner: str, declared: dict[str, Param], given: dict[str, Any]) -> dict:
    for key in given:
        if key not in declared:
            raise SpecError(
                f"unknown parameter '{owner}.{key}'; {owner} takes: "
                + (", ".join(declared) or "no parameters"),
                did_you_mean(key, declared),
            )
    return {
        key: _check_value(owner, p, given[key]) if key in given else p.default
        for key, p in declared.items()
    }


def resolve(spec: Spec, registry: Registry) -> None:
    """Fill every default and check every name and value, in place."""
    spec.notes = []
    seen: set[str] = set()
    for family, part in spec.parts():
        cls = part.cls = registry.get(family, part.name).cls
        if family in ("feature", "metric", "report"):
            if part.name in seen:
                raise SpecError(f"{family} '{part.name}' is listed twice")
            seen.add(part.name)
        part.params = _resolve_params(part.name, cls.declared_params(), part.params)
        cls(**part.params).check()  # cross-parameter and path checks, still before any work
    for name, given in spec.standby.items():
        cls = registry.get("feature", name).cls
        spec.standby[name] = _resolve_params(name, cls.declared_params(), given)
    for section, declared in SETTINGS.items():
        params = _resolve_params(section, {p.name: p for p in declared}, getattr(spec, section))
        setattr(spec, section, params)
    reference.check(registry, spec.reference["features"])
    _check_compatible(spec, registry)
    _resolve_segments(spec, registry)


def _resolve_segments(spec: Spec, registry: Registry) -> None:
    """Turn ``segments.length: auto`` into a number (or none) and say what 2-D features keep."""
    padded = {}
    for part in spec.features:
        if part.cls.output == "matrix" and part.params.get("fit") == "pad":
            padded[part.name] = part.params["frames"]
    if len(set(padded.values())) > 1:
        shown = ", ".join(f"{k}.frames={v}" for k, v in padded.items())
        raise SpecError(f"2-D features must share one number of frames ({shown})")
    rate = spec.audio["sample_rate"]
    frames = next(iter(padded.values()), None)
    if spec.segments["length"] == "auto":
        spec.segments["length"] = None if frames is None else round((frames - 1) * HOP / rate, 4)
    length = spec.segments["length"]
    if frames is not None:
        window = f"{(frames - 1) * HOP / rate:.2f} s"
        what = f"2-D features ({', '.join(padded)})"
        if length is None:
            spec.notes.append(
                f"{what} keep only the first {window} of each clip (segments.length is none); "
                "set segments.length=auto or fit=resize to cover whole clips"
            )
        elif 1 + round(length * rate) // HOP > frames:
            spec.notes.append(
                f"{what} keep only the first {window} of each {length:g} s window; "
                "set segments.length=auto to cover whole clips"
            )


def _check_compatible(spec: Spec, registry: Registry) -> None:
    encoder = spec.encoder.cls
    assert issubclass(encoder, Encoder)
    for part in spec.features:
        feature = part.cls
        assert issubclass(feature, FeatureExtractor)
        if feature.output not in encoder.accepts:
            raise SpecError(
                f"encoder '{encoder.name}' takes {'/'.join(sorted(encoder.accepts))} features, "
                f"and '{part.name}' is a {feature.output} feature",
                f"{encoder.name}'s default features: {', '.join(encoder.default_features)}",
            )
    if not spec.features:
        raise SpecError("no features selected", "give --features a,b")
    clusterer = spec.clusterer.cls
    needs = clusterer.needs_encoder_method
    if needs and not hasattr(encoder, needs):
        able = [i.name for i in registry.infos("encoder") if hasattr(i.cls, needs)]
        raise SpecError(
            f"clusterer '{clusterer.name}' uses the clusters the encoder yields, and "
            f"'{encoder.name}' yields none",
            f"encoders that do: {', '.join(able) or 'none installed'}",
        )


def instantiate(registry: Registry, family: str, part: Part, seed: int) -> Component:
    """A fresh component for a resolved part (its checks ran in :func:`resolve`), seeded."""
    cls = part.cls or registry.get(family, part.name).cls
    component = cls(**part.params)
    component.random_state = seed
    return component
