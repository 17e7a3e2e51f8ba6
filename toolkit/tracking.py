"""MLflow for every run: where runs go, how a run starts and ends, and what it logs.

Tracking goes to ``MLFLOW_TRACKING_URI`` when set, else to an explicit sqlite store
``./mlflow.db`` (artifacts in ``./mlruns``). Under ``mlflow run`` the program logs into the run
that MLflow created (``MLFLOW_RUN_ID``); the experiment is then ``mlflow run``'s choice.
A run that raises ends FAILED with its error as a tag and ``error.txt``; none stays RUNNING.
"""

from __future__ import annotations

import hashlib
import logging
import os
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musiclust.errors import MusiclustError, check_stop, deferred_stop

log = logging.getLogger("musiclust")


class TrackingError(MusiclustError):
    """The tracking store cannot be used: a server that does not answer, a folder missing."""


def tracking_uri() -> str:
    """The store runs go to: one set by the user (``MLFLOW_TRACKING_URI`` or
    ``mlflow.set_tracking_uri``), else ``sqlite:///<working directory>/mlflow.db``."""
    import mlflow

    if mlflow.is_tracking_uri_set():
        return mlflow.get_tracking_uri()
    return f"sqlite:///{(Path.cwd() / 'mlflow.db').resolve()}"


@dataclass(frozen=True)
class ActiveRun:
    run_id: str
    experiment: str


_checked: set[str] = set()
#: Seconds a tracking server has to answer its health check (or a database server its
#: connection) before the command gives up.
SERVER_TIMEOUT = 5.0
#: Database URL schemes, beside sqlite, that MLflow and Optuna reach through SQLAlchemy.
DATABASES = ("postgresql", "mysql", "mssql")


def redact(url: str) -> str:
    """A store URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


@contextmanager
def db_lock(url: str, name: str) -> Iterator[None]:
    """An exclusive lock named ``name`` for the database at ``url``, between processes (and,
    for a database server, machines) that share it: a file lock beside a sqlite file, an
    advisory lock on PostgreSQL, none elsewhere. What is made once per database (MLflow's
    schema, a study and its parent run) is made under it, so processes that start at once
    do not race each other into duplicates or half-made tables."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :]).expanduser()
        with file_lock(path.with_name(f"{path.name}.{name}.lock")):
            yield
    elif url.startswith("postgresql"):
        import sqlalchemy

        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        engine = _engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                try:
                    yield
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        finally:
            engine.dispose()
    else:
        yield


def _engine(url: str) -> Any:
    """A SQLAlchemy engine for one short use: no pool, and for the drivers that take one
    (PostgreSQL, MySQL) a connect timeout, so a server that does not answer fails in seconds."""
    import sqlalchemy

    timeout = {"connect_timeout": int(SERVER_TIMEOUT)}
    args = timeout if url.startswith(("postgresql", "mysql")) else {}
    return sqlalchemy.create_engine(url, connect_args=args, poolclass=sqlalchemy.NullPool)


def use_store() -> None:
    """Point MLflow at :func:`tracking_uri` and make sure the store answers (once per process
    and store): a new sqlite store is created under a file lock, so processes that start at
    once on a store that does not exist yet do not race MLflow's schema creation (they used to
    crash, and could leave the store broken for good); a tracking server that does not answer
    fails in seconds, in one line naming it, instead of after minutes of retries."""
    import mlflow

    uri = check_store()
    if uri in _checked:
        return
    if uri.startswith(("sqlite:///", *DATABASES)):
        # SIGTERM waits while the schema is created: cut half-way, the store stayed broken
        # for good ("table assessments already exists"; once in 16 random SIGTERMs)
        with db_lock(uri, "schema"), deferred_stop():
            mlflow.MlflowClient().search_experiments(max_results=1)  # creates the schema
    else:
        try:
            mlflow.MlflowClient()
        except mlflow.exceptions.MlflowException as exc:  # an unknown scheme, a bad URI
            first = " ".join(str(exc).split()).split(". ")[0][:300]
            raise TrackingError(
                f"tracking store {uri}: {first}",
                "set MLFLOW_TRACKING_URI to a sqlite:///, postgresql:// or http(s):// URI",
            ) from None
    _checked.add(uri)


def check_store() -> str:
    """The tracking URI, checked without creating anything: a sqlite store's folder exists
    and can be written, a server answers its health check. Raises :class:`TrackingError`."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if not mlflow.is_tracking_uri_set():
        mlflow.set_tracking_uri(tracking_uri())
    uri = mlflow.get_tracking_uri()
    if uri in _checked:
        return uri
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :])
        if not path.parent.is_dir():
            raise TrackingError(f"tracking store {uri}: the folder {path.parent} does not exist")
        if not path.exists() and not os.access(path.parent, os.W_OK):
            raise TrackingError(f"tracking store {uri}: the folder {path.parent} is not writable")
    elif uri.startswith(("http://", "https://")):
        _check_server(uri)
        _checked.add(uri)
    elif uri.startswith(DATABASES):
        check_database(uri, f"tracking store {redact(uri)}")
    return uri


def check_database(url: str, what: str) -> None:
    """Connect once to a database server with a short timeout: an unreachable server fails
    in seconds, in one line naming it (without its password), not after a driver's retries."""
    try:
        engine = _engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except ImportError as exc:
        raise TrackingError(
            f"{what}: the database driver for it is not installed ({exc.name})",
            "for PostgreSQL: pip install 'musiclust[postgres]' (psycopg)",
        ) from None
    except Exception as exc:
        first = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise TrackingError(
            f"{what} does not answer within {SERVER_TIMEOUT:g} s: {first}",
            "start the database server, or check the host, port, user and password",
        ) from None


def _check_server(uri: str) -> None:
    import requests

    try:
        answer = requests.get(f"{uri.rstrip('/')}/health", timeout=SERVER_TIMEOUT)
    except requests.RequestException as exc:
        raise TrackingError(
            f"tracking server {uri} does not answer within {SERVER_TIMEOUT:g} s "
            f"({type(exc).__name__})",
            "start it, or point MLFLOW_TRACKING_URI elsewhere",
        ) from None
    if answer.status_code >= 500:
        raise TrackingError(f"tracking server {uri} answered HTTP {answer.status_code}")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if needed) between processes on this machine;
    a no-op where ``fcntl`` is missing (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def tracked_run(
    experiment: str,
    run_name: str,
    tags: dict[str, str],
    parent_run_id: str | None = None,
    stops: tuple[type[BaseException], ...] = (),
) -> Iterator[ActiveRun]:
    """Start (or, under ``mlflow run``, join) a run; end it FINISHED, FAILED or KILLED.

    With ``parent_run_id`` the run is a child of that run, in its experiment (a search trial).
    An exception in ``stops`` (a pruned trial) ends the run KILLED without an error record."""
    import mlflow

    use_store()
    given = os.environ.get("MLFLOW_RUN_ID")
    # SIGTERM waits while MLflow creates or ends the run: cut half-way, a run stayed RUNNING
    # (once in about 30 SIGTERMs sent to a search, the run of the trial being started); a
    # stop that came meanwhile is raised inside the try, which ends the run KILLED
    active = None
    try:
        with deferred_stop(after=False):
            if parent_run_id:
                os.environ.pop("MLFLOW_RUN_ID", None)  # the parent's, under `mlflow run`
                parent = mlflow.MlflowClient().get_run(parent_run_id)
                active = mlflow.start_run(
                    experiment_id=parent.info.experiment_id,
                    run_name=run_name,
                    parent_run_id=parent_run_id,
                    nested=True,
                )
            elif given:
                active = mlflow.start_run(run_id=given)
            else:
                mlflow.set_experiment(experiment)
                active = mlflow.start_run(run_name=run_name)
        check_stop()
        mlflow.set_tags(tags)
        yield ActiveRun(active.info.run_id, mlflow.get_experiment(active.info.experiment_id).name)
    except stops:
        _end("KILLED", active)
        raise
    except KeyboardInterrupt as exc:
        if active is not None:
            _record_error(str(exc) or "interrupted by the user")
        _end("KILLED", active)
        raise
    except BaseException as exc:
        if active is not None:
            _record_error(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        _end("FAILED", active)
        raise
    else:
        _end("FINISHED", active)


def _end(status: str, active: Any) -> None:
    """End the run this context started (none when starting it failed)."""
    import mlflow

    if active is not None:
        with deferred_stop():
            mlflow.end_run(status)


def _record_error(message: str, details: str | None = None) -> None:
    import mlflow

    try:
        mlflow.set_tag("error", " ".join(message.split())[:5000])
        if details:
            mlflow.log_text(details, "error.txt")
    except Exception as exc:  # the store itself may be the problem; the run still ends
        log.warning("could not record the error in MLflow: %s", exc)


def log_params(params: dict[str, str]) -> None:
    import mlflow

    items = list(params.items())
    for start in range(0, len(items), 100):  # MLflow's batch limit
        mlflow.log_params(dict(items[start : start + 100]))


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    import mlflow

    if metrics:
        mlflow.log_metrics(metrics, step=step)


def log_history(history: list[dict[str, float]]) -> None:
    """Per-epoch metrics (``train.loss``, ``val.loss``, ``kl`` ...) with the epoch as the step,
    in batches (one call per 1000 values instead of one per value)."""
    import math
    import time

    import mlflow
    from mlflow.entities import Metric

    run = mlflow.active_run()
    if not history or run is None:
        return
    now = int(time.time() * 1000)
    values = [
        Metric(key, float(value), now, int(row.get("epoch", step)))
        for step, row in enumerate(history)
        for key, value in row.items()
        if key != "epoch" and math.isfinite(float(value))
    ]
    client = mlflow.MlflowClient()
    for start in range(0, len(values), 1000):
        client.log_batch(run.info.run_id, metrics=values[start : start + 1000])


def log_artifacts(directory: Path) -> None:
    import mlflow

    mlflow.log_artifacts(str(directory))


def log_dataset(manifest: Any, name: str, source: str, digest: str) -> None:
    """Record the clip list as the run's input data set (shown in the MLflow UI)."""
    import mlflow
    import mlflow.data

    with warnings.catch_warnings():  # "source can be interpreted in multiple ways": a local path
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(manifest, source=source, name=name, digest=digest[:36])
    mlflow.log_input(dataset, context="clustering")


def set_tags(tags: dict[str, str]) -> None:
    import mlflow

    mlflow.set_tags(tags)
