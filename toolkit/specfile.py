"""Spec files: YAML on disk, a user's own or one shipped with musiclust (``specs/``), and a
spec file read as ``--set`` keys (what a preset implies)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from musiclust.errors import SpecError, did_you_mean

CONFIG_KEYS = (
    "data",
    "source",
    "features",
    "encoder",
    "clusterer",
    "metrics",
    "reports",
    "audio",
    "segments",
    "reference",
    "fusion",
    "seed",
)
#: Settings sections (not plugins) that a spec holds and ``--set section.param=...`` reaches.
SECTIONS = ("audio", "segments", "reference", "fusion")

#: Spec files shipped with musiclust, usable by name: ``--config published-hybrid``.
SHIPPED = Path(__file__).resolve().parent / "specs"


def shipped_specs() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.yaml"))


def config_path(config: str | Path) -> Path:
    """The spec file ``config`` names: a path, or the name of a shipped spec."""
    path = Path(config)
    if path.is_file():
        return path
    if str(config) in shipped_specs():
        return SHIPPED / f"{config}.yaml"
    names = shipped_specs()
    raise SpecError(
        f"config file not found: {path}",
        did_you_mean(str(config), names) or f"shipped specs, usable by name: {', '.join(names)}",
    )


def load_config(config: str | Path | dict[str, Any]) -> dict[str, Any]:
    """A spec file's mapping, checked; ``config`` may also be the mapping itself (a spec held
    in memory: a search trial's, for instance)."""
    if isinstance(config, dict):
        return _checked(copy.deepcopy(config), "the spec")
    path = config_path(config)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"config file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
            "save it as UTF-8",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SpecError(f"config file {path} is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise SpecError(f"config file {path} must hold a mapping of {', '.join(CONFIG_KEYS)}")
    return _checked(copy.deepcopy(data), str(path))


def _checked(data: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = [k for k in data if k not in CONFIG_KEYS]
    if unknown:
        raise SpecError(
            f"unknown key '{unknown[0]}' in {where}; valid keys: {', '.join(CONFIG_KEYS)}",
            did_you_mean(str(unknown[0]), CONFIG_KEYS),
        )
    return data


def spec_settings(config: str | Path) -> dict[str, Any]:
    """A spec file's plugin parameters and settings as ``--set`` keys
    (``{"tfidf.dims": 64, "segments.length": None}``): what a preset implies."""
    raw = load_config(config)
    parts = [raw.get(k) for k in ("source", "encoder", "clusterer")]
    parts += [p for k in ("features", "metrics", "reports") for p in raw.get(k) or []]
    out: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, dict):  # {name: ..., params: {...}}; a bare name sets nothing
            out.update({f"{part['name']}.{k}": v for k, v in (part.get("params") or {}).items()})
    for section in SECTIONS:
        out.update({f"{section}.{k}": v for k, v in (raw.get(section) or {}).items()})
    return out
