"""The study's parent MLflow run: started once, joined on resume, ended once."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from musiclust import __version__
from musiclust.errors import (
    SpecError,
)
from musiclust.objectives import Objective, describe
from musiclust.search.options import SearchOptions
from musiclust.search.storage import redact
from musiclust.space import SearchSpace

log = logging.getLogger("musiclust")


def _parent_run(
    study: Any,
    options: SearchOptions,
    objective: Objective,
    space: SearchSpace,
    data_name: str,
    study_name: str,
) -> str:
    """The study's MLflow run: the one the study names (resume), the one `mlflow run` made,
    or a new one."""
    import mlflow

    from musiclust import tracking

    client = mlflow.MlflowClient()
    known = study.user_attrs.get("mlflow.run_id")
    given = os.environ.pop("MLFLOW_RUN_ID", None)
    if known:
        try:
            run = client.get_run(known)
        except mlflow.exceptions.MlflowException:
            raise SpecError(
                f"study '{study_name}' logs to MLflow run {known}, which this tracking store "
                f"({tracking.tracking_uri()}) does not have",
                "point MLFLOW_TRACKING_URI at the store the study started with",
            ) from None
        client.update_run(known, status="RUNNING")
        if given and given != known:
            log.warning("continuing the study's own run %s, not mlflow run's %s", known, given)
        return run.info.run_id
    if given:
        run_id = given
    else:
        name = options.experiment or data_name
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        run_id = client.create_run(experiment_id, run_name=f"search {study_name}").info.run_id
    info = describe(objective)
    tags = {
        "musiclust.kind": "search",
        "musiclust.version": __version__,
        "data.name": data_name,
        "study.name": study_name,
        "study.storage": redact(options.storage),
        "search.space_hash": space.hash(),
        **info,
    }
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    params = {
        "search.objective": info["objective"],
        "search.encoders": ",".join(space.encoders),
        "search.clusterers": ",".join(sorted({c for cs in space.clusterers.values() for c in cs})),
        "search.features": ",".join(options.features) if options.features else "encoder defaults",
        "search.sets": " ".join(space.fixed) or "none",
        "search.pruner": options.pruner,
        "search.start": options.start,
        "spec.seed": str(options.seed),
    }
    for key, value in params.items():
        client.log_param(run_id, key, value)
    client.log_text(run_id, "\n".join(space.describe()) + "\n", "search_space.txt")
    study.set_user_attr("mlflow.run_id", run_id)
    return run_id


def _end_parent(run_id: str, status: str) -> None:
    import mlflow

    try:
        mlflow.MlflowClient().set_terminated(run_id, status)
    except Exception as exc:  # the store may be the problem
        log.warning("could not end the study's run: %s", exc)


def _log_parent_artifacts(client: Any, parent: str, out: Path) -> None:
    """The study's tables and plots on its parent run. Several processes that share a study
    may finish at once and write the same files: a local artifact store can then fail on a
    folder the other just made, so try again before giving up (with a warning)."""
    for attempt in range(3):
        try:
            client.log_artifacts(parent, str(out))
            return
        except OSError as exc:
            if attempt == 2:
                log.warning("could not log the study's tables and plots: %s", exc)
            time.sleep(0.5 + attempt)
