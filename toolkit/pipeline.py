"""A tracked run: the pure run of :mod:`musiclust.core`, observed by MLflow.

    data source -> feature extractors -> fusion -> encoder -> clusterer -> metrics -> reports

One MLflow run holds the resolved spec (params), the data set's manifest, metrics, tags, the
run's files and the fitted chain as one pyfunc model. The search calls :func:`run` once per
trial, as a child run of the study's run, with :class:`RunHooks` that score the trial and
report its progress to the pruner.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musiclust import __version__, artifacts, core, tracking
from musiclust.chain import Chain
from musiclust.core import Observer, Outcome, Prepared, RunHooks
from musiclust.data import Skip
from musiclust.evaluation import Evaluation
from musiclust.registry import Registry, get_registry
from musiclust.spec import Spec

log = logging.getLogger("musiclust")


@dataclass
class RunResult:
    run_id: str
    experiment: str
    spec: Spec
    metrics: dict[str, float]
    not_computed: dict[str, str]
    skipped: list[Skip]
    notes: list[str]
    evaluation: Evaluation
    model_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: The fitted chain (``chain.predict`` clusters new files), as the model logs it.
    chain: Chain | None = None
    #: The clips clustered, in the order of ``evaluation.ids`` (paths, lyrics, labels).
    clips: list[Any] = field(default_factory=list)


class MlflowObserver(Observer):
    """Tracks a run in the active MLflow run: what :mod:`musiclust.core` reports, as params,
    a dataset input, tags, per-epoch metrics, metrics, artifacts and models."""

    def __init__(self, log_model: bool = True) -> None:
        self.log_model = log_model
        self.model_uri: str | None = None

    def started(self, prepared: Prepared) -> None:
        tracking.log_params(prepared.spec.flat_params())
        tracking.log_dataset(*artifacts.manifest(prepared.dataset))

    def tagged(self, tags: dict[str, str]) -> None:
        tracking.set_tags(tags)

    def fitted(self, chain: Chain) -> None:
        tracking.log_history(chain.encoder.history())

    def finished(self, outcome: Outcome, files: Path) -> None:
        tracking.log_metrics(outcome.metrics)
        tracking.set_tags(outcome.final_tags)
        tracking.log_artifacts(files)
        if self.log_model:
            from musiclust.model import log_model, log_torch

            self.model_uri = log_model(outcome.chain)
            module = outcome.chain.encoder.torch_module()
            if module is not None:
                log_torch(module)


def run(
    spec: Spec,
    registry: Registry | None = None,
    *,
    experiment: str | None = None,
    log_model: bool = True,
    progress: bool = True,
    hooks: RunHooks | None = None,
) -> RunResult:
    """Run the spec end to end and track it in MLflow."""
    registry = registry or get_registry()
    hooks = hooks or RunHooks()
    prepared = core.prepare(spec, registry, progress=progress, quiet=hooks.quiet)
    experiment = experiment or prepared.experiment
    tags = {**_tags(spec, registry, prepared.dataset.name), **hooks.tags()}
    observer = MlflowObserver(log_model)
    with tracking.tracked_run(
        experiment, hooks.run_name(prepared.name), tags, hooks.parent_run_id, hooks.stops
    ) as active:
        hooks.started(active.run_id)
        outcome = core.execute(
            prepared, registry, progress=progress, hooks=hooks, observer=observer
        )
    return RunResult(
        active.run_id,
        active.experiment,
        spec,
        outcome.metrics,
        outcome.not_computed,
        outcome.skipped,
        outcome.notes,
        outcome.evaluation,
        observer.model_uri,
        {**tags, **outcome.tags},
        outcome.chain,
        outcome.clips,
    )


def _tags(spec: Spec, registry: Registry, data_name: str) -> dict[str, str]:
    tags = {
        "musiclust.version": __version__,
        "spec.hash": spec.hash(),
        "data.name": data_name,
        "label_informed": "false",
    }
    for family, part in spec.parts():
        info = registry.get(family, part.name)
        tags[f"plugin.{family}.{part.name}"] = f"{info.dist or info.plugin}=={info.version or '?'}"
    commit, dirty = _git_commit()
    if commit:  # the code that ran, where it is a git checkout (an editable install)
        tags["mlflow.source.git.commit"] = commit
        tags["musiclust.git.dirty"] = str(dirty).lower()
    return tags


@functools.cache
def _git_commit() -> tuple[str | None, bool]:
    """The commit of the checkout this package runs from, and whether tracked files differ
    from it; (None, False) outside one. MLflow's UI shows the commit as the run's version."""
    import subprocess

    folder = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if head.returncode != 0:
            return None, False
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, False
    return head.stdout.strip(), bool(dirty)
