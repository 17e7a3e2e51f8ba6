"""``musiclust search``: an Optuna study over plugin combinations, tracked in MLflow.

    study (parent run: space, best spec, best.<metric>, Optuna plots, trials.csv)
      |-- trial 0 (child run: the full resolved spec, metrics, objective, trial.state)
      |-- trial 1 ...
      |-- confirm trial N, seed S (child runs: the best trials fitted with more seeds)
      `-- best (child run: the kept spec re-fitted, its model registered)

Each trial is one :func:`toolkit.pipeline.run` of a spec the space suggests, scored by the
objective (:mod:`toolkit.objectives`) in the data set's reference space. Trained encoders
report the same objective at intermediate epochs so the pruner compares like with like.
Before one trial is kept, the few best are fitted again with more seeds and the best mean
wins (:func:`_confirm`: the best of many noisy scores is biased up).

The study lives in an Optuna RDB storage (a sqlite file by default) and names the MLflow
parent run in its user attributes, so ``--resume`` (after a crash or ``kill -9``) and extra
workers (processes here, or machines sharing a PostgreSQL URL) all add to the same study and
the same parent run. Trials whose process died are failed by Optuna's heartbeat and retried
once.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from toolkit import __version__
from toolkit.errors import (
    MusiclustError,
    SpecError,
    check_stop,
    deferred_stop,
    did_you_mean,
    stop_on_sigterm,
)
from toolkit.objectives import COLLAPSED, Inputs, Objective, describe, get_objective, refitter
from toolkit.pipeline import RunHooks
from toolkit.registry import Registry, get_registry
from toolkit.space import SearchSpace, shared_sets

log = logging.getLogger("musiclust")

HEARTBEAT_S = 10
GRACE_S = 60
#: Intermediate objective reports per trained encoder (for the pruner).
REPORTS = 8
#: Seeds beyond the search's own that each confirmed trial is fitted and scored with.
CONFIRM_SEEDS = 2
#: Epochs before the pruner may stop a trial (beta warm-ups, early noise).
WARMUP_EPOCHS = 100


@dataclass
class SearchOptions:
    data: str | None = None
    source: str | None = None
    config: str | None = None
    features: list[str] | None = None
    encoders: list[str] | None = None
    clusterers: list[str] | None = None
    sets: list[str] = field(default_factory=list)
    seed: int = 0
    trials: int = 20
    storage: str = "sqlite:///optuna.db"
    study: str | None = None
    resume: bool = False
    objective: str | None = None
    workers: int = 1
    experiment: str | None = None
    register: str | None = None
    pruner: str = "median"
    refit: bool = True
    #: The best trials re-scored with CONFIRM_SEEDS more seeds before one is picked (0: none).
    confirm: int = 3
    #: Reports for every trial (None: every default one); the re-fitted best run gets all.
    reports: list[str] | None = field(default_factory=list)

    def base(self) -> dict[str, Any]:
        """The build_spec options every trial shares."""
        return {"data": self.data, "source": self.source, "config": self.config, "seed": self.seed}


@dataclass
class SearchResult:
    study: str
    storage: str
    parent_run_id: str
    experiment: str
    objective: str
    label_tuned: bool
    counts: dict[str, int]
    best_trial: int | None = None
    best_value: float | None = None
    best_label: str | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    best_run_id: str | None = None
    model_uri: str | None = None
    registered: str | None = None
    notes: list[str] = field(default_factory=list)


# -- the study ------------------------------------------------------------------------------
def search(options: SearchOptions, registry: Registry | None = None) -> SearchResult:
    """Run (or resume) a study until it holds ``options.trials`` finished trials."""
    import optuna

    from toolkit import tracking

    registry = registry or get_registry()
    _quiet_optuna()
    if options.trials < 1:
        raise SpecError(f"--trials must be at least 1, got {options.trials}")
    if options.workers < 1:
        raise SpecError(f"--workers must be at least 1, got {options.workers}")
    objective = get_objective(options.objective, options.seed)
    dataset, space = prepare(registry, options)
    if objective.supervised:
        if not dataset.label_columns:
            raise SpecError(f"objective '{options.objective}' needs labels; the data has none")
        if objective.label is not None and objective.label not in dataset.label_columns:
            raise SpecError(  # before any work: a typo used to cost every trial
                f"objective '{options.objective}': the data has no label column "
                f"'{objective.label}' (its label columns: {', '.join(dataset.label_columns)})",
                did_you_mean(objective.label, dataset.label_columns),
            )
        log.warning(
            "LABEL-TUNED: the objective reads the labels; the study is tagged label_tuned=true "
            "and its scores are not unsupervised results"
        )
    tracking.check_store()  # before anything is created in Optuna: the store must answer
    tag = describe(objective)["objective"].replace(":", "-")
    study_name = f"{options.study or f'{dataset.name}-{tag}'}-{space.hash()}"
    storage = make_storage(options.storage)
    exists = study_name in optuna.study.get_all_study_names(storage)
    if exists and not options.resume:
        done = len(optuna.load_study(study_name=study_name, storage=storage).trials)
        raise SpecError(
            f"study '{study_name}' already exists in {redact(options.storage)} ({done} trials)",
            "add --resume to continue it, or give another --study NAME",
        )
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction=objective.direction,
        sampler=make_sampler(options.seed, options.workers),
        pruner=make_pruner(options.pruner),
        load_if_exists=True,
    )
    tracking.use_store()
    parent = _parent_run(study, options, objective, space, dataset.name, study_name)
    for note in space.notes:
        log.warning(note)
    started = time.perf_counter()
    say(f"study '{study_name}' in {redact(options.storage)}; parent run {parent}")
    for line in space.describe():
        say("  " + line)
    payload = WorkerArgs(
        options, study_name, parent, objective.name, objective.label, tracking.tracking_uri()
    )
    try:
        remaining = options.trials - len(_finished(study))
        if remaining > 0:
            if options.workers == 1:
                run_worker(payload, 0, space)
            else:
                _spawn(payload, options.workers)
        else:
            say(f"the study already holds {options.trials} finished trials; nothing to run")
        return _summarise(study, options, objective, space, parent, registry, started)
    except KeyboardInterrupt:
        _end_parent(parent, "KILLED")
        say("interrupted: finished trials are kept; continue with the same command and --resume")
        raise
    except BaseException as exc:
        import mlflow

        _end_parent(parent, "FAILED")
        mlflow.MlflowClient().set_tag(parent, "error", " ".join(str(exc).split())[:5000])
        raise


def prepare(registry: Registry, options: SearchOptions) -> tuple[Any, SearchSpace]:
    """The data set's clip list (decodes nothing, with the user's source settings) and the
    space checked against it."""
    from toolkit import reference
    from toolkit.spec import build_spec, instantiate

    spec = build_spec(registry, **options.base(), sets=shared_sets(registry, options.sets))
    dataset = instantiate(registry, "source", spec.source, options.seed).load()
    modalities = {
        m for m, ok in (("audio", dataset.has_audio), ("lyrics", dataset.has_lyrics)) if ok
    }
    space = SearchSpace.build(
        registry,
        options.base(),
        options.encoders,
        options.clusterers,
        options.features,
        options.sets,
        modalities,
        len(dataset.clips),
    )
    space.reference = ",".join(
        reference.resolve(
            registry, spec.reference["features"], dataset.has_audio, dataset.has_lyrics
        )
    )
    return dataset, space


def make_storage(url: str) -> Any:
    """An RDB storage with heartbeats (so a killed worker's trial is failed and retried)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    from toolkit.tracking import file_lock

    engine_kwargs: dict[str, Any] = {}
    lock: Path | None = None
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):  # an unreachable server fails in seconds, not minutes
        engine_kwargs = {"connect_args": {"connect_timeout": 10}}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :]).expanduser().resolve()
        if not path.parent.is_dir():
            raise SpecError(f"--storage {url}: the folder {path.parent} does not exist")
        lock = path.with_name(path.name + ".lock")  # one process at a time creates the schema
    try:
        for attempt in range(3):
            try:
                with (
                    warnings.catch_warnings(),
                    file_lock(lock) if lock else contextlib.nullcontext(),
                ):
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                            max_retry=1
                        ),
                    )
            except Exception as exc:  # another process creating the same new database
                racing = type(exc).__name__ in ("IntegrityError", "OperationalError")
                if not racing or attempt == 2:
                    raise
                time.sleep(1.0 + attempt)
        raise AssertionError("unreachable")
    except ImportError:
        raise SpecError(
            f"--storage {redact(url)}: the database driver for it is not installed",
            "for PostgreSQL: pip install 'musiclust[postgres]' (psycopg2-binary)",
        ) from None
    except Exception as exc:
        first = " ".join(str(exc).split())[:200]
        raise SpecError(
            f"--storage {redact(url)}: cannot open it ({type(exc).__name__}: {first})",
            "use sqlite:///path/optuna.db or a database URL such as "
            "postgresql://user:password@host/db",
        ) from None


def make_sampler(seed: int, workers: int, offset: int = 0) -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed + offset,
            multivariate=True,
            group=True,  # conditional spaces: parameters of the same plugins model together
            constant_liar=True,  # other processes (workers, machines) may be mid-trial
        )


def make_pruner(name: str) -> Any:
    import optuna

    if name == "median":
        # steps are epochs: no verdict before a trained encoder's first 100 (warm-ups end)
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=WARMUP_EPOCHS)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SpecError(f"unknown pruner '{name}'; known: median, none")


def redact(url: str) -> str:
    """A storage URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


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

    from toolkit import tracking

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


def _finished(study: Any, replays: bool = False) -> list[Any]:
    """The study's finished trials; without ``replays``, not those that proposed a spec
    already run (their score is reused) or a plugin that fails every trial (not run): they do
    not count toward ``--trials``."""
    from optuna.trial import TrialState

    trials = study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    if replays:
        return trials
    return [
        t for t in trials if "duplicate_of" not in t.user_attrs and "skipped" not in t.user_attrs
    ]


class _Enough:
    """Stop a worker once the study holds ``trials`` distinct finished trials (counted across
    every process that shares the study), or when the sampler keeps proposing pipelines already
    run: the space then holds fewer distinct pipelines than were asked for."""

    def __init__(self, trials: int) -> None:
        self.trials = trials

    def __call__(self, study: Any, trial: Any) -> None:
        check_stop()
        everything = _finished(study, replays=True)
        distinct = _finished(study)
        replays = len(everything) - len(distinct)
        if len(distinct) >= self.trials:
            study.stop()
        elif replays >= max(self.trials, 10):
            log.warning(
                "the sampler proposed %d pipelines already run: the space holds fewer distinct "
                "pipelines than --trials %d; stopping at %d",
                replays,
                self.trials,
                len(distinct),
            )
            study.stop()


def _sampler_offset(study: Any, index: int) -> int:
    """A fresh study's first process samples from ``--seed`` (reproducible); a process that
    resumes or joins a study that has trials draws its own stream, so it does not replay the
    pipelines the first one proposed."""
    done = len(study.trials)
    if not done:
        return index
    return int.from_bytes(os.urandom(4), "little") % (2**31 - 1) + index


def _spawn(payload: WorkerArgs, workers: int) -> None:
    context = multiprocessing.get_context("spawn")  # fork and torch's threads do not mix
    processes = [
        context.Process(target=run_worker, args=(payload, i), name=f"musiclust-worker-{i}")
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()
        raise
    failed = [p.name for p in processes if p.exitcode]
    if failed:
        log.warning("worker(s) %s ended with an error; see above", ", ".join(failed))


# -- a worker: the trial loop ----------------------------------------------------------------
@dataclass
class WorkerArgs:
    options: SearchOptions
    study: str
    parent: str
    objective: str
    label: str | None
    tracking_uri: str


def run_worker(args: WorkerArgs, index: int, space: SearchSpace | None = None) -> None:
    """Run trials of the study until it holds ``options.trials`` finished ones (a spawned
    worker builds the space again from the options; the searching process passes its own)."""
    import optuna

    options = args.options
    if index or options.workers > 1:  # a spawned process: its own logging and threads
        import mlflow

        _worker_setup(options.workers)
        stop_on_sigterm()  # the searching process stops its workers with SIGTERM
        mlflow.set_tracking_uri(args.tracking_uri)
    _quiet_optuna()
    registry = get_registry()
    objective = get_objective(
        args.objective if args.label is None else f"{args.objective}:{args.label}", options.seed
    )
    space = space or prepare(registry, options)[1]
    storage = make_storage(options.storage)
    study = optuna.load_study(study_name=args.study, storage=storage)
    study.sampler = make_sampler(
        options.seed, options.workers, offset=_sampler_offset(study, index)
    )
    study.pruner = make_pruner(options.pruner)
    if options.trials - len(_finished(study)) <= 0:
        return
    trial_fn = TrialRunner(registry, space, objective, options, args.parent, args.study)
    with deferred_stop():  # SIGTERM never cuts Optuna's storing of a trial half-way
        study.optimize(
            trial_fn, catch=(Exception,), callbacks=[_Enough(options.trials)], gc_after_trial=True
        )


def _worker_setup(workers: int) -> None:
    from toolkit.cli import configure_logging

    configure_logging(0)
    threads = max(1, (os.cpu_count() or 1) // workers)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)


class TrialRunner:
    """The Optuna objective: suggest a spec, run it as a child run, return its score."""

    def __init__(
        self,
        registry: Registry,
        space: SearchSpace,
        objective: Objective,
        options: SearchOptions,
        parent: str,
        study: str,
    ) -> None:
        self.registry = registry
        self.space = space
        self.objective = objective
        self.options = options
        self.parent = parent
        self.study = study

    def __call__(self, trial: Any) -> float:
        import optuna

        from toolkit import pipeline
        from toolkit.spec import build_spec

        check_stop()
        choice = self.space.suggest(trial)
        trial.set_user_attr("pipeline", choice.label())
        broken = _broken(trial.study, choice)
        if broken:  # no run: the sampler learns to avoid it, and it does not count as a trial
            trial.set_user_attr("skipped", broken)
            say(f"trial {trial.number} skipped: {choice.label()}: {broken}")
            return COLLAPSED
        hooks = TrialHooks(self, trial)
        try:
            spec = build_spec(
                self.registry,
                **self.options.base(),
                features=choice.features,
                encoder=choice.encoder,
                clusterer=choice.clusterer,
                reports=self.options.reports,
                sets=choice.sets,
            )
            trial.set_user_attr("spec.hash", spec.hash())
            trial.set_user_attr("spec", spec.to_yaml())
            twin = _twin(trial, spec.hash())
            if twin is not None:  # the sampler repeated a finished trial: reuse its score
                for key in ("mlflow.run_id", "metrics"):
                    if key in twin.user_attrs:
                        trial.set_user_attr(key, twin.user_attrs[key])
                trial.set_user_attr("duplicate_of", twin.number)
                say(f"trial {trial.number}: same spec as trial {twin.number}, score reused")
                return float(twin.value)
            with deferred_stop(now=True):  # the trial's own run stops at once
                result = pipeline.run(
                    spec, self.registry, log_model=False, progress=False, hooks=hooks
                )
        except optuna.TrialPruned as exc:
            hooks.finish("pruned")
            say(f"trial {trial.number} pruned: {choice.label()}: {exc}")
            raise
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the run ended KILLED, say so
            hooks.finish("interrupted")
            raise
        except Exception as exc:
            message = " ".join(str(exc).split())[:500] or type(exc).__name__
            trial.set_user_attr("error", f"{type(exc).__name__}: {message}")
            hooks.finish("failed")
            say(f"trial {trial.number} failed: {choice.label()}: {type(exc).__name__}: {message}")
            raise
        trial.set_user_attr("spec", result.spec.to_yaml())  # as run (adapted to the data)
        value = float(result.metrics["objective"])
        kept = {k: v for k, v in result.metrics.items() if _kept_metric(k)}
        trial.set_user_attr("metrics", kept)
        trial.set_user_attr("collapsed", result.tags.get("collapsed", "false"))
        hooks.finish("complete")
        shown = "  ".join(
            [f"K {kept['n_clusters']:.0f}"] * ("n_clusters" in kept)
            + [f"{k} {kept[k]:.3f}" for k in sorted(kept) if k.endswith(".ami")]
        )
        say(
            f"trial {trial.number}: {choice.label()}: {self.objective.name} {value:.4f}"
            + (f"  ({shown})" if shown else "")
        )
        return value


#: Failed trials (and no complete one) after which a plugin is no longer run in a study.
BROKEN_AFTER = 3


def _plugins(trial: Any) -> list[tuple[str, str]]:
    """(family, name) of the encoder, clusterer and listed features a trial picked."""
    encoder = trial.params.get("encoder")
    clusterer = trial.params.get("clusterer") or trial.params.get(f"{encoder}.clusterer")
    features = str(trial.params.get(f"{encoder}.features") or "")
    return [("encoder", encoder), ("clusterer", clusterer)] + [
        ("feature", f) for f in features.split(",") if f
    ]


def _broken(study: Any, choice: Any) -> str | None:
    """Why a trial's choice is not worth running: one of its plugins failed its last
    BROKEN_AFTER trials in this study and never completed one (a third-party plugin that
    always raises would otherwise be sampled again and again)."""
    from optuna.trial import TrialState

    picked = [("encoder", choice.encoder), ("clusterer", choice.clusterer)]
    picked += [("feature", f) for f in choice.features or []]
    states = (TrialState.COMPLETE, TrialState.FAIL)
    past = [
        t for t in study.get_trials(deepcopy=False, states=states) if "skipped" not in t.user_attrs
    ]
    for family, name in picked:
        mine = [t for t in past if (family, name) in _plugins(t)]
        failed = [t for t in mine if t.state == TrialState.FAIL]
        if len(failed) >= BROKEN_AFTER and len(failed) == len(mine):
            last = failed[-1].user_attrs.get("error", "")
            return (
                f"{family} '{name}' failed all {len(failed)} of its trials in this study "
                f"(last: {last[:120]})"
            )
    return None


def _kept_metric(key: str) -> bool:
    """Metrics a trial keeps in the study (the trials table), besides its MLflow run."""
    return (
        key.startswith("objective")
        or key
        in (
            "n_clusters",
            "largest_cluster_share",
            "noise_share",
            "active_units",
            "silhouette",
            "reference.silhouette",
            "fit_seconds",
        )
        or key.endswith((".ami", ".ari", ".nmi", ".purity"))
    )


def _per_epoch(key: str) -> bool:
    """Training-curve keys (their last epoch's value is no result of the run)."""
    return key.startswith(("train.", "val.")) or key in (
        "kl",
        "beta",
        "seconds",
        "objective.intermediate",
    )


def _twin(trial: Any, spec_hash: str) -> Any:
    from optuna.trial import TrialState

    for other in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if other.user_attrs.get("spec.hash") == spec_hash and other.number != trial.number:
            return other
    return None


class TrialHooks(RunHooks):
    """A trial's part in its pipeline run: child run, pruning reports, the objective."""

    #: Trained encoders report the objective during training (for the pruner).
    reports_epochs = True

    def __init__(self, runner: TrialRunner, trial: Any) -> None:
        import optuna

        self.runner = runner
        self.trial = trial
        self.parent_run_id = runner.parent
        self.stops = (optuna.TrialPruned,)
        self.quiet = True
        self.run_id: str | None = None

    def tags(self) -> dict[str, str]:
        return {
            "musiclust.kind": "trial",
            "study.name": self.runner.study,
            "trial.number": str(self.trial.number),
            "trial.state": "running",
            **describe(self.runner.objective),
        }

    def run_name(self, name: str) -> str:
        return f"trial {self.trial.number}: {name}"

    def started(self, run_id: str) -> None:
        self.run_id = run_id
        self.trial.set_user_attr("mlflow.run_id", run_id)
        self.trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")

    def finish(self, state: str) -> None:
        if self.run_id is None:
            return
        import mlflow

        try:
            mlflow.MlflowClient().set_tag(self.run_id, "trial.state", state)
        except Exception as exc:
            log.warning("could not tag trial %s's run: %s", self.trial.number, exc)

    # -- scoring -----------------------------------------------------------------------------
    def before_fit(self, chain: Any, extraction: Any, reference: np.ndarray | None) -> None:
        self.chain = chain
        self.n = len(extraction.dataset.clips)
        self.groups = chain.row_groups(extraction.blocks)
        self.rows = None if reference is None else ~np.isnan(reference).any(axis=1)
        self.reference = None if reference is None else reference[self.rows]
        self.labels = {}
        if self.runner.objective.supervised:
            self.labels = {
                col: np.array([c.labels.get(col) for c in extraction.dataset.clips], dtype=object)
                for col in extraction.dataset.label_columns
            }
        encoder = chain.encoder
        epochs = getattr(encoder, "epochs", None)
        reportable = epochs and not getattr(chain.clusterer, "needs_encoder_method", None)
        if self.reports_epochs and reportable:
            self.every = max(1, epochs // REPORTS)
            encoder.epoch_callback = self.on_epoch

    def on_epoch(self, epoch: int, row: dict[str, float], encode: Any) -> None:
        """Score the current latent the way the finished trial will be scored; maybe prune."""
        import mlflow
        import optuna

        if (epoch + 1) % self.every:
            return
        clusterer = self.fresh_clusterer(0)
        rows = encode()
        latent, clusters = self.chain.clip_clusters(
            rows, self.groups, self.n, clusterer.fit_predict
        )
        value = self.runner.objective.score(self.inputs(latent, clusters, None, rows)).value
        self.trial.report(value, epoch)
        mlflow.log_metric("objective.intermediate", value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(
                f"objective {value:.4f} at epoch {epoch} is below the median of earlier trials"
            )

    def score(self, ev: Any, metrics: dict[str, float]) -> dict[str, float]:
        rows = getattr(self.chain, "fit_rows_", None)
        scored = self.runner.objective.score(
            self.inputs(ev.latent, ev.clusters, metrics.get("active_units"), rows)
        )
        if scored.reason:
            self.trial.set_user_attr("objective.note", f"collapsed: {scored.reason}")
        return {"objective": scored.value, **{f"objective.{k}": v for k, v in scored.parts.items()}}

    def inputs(
        self,
        latent: np.ndarray,
        clusters: np.ndarray,
        active_units: float | None,
        rows: np.ndarray | None = None,
    ) -> Inputs:
        """What the objective scores; its re-fits redo the trial's own way to clip clusters."""
        refit = refitter(self.fresh_clusterer, latent, clusters, self.chain.back, self.groups, rows)
        return Inputs(
            clusters=np.asarray(clusters),
            reference=self.reference,
            reference_rows=self.rows,
            refit=refit,
            active_units=active_units,
            labels=self.labels,
        )

    def fresh_clusterer(self, draw: int) -> Any:
        """An unfitted twin of the trial's clusterer, seeded for this draw."""
        twin = type(self.chain.clusterer)(**self.chain.clusterer.get_params())
        twin.random_state = self.runner.options.seed + draw
        return twin


# -- after the trials ------------------------------------------------------------------------
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


class SearchFailed(MusiclustError):
    """A search none of whose trials completed (its parent run ends FAILED)."""


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

    from toolkit import pipeline

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
    from toolkit.model import _quiet_mlflow

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


def _trial_spec(
    registry: Registry, trial: Any, options: SearchOptions, seed: int, reports: Any
) -> Any:
    """A finished trial's spec, as run, for another fit (the search's own data options)."""
    import yaml

    from toolkit.spec import build_spec

    with tempfile.TemporaryDirectory() as tmp:
        data = yaml.safe_load(trial.user_attrs["spec"])
        data.pop("source", None)  # the search's own data options rebuild it
        data.pop("reports", None)
        path = Path(tmp) / "trial.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return build_spec(
            registry,
            data=options.data,
            source=options.source,
            config=str(path),
            seed=seed,
            reports=reports,
            sets=shared_sets(registry, options.sets),  # the source's own (csv.lyrics_column)
        )


def _confirm(study: Any, runner: TrialRunner) -> tuple[Any, list[dict[str, Any]]]:
    """The trial to keep, and the table it was confirmed from (empty: none was needed).

    The best of many noisy scores is biased up (the winner's curse: Cawley and Talbot, 2010):
    a trained encoder that drew a lucky initialisation, or a clustering whose bootstrap draws
    happened to agree, tops the study and does not come back. So the ``confirm`` best trials
    (distinct specs, not collapsed) are fitted again with CONFIRM_SEEDS more seeds (the
    encoder's and clusterer's initialisations, the objective's draws), each scored like a
    trial as a child run, and the trial with the best mean score is kept. A study resumed
    later reuses the scores already taken (kept in the study's user attributes)."""
    from optuna.study import StudyDirection
    from optuna.trial import TrialState

    options = runner.options
    sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    ranked = sorted(complete, key=lambda t: sign * float(t.value), reverse=True)
    candidates, specs = [], set()
    for trial in ranked:
        spec_hash = trial.user_attrs.get("spec.hash")
        if spec_hash in specs or trial.user_attrs.get("collapsed") == "true":
            continue
        if "spec" not in trial.user_attrs:
            continue
        specs.add(spec_hash)
        candidates.append(trial)
    candidates = candidates[: options.confirm]
    if len(candidates) < 2:
        return ranked[0], []
    taken = dict(study.user_attrs.get("confirmed", {}))  # "trial:seed" -> score
    say(
        f"confirming the {len(candidates)} best trials with {CONFIRM_SEEDS} more seeds each "
        "(the best of many noisy scores is biased up)"
    )
    rows = []
    for trial in candidates:
        scores = [float(trial.value)]
        for extra in range(1, CONFIRM_SEEDS + 1):
            seed = options.seed + extra
            key = f"{trial.number}:{seed}"
            if key not in taken:
                taken[key] = _rescore(trial, seed, runner)
                study.set_user_attr("confirmed", taken)
            scores.append(taken[key])
        finite = [v for v in scores if math.isfinite(v)]
        mean = float(np.mean(finite)) if len(finite) == len(scores) else -sign * math.inf
        rows.append(
            {
                "trial": trial.number,
                "pipeline": trial.user_attrs.get("pipeline", ""),
                "scores": scores,
                "mean": mean,
                "spread": float(np.std(finite)) if finite else math.nan,
            }
        )
        say(
            f"  trial {trial.number}: {rows[-1]['pipeline']}: "
            + ", ".join(f"{v:.4f}" for v in scores)
            + f" (mean {mean:.4f})"
        )
    if not any(math.isfinite(r["mean"]) for r in rows):
        return ranked[0], []
    top = max(rows, key=lambda r: sign * r["mean"])
    return next(t for t in candidates if t.number == top["trial"]), rows


def _rescore(trial: Any, seed: int, runner: TrialRunner) -> float:
    """A trial's spec fitted and scored again with another seed, as a child run."""
    from toolkit import pipeline

    objective, options, registry = runner.objective, runner.options, runner.registry
    name = objective.name if objective.label is None else f"{objective.name}:{objective.label}"
    again = TrialRunner(
        registry,
        runner.space,
        get_objective(name, seed),
        replace(options, seed=seed),
        runner.parent,
        runner.study,
    )
    hooks = _ConfirmHooks(again, trial.number, seed)
    try:
        spec = _trial_spec(registry, trial, options, seed, options.reports)
        run = pipeline.run(spec, registry, log_model=False, progress=False, hooks=hooks)
    except Exception as exc:  # a seed that fails counts against the trial, and is said
        log.warning("confirming trial %s with seed %s failed: %s", trial.number, seed, exc)
        return math.nan
    return float(run.metrics["objective"])


def _confirm_table(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    pd.DataFrame(
        [
            {
                "trial": r["trial"],
                "pipeline": r["pipeline"],
                **{f"score_seed_{i}": v for i, v in enumerate(r["scores"])},
                "mean": r["mean"],
                "std": r["spread"],
            }
            for r in rows
        ]
    ).to_csv(path, index=False)


def _confirm_note(rows: list[dict[str, Any]], best: Any, raw: Any) -> str:
    kept = next(r for r in rows if r["trial"] == best.number)
    if best.number == raw.number:
        return (
            f"confirmed: trial {best.number} keeps the lead over {len(rows) - 1} runners-up "
            f"with {CONFIRM_SEEDS} more seeds (mean objective {kept['mean']:.4f})"
        )
    first = next(r for r in rows if r["trial"] == raw.number)
    return (
        f"confirmed: trial {best.number} (mean objective {kept['mean']:.4f} over "
        f"{len(kept['scores'])} seeds) replaces trial {raw.number}, the single best score "
        f"({raw.value:.4f}), whose mean over the same seeds was {first['mean']:.4f}"
    )


class _RefitHooks(TrialHooks):
    """The best spec again: a child run scored like a trial, with no trial to report to."""

    reports_epochs = False
    kind, link = "best", "best_of_trial"  # its run's kind tag, and the tag naming the trial

    def __init__(self, runner: TrialRunner, number: int) -> None:
        self.runner = runner
        self.trial = _NoTrial()
        self.parent_run_id = runner.parent
        self.stops = ()
        self.quiet = True
        self.run_id = None
        self.number = number

    def run_name(self, name: str) -> str:
        return f"best (trial {self.number}): {name}"

    def tags(self) -> dict[str, str]:
        return {
            "musiclust.kind": self.kind,
            "study.name": self.runner.study,
            self.link: str(self.number),
            **describe(self.runner.objective),
        }


class _ConfirmHooks(_RefitHooks):
    """A trial's spec again with another seed: a child run scored like a trial."""

    def __init__(self, runner: TrialRunner, number: int, seed: int) -> None:
        super().__init__(runner, number)
        self.seed = seed

    kind, link = "confirm", "confirms_trial"

    def run_name(self, name: str) -> str:
        return f"confirm trial {self.number}, seed {self.seed}: {name}"


class _NoTrial:
    def set_user_attr(self, key: str, value: Any) -> None:
        pass


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


def _quiet_optuna() -> None:
    import optuna

    # failed and pruned trials are reported one line each by the search itself
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = ["COLLAPSED", "SearchOptions", "SearchResult", "search"]
