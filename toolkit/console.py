"""What the commands print: a run's summary, a search's, the plugin listing."""

from __future__ import annotations

import json
from typing import Any

import click

from musiclust.errors import SpecError
from musiclust.registry import PLURAL


def print_run(result: Any, uri: str) -> None:
    m = result.metrics
    echo = click.echo
    spec = result.spec
    echo(f"run {result.run_id} in experiment '{result.experiment}'")
    echo(
        f"  {int(m['n_clips'])} clips ({int(m['n_skipped'])} skipped, "
        f"{int(m['n_without_lyrics'])} without lyrics) -> "
        f"{','.join(p.name for p in spec.features)} -> {spec.encoder.name} -> "
        f"{spec.clusterer.name}: {int(m.get('n_clusters', 0))} clusters"
    )
    keys = ["silhouette", "reference.silhouette", "largest_cluster_share"]
    echo("  " + "  ".join(f"{k} {m[k]:.3f}" for k in keys if k in m))
    for column in sorted({k.split(".")[0] for k in m if k.endswith(".ami")}):
        echo(
            f"  {column}: "
            + "  ".join(
                f"{k} {m[f'{column}.{k}']:.3f}"
                for k in ("ami", "ari", "nmi", "purity", "accuracy")
                if f"{column}.{k}" in m
            )
        )
    for skip in result.skipped[:5]:
        echo(f"  skipped {skip.id}: {skip.reason}")
    if len(result.skipped) > 5:
        echo(f"  ... {len(result.skipped) - 5} more in skipped.csv")
    for note in result.notes[:3]:
        echo(f"  note: {note}")
    if len(result.notes) > 3:
        echo(f"  ... {len(result.notes) - 3} more notes in notes.txt")
    if result.tags.get("collapsed") == "true":
        echo("  warning: collapsed clustering (see notes.txt in the run)")
    if result.model_uri:
        echo(f"  model: {result.model_uri}")
    if uri.startswith("sqlite:"):
        echo(f"  browse: mlflow ui --backend-store-uri {uri}")


def print_seeds(result: Any, uri: str) -> None:
    """``run --seeds``: a line per seed, then mean +- std of the headline metrics."""
    echo = click.echo
    first = result.runs[0]
    spec = first.spec
    echo(
        f"{len(result.runs)} seeds under run {result.parent_run_id} in experiment "
        f"'{first.experiment}': {','.join(p.name for p in spec.features)} -> "
        f"{spec.encoder.name} -> {spec.clusterer.name}"
    )
    columns = sorted(
        {k[: -len(".ami")] for k in result.mean if k.endswith(".ami") and ".shuffled" not in k}
    )
    shown = ["n_clusters", "reference.silhouette", *(f"{c}.ami" for c in columns)]
    shown = [k for k in shown if k in result.mean]
    for r in result.runs:
        values = "  ".join(f"{k} {r.metrics[k]:.4g}" for k in shown)
        echo(f"  seed {r.spec.seed}: run {r.run_id[:8]}  {values}")
    keys = [*shown, *(f"{c}.{m}" for c in columns for m in ("ari", "nmi", "purity"))]
    spread = [f"{k} {result.mean[k]:.3f} +- {result.std[k]:.3f}" for k in keys if k in result.mean]
    echo("  mean +- std: " + "  ".join(spread))
    if uri.startswith("sqlite:"):
        echo(f"  browse: mlflow ui --backend-store-uri {uri}")


def print_search(result: Any, uri: str) -> None:
    echo = click.echo
    c = result.counts
    echo(
        f"study '{result.study}' ({result.storage}): {c['complete']} complete, "
        f"{c['pruned']} pruned, {c['fail']} failed"
    )
    echo(
        f"  parent run {result.parent_run_id} in experiment '{result.experiment}'; "
        f"objective {result.objective} (label_tuned={str(result.label_tuned).lower()})"
    )
    if result.best_trial is not None:
        echo(f"  best: trial {result.best_trial}: {result.best_label}  {result.best_value:.4f}")
        m = result.best_metrics
        shown = [
            f"{k} {m[k]:.3f}"
            for k in sorted(m)
            if k.endswith((".ami", ".ari")) and ".shuffled." not in k
        ]
        shown += [f"n_clusters {m['n_clusters']:.0f}"] if "n_clusters" in m else []
        if shown:
            echo("  best (for reporting): " + "  ".join(shown))
    if result.registered:
        echo(f"  registered model: {result.registered} ({result.model_uri})")
    for note in result.notes:
        echo(f"  note: {note}")
    if uri.startswith("sqlite:"):
        echo(f"  browse: mlflow ui --backend-store-uri {uri}")


def param_line(param: Any) -> str:
    default = "none" if param.default is None else str(param.default)
    flag = "  [searchable]" if param.searchable else ""
    return (
        f"      {param.name:<14} = {default:<11} {param.domain()}{flag}\n"
        + (f"{'':23}{param.help}" if param.help else "").rstrip()
    )


def info_dict(info: Any) -> dict[str, Any]:
    cls = info.cls
    out = {
        "family": info.family,
        "name": info.name,
        "plugin": info.plugin,
        "dist": info.dist,
        "version": info.version,
        "summary": cls.summary(),
        "params": [p.to_dict() for p in cls.declared_params().values()],
    }
    for attr in ("modality", "output", "default_features", "takes_path", "default"):
        if hasattr(cls, attr):
            out[attr] = getattr(cls, attr)
    for attr in ("accepts", "needs"):
        if hasattr(cls, attr):
            out[attr] = sorted(getattr(cls, attr))
    return out


def print_plugins(registry: Any, names: tuple[str, ...], brief: bool, as_json: bool) -> None:
    """``musiclust plugins``: every plugin (or those NAMES ask for), its parameters, problems."""
    from musiclust.spec import SETTINGS

    families, wanted, sections = _plugin_filter(registry, names, SETTINGS)
    if as_json:
        _echo(
            json.dumps(
                {
                    "plugins": [
                        info_dict(info)
                        for info in registry.infos()
                        if _shown(info, families, wanted)
                    ],
                    "settings": {
                        section: [p.to_dict() for p in params]
                        for section, params in SETTINGS.items()
                        if section in sections
                    },
                    "problems": [
                        {"plugin": p.plugin, "dist": p.dist, "version": p.version, "error": p.error}
                        for p in registry.problems
                    ],
                },
                indent=2,
                default=str,
            )
        )
        return
    for family, plural in PLURAL.items():
        infos = [i for i in registry.infos(family) if _shown(i, families, wanted)]
        if names and not infos:
            continue
        _echo(f"{plural}:")
        if not infos:
            _echo("  (none)")
        for info in infos:
            opt_in = "" if getattr(info.cls, "default", True) else " [opt-in]"
            _echo(f"  {info.name:<14} {info.origin:<18} {info.cls.summary()}{opt_in}")
            for param in [] if brief else info.cls.declared_params().values():
                _echo(param_line(param))
    for section, params in SETTINGS.items():
        if section not in sections:
            continue
        _echo(f"settings (--set {section}.PARAM=VALUE):")
        for param in [] if brief else params:
            _echo(param_line(param))
    if registry.problems and not names:
        _echo("problems (skipped):")
        for problem in registry.problems:
            _echo(f"  {problem.plugin} ({problem.origin}): {problem.error}")
    if brief:
        _echo("(musiclust plugins NAME shows a plugin's parameters)")


def _plugin_filter(
    registry: Any, names: tuple[str, ...], settings: dict[str, Any]
) -> tuple[set[str], set[str], set[str]]:
    """(families, plugin names, settings sections) the NAMES ask for; all when none."""
    from musiclust.errors import did_you_mean

    if not names:
        return set(PLURAL), set(), set(settings)
    singular = {plural: family for family, plural in PLURAL.items()}
    known = {i.name for i in registry.infos()}
    families: set[str] = set()
    wanted: set[str] = set()
    sections: set[str] = set()
    for name in names:
        if name in PLURAL or name in singular:
            families.add(singular.get(name, name))
        elif name in known:
            wanted.add(name)
        elif name in settings:
            sections.add(name)
        else:
            choices = [*PLURAL.values(), *sorted(known), *settings]
            raise SpecError(
                f"no plugin, family or settings section '{name}'",
                did_you_mean(name, choices) or "musiclust plugins --brief lists them",
            )
    return families, wanted, sections


def _shown(info: Any, families: set[str], wanted: set[str]) -> bool:
    return info.family in families or info.name in wanted


def _echo(text: str) -> None:
    click.echo(text)
