"""The plugin registry: entry points in the ``musiclust`` group, loaded one at a time.

Built-in plugins are entry points of the ``musiclust`` distribution itself and load first;
third-party ones follow. An entry point that fails to import, a hook that raises, a component
that breaks the contract, or a name that is already taken is recorded as a :class:`Problem`
(shown by ``musiclust plugins`` and logged as a warning) and skipped: everything else works.

``MUSICLUST_LOAD_PLUGINS`` restricts third-party loading to a comma-separated list of entry-point
or distribution names (empty: none). Built-ins always load.
"""

from __future__ import annotations

import importlib.metadata as md
import inspect
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

import pluggy

from musiclust import hookspecs
from musiclust.components import (
    FAMILIES,
    AudioFeature,
    Component,
    Encoder,
    FrameFeature,
    LyricsFeature,
)
from musiclust.errors import SpecError, did_you_mean
from musiclust.params import Param

log = logging.getLogger("musiclust")

GROUP = "musiclust"
ENV_LOAD = "MUSICLUST_LOAD_PLUGINS"
BUILTIN_DIST = "musiclust"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Names of settings sections that share the ``--set name.param`` namespace with plugins.
RESERVED_NAMES = frozenset({"audio", "seed", "spec"})
#: family -> plural, and hook name -> family (both from components.FAMILIES)
PLURAL = {f.name: f.plural for f in FAMILIES.values()}
HOOKS = {f.hook: f.name for f in FAMILIES.values()}


@dataclass(frozen=True)
class PluginInfo:
    """A registered component and where it comes from."""

    name: str
    family: str
    cls: type[Component]
    plugin: str
    dist: str | None
    version: str | None

    @property
    def origin(self) -> str:
        if self.dist is None:
            return f"{self.plugin} (not installed)"
        return f"{self.dist} {self.version}"


@dataclass(frozen=True)
class Problem:
    """A plugin (or one of its components) that was skipped, and why."""

    plugin: str
    dist: str | None
    version: str | None
    error: str

    @property
    def origin(self) -> str:
        return f"{self.dist} {self.version}" if self.dist else self.plugin


class Registry:
    """Components by family and name, plus the problems met while loading plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._by_family: dict[str, dict[str, PluginInfo]] = {f: {} for f in FAMILIES}
        self.problems: list[Problem] = []

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_entry_points(cls) -> Registry:
        registry = cls()
        registry.load_entry_points()
        return registry

    def load_entry_points(self) -> None:
        allowed = _allowed_names()
        seen: set[tuple[str | None, str]] = set()
        for ep in sorted(md.entry_points(group=GROUP), key=_load_order):
            dist, version = _dist_of(ep)
            if (dist, ep.name) in seen:  # the same distribution found twice on sys.path
                continue
            seen.add((dist, ep.name))
            builtin = dist == BUILTIN_DIST
            if not builtin and allowed is not None and not ({ep.name, dist} & allowed):
                log.debug("plugin %s not loaded: not in %s", ep.name, ENV_LOAD)
                continue
            try:
                module = ep.load()
            except Exception as exc:
                self._problem(ep.name, dist, version, f"failed to import {ep.value}: {_exc(exc)}")
                continue
            self.register_plugin(module, name=ep.name, dist=dist, version=version)

    def register_plugin(
        self,
        plugin: Any,
        name: str | None = None,
        dist: str | None = None,
        version: str | None = None,
    ) -> list[PluginInfo]:
        """Register a plugin object (a module, usually) and the components its hooks register."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        unknown = [
            attr
            for attr in dir(plugin)
            if self.pm.parse_hookimpl_opts(plugin, attr) is not None and attr not in HOOKS
        ]
        if unknown:
            known = ", ".join(HOOKS)
            self._problem(name, dist, version, f"unknown hook {unknown[0]} (hooks: {known})")
            return []
        if self.pm.has_plugin(name):
            self._problem(name, dist, version, f"a plugin named {name!r} is already loaded")
            return []
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy's validation of hook signatures
            self._problem(name, dist, version, _exc(exc))
            return []

        collected: list[tuple[str, Any]] = []
        for hook_name, family in HOOKS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                args = {"register": lambda cls, _f=family: collected.append((_f, cls))}
                try:
                    impl.function(*[args[a] for a in impl.argnames])
                except Exception as exc:
                    self._problem(name, dist, version, f"{hook_name} raised {_exc(exc)}")
        added = []
        for family, cls in collected:
            info = self._add(family, cls, name, dist, version)
            if info is not None:
                added.append(info)
        return added

    def _add(
        self, family: str, cls: Any, plugin: str, dist: str | None, version: str | None
    ) -> PluginInfo | None:
        problems = contract_problems(family, cls)
        label = getattr(cls, "name", None) or getattr(cls, "__name__", repr(cls))
        if problems:
            self._problem(plugin, dist, version, f"{family} {label!r}: " + "; ".join(problems))
            return None
        taken = self.find(cls.name)
        if taken is not None:
            self._problem(
                plugin,
                dist,
                version,
                f"{family} {cls.name!r} not registered: the name is taken by "
                f"{taken.family} {taken.name!r} from {taken.origin}",
            )
            return None
        info = PluginInfo(cls.name, family, cls, plugin, dist, version)
        self._by_family[family][cls.name] = info
        return info

    def _problem(self, plugin: str, dist: str | None, version: str | None, error: str) -> None:
        problem = Problem(plugin, dist, version, error)
        self.problems.append(problem)
        log.warning("plugin %s (%s) skipped: %s", plugin, problem.origin, error)

    # -- lookup ----------------------------------------------------------------------------
    def names(self, family: str) -> list[str]:
        return sorted(self._by_family[family])

    def infos(self, family: str | None = None) -> list[PluginInfo]:
        families = [family] if family else list(self._by_family)
        return [self._by_family[f][n] for f in families for n in sorted(self._by_family[f])]

    def find(self, name: str) -> PluginInfo | None:
        for family in self._by_family.values():
            if name in family:
                return family[name]
        return None

    def cannot_run(self, family: str, name: str) -> str | None:
        """Why the component ``name`` cannot run here with its defaults (not installed, or its
        ``check`` fails: musicnn without its weights), or None when it can."""
        if name not in self._by_family[family]:
            return f"{family} '{name}' is not installed"
        try:
            self._by_family[family][name].cls().check()
        except SpecError as exc:
            return str(exc)
        return None

    def get(self, family: str, name: str) -> PluginInfo:
        """The component ``name`` of ``family``, or a SpecError naming the valid choices."""
        if name in self._by_family[family]:
            return self._by_family[family][name]
        known = ", ".join(self.names(family)) or "none installed"
        message = f"unknown {family} '{name}'; known {PLURAL[family]}: {known}"
        elsewhere = self.find(name)
        broken = [p for p in self.problems if p.plugin == name or f"'{name}'" in p.error]
        if elsewhere is not None:
            hint = f"'{name}' is a {elsewhere.family}"
        elif broken:
            hint = f"'{name}' is installed but was skipped: {broken[0].error}"
        else:
            hint = did_you_mean(name, self.names(family))
        raise SpecError(message, hint)


def contract_problems(family: str, cls: Any) -> list[str]:
    """What a component class gets wrong about its family's contract (empty when sound)."""
    base = FAMILIES[family].base
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        return [f"{cls!r} is not a subclass of toolkit.{base.__name__}"]
    out = []
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not NAME_RE.match(name):
        out.append(f"name {name!r} must be lower-case letters, digits and '_' (starting a letter)")
    elif name in RESERVED_NAMES:
        out.append(f"name {name!r} is reserved")
    required = list(FAMILIES[family].required)
    if family == "feature":
        if issubclass(cls, FrameFeature):
            required.append("frames_of")
        elif issubclass(cls, AudioFeature):
            required.append("extract")
        elif issubclass(cls, LyricsFeature):
            required.append("transform")
        else:
            out.append("a feature must subclass musiclust.AudioFeature or musiclust.LyricsFeature")
        if cls.scaling not in ("columns", "block"):
            out.append(f"scaling must be 'columns' or 'block', not {cls.scaling!r}")
        if cls.output not in ("vector", "matrix"):
            out.append(f"output must be 'vector' or 'matrix', not {cls.output!r}")
    for method in required:
        owner = next((k for k in cls.__mro__ if method in k.__dict__), None)
        if owner is None or owner.__module__ == Component.__module__:
            out.append(f"method {method}() is not implemented")
    if issubclass(cls, Encoder):
        if not set(cls.accepts) <= {"vector", "matrix"} or not cls.accepts:
            out.append("accepts must be a non-empty subset of {'vector', 'matrix'}")
        entries = [f if isinstance(f, tuple) else (f,) for f in cls.default_features]
        if not all(e and all(isinstance(n, str) for n in e) for e in entries):
            out.append("default_features must be feature names (or tuples of alternatives)")
    out.extend(_param_problems(cls, base))
    return out


def _param_problems(cls: type[Component], base: type[Component]) -> list[str]:
    own = cls.__dict__.get("params", ())
    if not isinstance(own, tuple | list):
        return ["params must be a tuple of musiclust.Param"]
    out = []
    names = [p.name for p in own if isinstance(p, Param)]
    if len(names) != len(own):
        out.append("params must hold musiclust.Param declarations (use Int, Float, Choice, ...)")
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        out.append(f"parameter declared twice: {', '.join(sorted(dupes))}")
    for param in own:
        if not isinstance(param, Param):
            continue
        out.extend(param.problems())
        if hasattr(base, param.name) or param.name == "random_state":
            out.append(f"parameter name {param.name!r} shadows an attribute of {base.__name__}")
    return out


def _allowed_names() -> set[str] | None:
    raw = os.environ.get(ENV_LOAD)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _dist_of(ep: md.EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _load_order(ep: md.EntryPoint) -> tuple[bool, str, str]:
    dist, _ = _dist_of(ep)
    return (dist != BUILTIN_DIST, dist or "", ep.name)


def _exc(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.from_entry_points()
    return _REGISTRY


def reset_registry() -> None:
    """Forget the loaded registry (after installing a plugin, in tests)."""
    global _REGISTRY
    _REGISTRY = None
