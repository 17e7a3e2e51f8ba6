"""After the trials: the parent's tables and plots, the kept trial re-fitted and registered."""

from __future__ import annotations

import logging
import math
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.objectives import COLLAPSED, Objective, describe
from musiclust.registry import Registry
from musiclust.search.confirm import (
    _confirm,
    _confirm_note,
    _confirm_table,
    _RefitHooks,
    _trial_spec,
)
from musiclust.search.options import SearchFailed, SearchOptions, SearchResult, say
from musiclust.search.parent import _end_parent, _log_parent_artifacts
from musiclust.search.storage import redact
from musiclust.search.trial import TrialRunner, _per_epoch
from musiclust.space import SearchSpace

log = logging.getLogger("musiclust")


def _summarise(
    study: Any,
    options: SearchOptions,
    objective: Objective,
    space: SearchSpace,
    parent: str,
    registry: Registry,
    started: float,
) -> SearchResult:
    import mlflow
    import optuna
    from optuna.trial import TrialState

    client = mlflow.MlflowClient()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    _close_orphan_runs(client, trials)
    counts = {
        state.name.lower(): sum(t.state == state for t in trials)
        for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    }
    info = describe(objective)
    result = SearchResult(
        study.study_name,
        redact(options.storage),
        parent,
        client.get_experiment(client.get_run(parent).info.experiment_id).name,
        info["objective"],
        objective.supervised,
        counts,
    )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    metrics = {f"search.trials_{k}": float(v) for k, v in counts.items()}
    metrics["search.seconds"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _trials_table(study, out / "trials.csv")
        result.notes += _plots(study, out / "plots")
        best = None
        if complete:
            runner = TrialRunner(registry, space, objective, options, parent, study.study_name)
            best, confirmed = _confirm(study, runner)
            if confirmed:
                _confirm_table(confirmed, out / "confirmed.csv")
                result.notes.append(_confirm_note(confirmed, best, study.best_trial))
                metrics["best.objective_confirmed"] = next(
                    r["mean"] for r in confirmed if r["trial"] == best.number
                )
            result.best_trial, result.best_value = best.number, float(best.value)
            result.best_label = best.user_attrs.get("pipeline")
            result.best_run_id = best.user_attrs.get("mlflow.run_id")
            (out / "best_spec.yaml").write_text(best.user_attrs.get("spec", ""), encoding="utf-8")
            if result.best_run_id:
                result.best_metrics = {
                    k: v
                    for k, v in client.get_run(result.best_run_id).data.metrics.items()
                    if not _per_epoch(k)
                }
                client.set_tag(parent, "best.run_id", result.best_run_id)
            client.set_tag(parent, "best.trial", str(best.number))
            client.set_tag(parent, "best.pipeline", result.best_label or "")
            metrics.update({f"best.{k}": v for k, v in result.best_metrics.items()})
            metrics["best.objective"] = float(best.value)
        else:
            result.notes.append("no trial completed: nothing to re-fit or register")
            metrics["search.no_trial_completed"] = 1.0
        for start in range(0, len(metrics), 500):
            batch = dict(list(metrics.items())[start : start + 500])
            client.log_batch(
                parent,
                metrics=[
                    mlflow.entities.Metric(k, float(v), int(time.time() * 1000), 0)
                    for k, v in batch.items()
                    if math.isfinite(float(v))
                ],
            )
        _log_parent_artifacts(client, parent, out)
    if best is None:  # every trial failed or was pruned: the search did not do its job
        errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
        last = f"; the last error: {errors[-1]}" if errors else ""
        message = f"no trial completed ({counts['fail']} failed, {counts['pruned']} pruned){last}"
        client.set_tag(parent, "error", message[:5000])
        _end_parent(parent, "FAILED")
        raise SearchFailed(message, "each trial's error is in trials.csv and its child run")
    if not objective.supervised and float(best.value) <= COLLAPSED:
        message = (
            "every completed trial collapsed (one cluster, or one holding most clips): "
            "nothing is re-fitted or registered; widen the space or check the data"
        )
        log.warning(message)
        result.notes.append(message)
        mlflow.MlflowClient().set_tag(parent, "best.collapsed", "true")
    elif best is not None and options.refit:
        _refit_best(study, best, options, objective, space, parent, registry, result)
    _end_parent(parent, "FINISHED")
    return result


def _refit_best(
    study: Any,
    best: Any,
    options: SearchOptions,
    objective: Objective,
    space: SearchSpace,
    parent: str,
    registry: Registry,
    result: SearchResult,
) -> None:
    """Fit the best spec again as a child run with its model, and register the model."""
    import mlflow
    from optuna.trial import TrialState

    from musiclust import pipeline

    client = mlflow.MlflowClient()
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if running:  # another process shares the study: the last one to finish registers
        result.notes.append(
            f"{len(running)} trial(s) still running in another process: the last process to "
            "finish re-fits and registers the best pipeline"
        )
        return
    name = options.register or f"musiclust-{_safe(result.experiment)}"
    versions = client.search_model_versions(f"name='{name}'")
    mine = [v for v in versions if v.tags.get("study.name") == study.study_name]
    for version in mine:
        if version.tags.get("best.trial") == str(best.number):
            result.registered = f"{name}/{version.version}"
            result.notes.append(f"the best pipeline is already registered as {result.registered}")
            client.set_tag(parent, "best.model", result.registered)
            return
    spec = _trial_spec(registry, best, options, options.seed, None)  # every default report
    runner = TrialRunner(registry, space, objective, options, parent, study.study_name)
    hooks = _RefitHooks(runner, best.number)
    say(f"re-fitting the best pipeline (trial {best.number}) with its model")
    run = pipeline.run(spec, registry, log_model=True, progress=False, hooks=hooks)
    result.model_uri = run.model_uri
    from musiclust.model import _quiet_mlflow

    with _quiet_mlflow():
        version = mlflow.register_model(run.model_uri, name)
    tags = {**describe(objective), "study.name": study.study_name, "best.trial": str(best.number)}
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, value)
    # two processes that finish a shared study at once may both get here: the lowest version
    # of the same best trial stays, the others are withdrawn (each checks after registering,
    # so in any order exactly one remains)
    twins = [
        v
        for v in client.search_model_versions(f"name='{name}'")
        if v.tags.get("study.name") == study.study_name
        and v.tags.get("best.trial") == str(best.number)
    ]
    first = min(int(v.version) for v in twins) if twins else int(version.version)
    if first < int(version.version):
        client.delete_model_version(name, str(version.version))
        client.set_tag(run.run_id, "duplicate_of_model", f"{name}/{first}")
        result.registered = f"{name}/{first}"
        result.notes.append(f"another process registered the best pipeline as {name}/{first}")
        return
    result.registered = f"{name}/{version.version}"
    client.set_tag(parent, "best.model", result.registered)
    client.set_tag(parent, "best.refit_run_id", run.run_id)
    for older in mine:  # a resumed study found a better pipeline: the older one is superseded
        client.set_model_version_tag(name, older.version, "superseded_by", str(version.version))


def _close_orphan_runs(client: Any, trials: list[Any]) -> None:
    """Child runs of trials whose process died (state FAIL, run still RUNNING): end them."""
    from optuna.trial import TrialState

    for trial in trials:
        run_id = trial.user_attrs.get("mlflow.run_id")
        if trial.state != TrialState.FAIL or not run_id or "duplicate_of" in trial.user_attrs:
            continue
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, "trial.state", "failed")
                client.set_tag(run_id, "error", "the worker process died during the trial")
                client.set_terminated(run_id, "KILLED")
        except Exception as exc:
            log.warning("could not close the run of trial %s: %s", trial.number, exc)


def _trials_table(study: Any, path: Path) -> None:
    import pandas as pd

    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "pipeline": t.user_attrs.get("pipeline"),
            "run_id": t.user_attrs.get("mlflow.run_id"),
            "seconds": t.duration.total_seconds() if t.duration else None,
            "error": t.user_attrs.get("error"),
            "duplicate_of": t.user_attrs.get("duplicate_of"),
        }
        row.update({f"metric.{k}": v for k, v in (t.user_attrs.get("metrics") or {}).items()})
        row.update({f"param.{k}": v for k, v in t.params.items()})
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)


def _plots(study: Any, out: Path) -> list[str]:
    """Optuna's optimisation history, parameter importances, parallel coordinates (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    out.mkdir(parents=True, exist_ok=True)
    notes = []
    for name, draw in (
        ("optimization_history", ovm.plot_optimization_history),
        ("param_importances", ovm.plot_param_importances),
        ("parallel_coordinate", ovm.plot_parallel_coordinate),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                axes = draw(study)
            figure = np.atleast_1d(axes).ravel()[0].figure
            figure.set_size_inches(10, 6)
            figure.tight_layout()
            figure.savefig(out / f"{name}.png", dpi=100)
            plt.close(figure)
        except (ValueError, RuntimeError, ZeroDivisionError, optuna.exceptions.OptunaError) as exc:
            notes.append(f"plot {name} not drawn: {' '.join(str(exc).split())[:200]}")
            plt.close("all")
    return notes


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
