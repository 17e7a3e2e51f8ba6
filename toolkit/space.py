"""The search space: which plugins a trial may combine, and each one's declared parameters.

A trial first picks its encoder, then its features (when ``--features`` lists several: any
combination of one to three of them that the encoder accepts and the data can feed; without
``--features`` the encoder's own defaults), then its clusterer, then the parameters of exactly
the plugins it picked, each under ``<plugin>.<param>`` from the plugin's declaration (its
``space`` or bounds, its log scale). Parameters given with ``--set`` are fixed, not searched; a
feature's fusion ``weight`` is searched only when the trial fuses it with another block (alone,
it only rescales the whole input: inert for scale-free steps, a twin of the scale parameter of
others such as DBSCAN's ``eps``, and a useless dimension for the sampler's model either way).

On audio data the framing is searched too: ``segments.length`` among whole clips, 2 s and 3 s
windows (:data:`musiclust.segments.SEARCHED_LENGTHS`) for trials whose audio features are vectors
(2-D features keep their own window, ``auto``), and ``segments.back`` whenever the trial cuts
windows. ``--set segments.length=...`` or ``--set segments.back=...`` fixes them.

A categorical whose choices depend on an earlier pick is named after that pick
(``ae.features``, ``vade.clusterer``) so each name always has one fixed set of choices, which
Optuna requires of a stored study. The space hash keys the study name, so allowing another
plugin starts a new study instead of failing on a changed categorical.
"""

from __future__ import annotations

import itertools
import shlex
from dataclasses import dataclass, field
from typing import Any

from musiclust.adapt import adapt_to_data
from musiclust.cache import digest
from musiclust.defaults import CLUSTERER, ENCODER, SEARCH_TRAINED_CLIPS
from musiclust.errors import DataError, SpecError, did_you_mean
from musiclust.params import Param
from musiclust.registry import Registry
from musiclust.segments import SEARCHED_LENGTHS, SEGMENT_PARAMS
from musiclust.spec import SETTINGS, build_spec, set_items

MAX_FEATURES = 3
_SEGMENTS = {p.name: p for p in SEGMENT_PARAMS}


@dataclass
class Choice:
    """What one trial runs: plugin names and ``plugin.param=value`` assignments."""

    encoder: str
    clusterer: str
    features: list[str] | None  # None: the encoder's default features
    sets: list[str] = field(default_factory=list)

    def label(self) -> str:
        feats = ",".join(self.features) if self.features else "default features"
        return f"{self.encoder}+{self.clusterer} [{feats}]"


@dataclass
class SearchSpace:
    encoders: list[str]
    clusterers: dict[str, list[str]]  # encoder -> clusterers it can feed
    features: dict[str, list[str]] | None  # encoder -> feature combinations ("a,b")
    fixed: list[str]  # the user's --set items
    declarations: dict[str, tuple[Param, ...]]  # plugin -> searchable, not fixed params
    defaults: dict[str, list[str]]  # encoder -> its default features
    searched: set[str]  # every plugin a trial may pick
    notes: list[str] = field(default_factory=list)
    #: Upper limits from the data (K below the number of clips), by parameter name.
    caps: dict[str, int] = field(default_factory=dict)
    #: The framing parameters searched (``segments.length``, ``segments.back``), not fixed.
    framing: tuple[str, ...] = ()
    #: Features by output and modality, for deciding per trial whether framing applies.
    vector_audio: frozenset[str] = frozenset()
    matrix: frozenset[str] = frozenset()
    #: The reference space's features for this data: the yardstick of every trial's score.
    reference: str = ""
    #: The features a plain ``musiclust run`` takes on this data (None: it cannot run).
    plain_features: list[str] | None = None

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        registry: Registry,
        base: dict[str, Any],
        encoders: list[str] | None,
        clusterers: list[str] | None,
        features: list[str] | None,
        sets: list[str],
        modalities: set[str],
        n_items: int | None = None,
    ) -> SearchSpace:
        """Check the allowed plugins against each other and the data; raise SpecError."""
        notes: list[str] = []
        explicit = encoders is not None
        encoders = encoders or [i.name for i in registry.infos("encoder")]
        clusterer_names = clusterers or [i.name for i in registry.infos("clusterer")]
        for family, names in (("encoder", encoders), ("clusterer", clusterer_names)):
            for name in names:
                registry.get(family, name)  # unknown names: one line with the known ones
        for name in features or []:
            registry.get("feature", name)
        fixed_keys = {item.partition("=")[0] for item in _items(sets)}
        searched = {*encoders, *clusterer_names, *(features or [])}
        for encoder in encoders:
            searched |= set(_defaults(registry, encoder))

        if not explicit and n_items is not None and n_items > SEARCH_TRAINED_CLIPS:
            trained = [e for e in encoders if _trained(registry, e)]
            if trained:
                encoders = [e for e in encoders if e not in trained]
                notes.append(
                    f"trained encoders {', '.join(trained)} left out of the default space: "
                    f"{n_items:,} clips (beyond {SEARCH_TRAINED_CLIPS:,}) make each of their "
                    "trials minutes to hours on a CPU; name them in --encoders to search them "
                    "(on a GPU, say)"
                )
        usable: list[str] = []
        by_encoder: dict[str, list[str]] = {}
        feature_sets: dict[str, list[str]] | None = {} if features else None
        for encoder in encoders:
            combos = _combinations(registry, encoder, features, modalities) if features else [None]
            valid, problem = [], None
            for combo in combos:
                chosen = {encoder, clusterer_names[0], *(combo or _defaults(registry, encoder))}
                try:
                    _probe(
                        registry,
                        base,
                        encoder,
                        clusterer_names[0],
                        combo,
                        applying(sets, chosen, searched),
                        modalities,
                    )
                    valid.append(combo)
                except (SpecError, DataError) as exc:
                    problem = problem or str(exc)
            if not valid:
                reason = problem or "no allowed feature combination suits it"
                if explicit:
                    raise SpecError(f"encoder '{encoder}' cannot be searched: {reason}")
                notes.append(f"encoder '{encoder}' left out of the search: {reason}")
                continue
            fitting = [c for c in clusterer_names if _feeds(registry, encoder, c)]
            if not fitting:
                notes.append(f"encoder '{encoder}' left out: none of the clusterers suits it")
                continue
            usable.append(encoder)
            by_encoder[encoder] = fitting
            if feature_sets is not None:
                feature_sets[encoder] = [",".join(c) for c in valid if c is not None]
        if not usable:
            raise SpecError("nothing to search: no allowed encoder can run", "; ".join(notes))
        if clusterers:
            unused = set(clusterers) - {c for cs in by_encoder.values() for c in cs}
            if unused:
                raise SpecError(
                    f"clusterer(s) {', '.join(sorted(unused))} suit none of the encoders "
                    f"{', '.join(usable)}"
                )

        plugins = set(usable) | {c for cs in by_encoder.values() for c in cs}
        plugins |= set(features or [])
        defaults = {e: _defaults(registry, e) for e in usable}
        if feature_sets is None:  # the encoders' default features
            for encoder in usable:
                plugins |= set(defaults[encoder])
        declarations = {}
        for name in sorted(plugins):
            info = registry.find(name)
            if info is None:
                continue
            params = tuple(
                p
                for p in info.cls.declared_params().values()
                if p.searchable and f"{name}.{p.name}" not in fixed_keys
            )
            if params:
                declarations[name] = params
        others = {i.name for f in ("source", "metric", "report") for i in registry.infos(f)}
        _check_fixed(sets, searched | others)
        caps = {} if n_items is None else {"n_clusters": max(2, n_items - 1)}
        framing: tuple[str, ...] = ()
        if "audio" in modalities:
            framing = tuple(p for p in ("length", "back") if f"segments.{p}" not in fixed_keys)
        outputs = {
            name: (info.cls.output, info.cls.modality)
            for name in plugins
            if (info := registry.find(name)) is not None and info.family == "feature"
        }
        plain = None
        try:  # the plain run on this data: default features the data cannot feed are dropped
            spec = build_spec(
                registry,
                **{**base, "encoder": ENCODER, "clusterer": CLUSTERER},
                sets=applying(sets, {ENCODER, CLUSTERER}, searched),
            )
            adapt_to_data(spec, registry, "audio" in modalities, "lyrics" in modalities)
            plain = [part.name for part in spec.features]
        except (SpecError, DataError):
            pass
        return cls(
            usable,
            by_encoder,
            feature_sets,
            _items(sets),
            declarations,
            defaults,
            searched,
            notes,
            caps,
            framing,
            frozenset(n for n, o in outputs.items() if o == ("vector", "audio")),
            frozenset(n for n, o in outputs.items() if o[0] == "matrix"),
            plain_features=plain,
        )

    # -- using it ---------------------------------------------------------------------------
    def hash(self) -> str:
        """Changes whenever the set of choices or of searched parameters changes, or the
        reference space that scores the trials."""
        return digest(
            {
                "encoders": self.encoders,
                "clusterers": self.clusterers,
                "features": self.features,
                "fixed": sorted(self.fixed),
                "caps": self.caps,
                "params": {k: [p.to_dict() for p in v] for k, v in self.declarations.items()},
                **({"framing": [*self.framing, *SEARCHED_LENGTHS]} if self.framing else {}),
                "reference": self.reference,
            }
        )[:8]

    def suggest(self, trial: Any) -> Choice:
        """Pick a combination and its parameters with an Optuna trial (the plain run's, for the
        trial :meth:`plain_run` enqueued)."""
        if not isinstance(trial, _PlainRun) and trial.user_attrs.get(START_ATTR) == PLAIN_RUN:
            trial = _PlainRun(self, trial)
        encoder = trial.suggest_categorical("encoder", self.encoders)
        features = None
        if self.features is not None:
            features = trial.suggest_categorical(f"{encoder}.features", self.features[encoder])
            features = features.split(",")
        options = self.clusterers[encoder]
        full = sorted({c for cs in self.clusterers.values() for c in cs})
        key = "clusterer" if sorted(options) == full else f"{encoder}.clusterer"
        clusterer = trial.suggest_categorical(key, options)
        blocks = features or self.defaults[encoder]
        chosen = [encoder, clusterer, *blocks]
        sets = applying(self.fixed, set(chosen), self.searched)
        for plugin in chosen:
            for param in self.declarations.get(plugin, ()):
                if param.name == "weight" and blocks == [plugin]:
                    continue  # a fusion weight only matters beside another block
                value = suggest_param(trial, f"{plugin}.{param.name}", param, self.caps)
                sets.append(f"{plugin}.{param.name}={'none' if value is None else value}")
        sets += self.suggest_framing(trial, blocks)
        return Choice(encoder, clusterer, features, sets)

    def plain_run(self) -> dict[str, Any] | None:
        """The Optuna parameters of what a plain ``musiclust run`` fits on this data (the default
        encoder and clusterer, the encoder's default features or those of them ``--features``
        allows, every declared default, whole clips for vector features), to enqueue as a new
        study's first trial; None when this space cannot hold it. A default outside its
        searched domain (K ``auto``) is not a parameter: that trial keeps it, as the plain run
        does."""
        plain = _PlainRun(self)
        try:
            self.suggest(plain)
        except _Outside:
            return None
        return plain.params

    def _defaults_by_name(self) -> dict[str, Any]:
        """Each name :meth:`suggest` may ask for, with the plain run's value for it."""
        chosen: dict[str, Any] = {
            "encoder": ENCODER,
            "clusterer": CLUSTERER,
            f"{ENCODER}.clusterer": CLUSTERER,
            f"{ENCODER}.features": self._plain_combination(),
        }
        for plugin, params in self.declarations.items():
            chosen.update({f"{plugin}.{p.name}": p.default for p in params})
        # ``auto`` is whole clips wherever the length is searched (vector features, no 2-D)
        chosen["segments.length"] = None
        chosen["segments.back"] = _SEGMENTS["back"].default
        return chosen

    def _plain_combination(self) -> str | None:
        """The plain run's features that ``--features`` allows, as the space names that
        combination (as the plain run drops default features the data cannot feed); None
        when none of them is allowed."""
        combos = (self.features or {}).get(ENCODER, [])
        allowed = {name for combo in combos for name in combo.split(",")}
        kept = {name for name in self.plain_features or [] if name in allowed}
        return next((c for c in combos if kept and set(c.split(",")) == kept), None)

    def suggest_framing(self, trial: Any, features: list[str]) -> list[str]:
        """``segments.*`` items for a trial with these features (searched ones only)."""
        if not self.framing:
            return []
        matrix = any(f in self.matrix for f in features)
        length: Any = self._fixed_length()
        if "length" in self.framing:
            if matrix or not any(f in self.vector_audio for f in features):
                length = "auto"  # 2-D features keep their own window; no audio: no windows
            else:
                length = trial.suggest_categorical("segments.length", list(SEARCHED_LENGTHS))
        items = (
            []
            if "length" not in self.framing or length == "auto"
            else [f"segments.length={'none' if length is None else length}"]
        )
        windows = matrix if length == "auto" else length is not None
        if "back" in self.framing and windows:
            back = suggest_param(trial, "segments.back", _SEGMENTS["back"])
            items.append(f"segments.back={back}")
        return items

    def _fixed_length(self) -> Any:
        """The user's ``segments.length`` (parsed), or ``auto``."""
        for item in self.fixed:
            key, _, value = item.partition("=")
            if key == "segments.length":
                return _SEGMENTS["length"].parse(value)
        return "auto"

    def describe(self) -> list[str]:
        lines = [f"encoders: {', '.join(self.encoders)}"]
        for encoder in self.encoders:
            feats = (
                "its default features"
                if self.features is None
                else " | ".join(self.features[encoder])
            )
            lines.append(
                f"  {encoder}: clusterers {', '.join(self.clusterers[encoder])}; features {feats}"
            )
        for plugin, params in self.declarations.items():
            lines.append(f"  {plugin}: " + ", ".join(_domain(p) for p in params))
        if self.framing:
            lengths = ", ".join("none" if v is None else f"{v:g}" for v in SEARCHED_LENGTHS)
            domains = {
                "length": f"length in {{{lengths}}} (vector audio features)",
                "back": f"back in {{{', '.join(_SEGMENTS['back'].choices)}}} (when windows)",
            }
            lines.append("  segments: " + ", ".join(domains[p] for p in self.framing))
        if self.reference:
            lines.append(f"scored in the reference space of: {self.reference.replace(',', ', ')}")
        return lines


#: The user attribute that marks the trial :meth:`SearchSpace.plain_run` enqueued.
START_ATTR = "musiclust.start"
PLAIN_RUN = "plain run"


class _Outside(Exception):
    """The plain run's pipeline is not in this space."""


class _PlainRun:
    """Answers :meth:`SearchSpace.suggest` with the plain run's values. With a real trial (the
    enqueued one), each value inside its searched domain is asked of the trial, which holds it
    as a fixed parameter and records it; a default outside the domain (K ``auto``) is answered
    here and recorded by no one, as the plain run leaves it to the plugin. Without a trial it
    only collects the parameters to enqueue."""

    def __init__(self, space: SearchSpace, trial: Any = None) -> None:
        self.trial = trial
        self.defaults = space._defaults_by_name()
        self.params: dict[str, Any] = {}

    def _ask(self, name: str, inside: bool) -> bool:
        """Whether to ask the trial for ``name`` (its default is inside the domain and there is
        a trial); a pipeline outside the space raises :class:`_Outside`."""
        if not inside:
            if name in ("encoder", "clusterer") or name.endswith((".features", ".clusterer")):
                raise _Outside(name)  # the pipeline itself, not one of its parameters
            return False
        self.params[name] = self.defaults[name]
        return self.trial is not None

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        if self._ask(name, self.defaults[name] in choices):
            return self.trial.suggest_categorical(name, choices)
        return self.defaults[name]

    def suggest_int(self, name: str, low: int, high: int, log: bool = False) -> Any:
        value = self.defaults[name]
        number = isinstance(value, int) and not isinstance(value, bool)
        if self._ask(name, number and low <= value <= high):
            return self.trial.suggest_int(name, low, high, log=log)
        return value

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> Any:
        value = self.defaults[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if self._ask(name, number and low <= value <= high):
            return self.trial.suggest_float(name, low, high, log=log)
        return value


def suggest_param(trial: Any, name: str, param: Param, caps: dict[str, int] | None = None) -> Any:
    """One declared parameter through ``trial.suggest_*`` (its ``space``, else its bounds)."""
    if param.type == "bool":
        return trial.suggest_categorical(name, [False, True])
    if param.type == "choice":
        return trial.suggest_categorical(name, list(param.space or param.choices))
    low, high = _bounds(param)
    cap = (caps or {}).get(param.name)
    if cap is not None:
        high = min(high, cap)
        low = min(low, high)
    if param.type == "int":
        return trial.suggest_int(name, int(low), int(high), log=param.log)
    return trial.suggest_float(name, float(low), float(high), log=param.log)


def _bounds(param: Param) -> tuple[float, float]:
    if param.space is not None:
        return param.space[0], param.space[1]
    assert param.low is not None and param.high is not None  # checked at registration
    return param.low, param.high


def _domain(param: Param) -> str:
    if param.type == "bool":
        return f"{param.name} in {{false, true}}"
    if param.type == "choice":
        return f"{param.name} in {{{', '.join(map(str, param.space or param.choices))}}}"
    low, high = _bounds(param)
    return f"{param.name} in [{low}, {high}]{' log' if param.log else ''}"


def _combinations(
    registry: Registry, encoder: str, features: list[str], modalities: set[str]
) -> list[tuple[str, ...]]:
    accepts = registry.get("encoder", encoder).cls.accepts
    usable = [
        f
        for f in features
        if registry.get("feature", f).cls.output in accepts
        and registry.get("feature", f).cls.modality in modalities
    ]
    return [
        combo
        for size in range(1, min(MAX_FEATURES, len(usable)) + 1)
        for combo in itertools.combinations(usable, size)
    ]


def _probe(
    registry: Registry,
    base: dict[str, Any],
    encoder: str,
    clusterer: str,
    features: tuple[str, ...] | None,
    sets: list[str],
    modalities: set[str],
) -> None:
    """Resolve one spec of this combination with the --set items that apply to it, and check
    the data can feed it (an encoder whose default features need audio, on lyrics alone)."""
    spec_kw = {**base, "encoder": encoder, "clusterer": clusterer, "sets": sets}
    if features is not None:
        spec_kw["features"] = list(features)
    spec = build_spec(registry, **spec_kw)
    adapt_to_data(spec, registry, "audio" in modalities, "lyrics" in modalities)


def shared_sets(registry: Registry, sets: list[str]) -> list[str]:
    """The --set items that are not about a searched family (the source, settings, metrics)."""
    searched = {i.name for f in ("feature", "encoder", "clusterer") for i in registry.infos(f)}
    return [shlex.quote(i) for i in _items(sets) if i.partition(".")[0] not in searched]


def _items(sets: list[str]) -> list[str]:
    return set_items(sets)


def applying(sets: list[str], chosen: set[str], searched: set[str]) -> list[str]:
    """The --set items for this trial: all but those of searched plugins it did not pick
    (quoted where a value holds spaces, so they pass through ``--set`` parsing again)."""
    return [shlex.quote(i) for i in _items(sets) if i.partition(".")[0] not in searched - chosen]


def _trained(registry: Registry, encoder: str) -> bool:
    """Whether the encoder trains by epochs (one that cannot be built with its defaults is
    not: the probe below says why it cannot run)."""
    try:
        return registry.get("encoder", encoder).cls().planned_epochs() is not None
    except SpecError:
        return False


def _defaults(registry: Registry, encoder: str) -> list[str]:
    from musiclust.spec import usable_alternatives

    slots = registry.get("encoder", encoder).cls.default_features
    return [n for slot in slots for n in usable_alternatives(registry, slot)[:1]]


def _feeds(registry: Registry, encoder: str, clusterer: str) -> bool:
    needs = registry.get("clusterer", clusterer).cls.needs_encoder_method
    return not needs or hasattr(registry.get("encoder", encoder).cls, needs)


def _check_fixed(sets: list[str], plugins: set[str]) -> None:
    for item in _items(sets):
        key, sep, _ = item.partition("=")
        target, dot, _param = key.partition(".")
        if not sep or not dot:
            raise SpecError(f"--set {item}: expected plugin.param=value (as kmeans.n_clusters=10)")
        if target not in plugins and target not in SETTINGS:
            raise SpecError(
                f"--set {item}: '{target}' is not part of this search "
                f"(plugins in it: {', '.join(sorted(plugins))})",
                did_you_mean(target, sorted(plugins)),
            )
