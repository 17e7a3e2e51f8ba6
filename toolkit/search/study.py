"""The study: resolve the space, open the storage and the parent run, run the workers."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from typing import Any

from musiclust.errors import (
    SpecError,
    check_stop,
    deferred_stop,
    did_you_mean,
    stop_on_sigterm,
)
from musiclust.objectives import describe, get_objective
from musiclust.registry import Registry, get_registry
from musiclust.search.options import SearchOptions, SearchResult, WorkerArgs, _quiet_optuna, say
from musiclust.search.parent import _end_parent, _parent_run
from musiclust.search.storage import (
    _Enough,
    _finished,
    _sampler_offset,
    make_pruner,
    make_sampler,
    make_storage,
    redact,
)
from musiclust.search.summary import _summarise
from musiclust.search.trial import TrialRunner
from musiclust.space import SearchSpace, shared_sets

log = logging.getLogger("musiclust")


def search(options: SearchOptions, registry: Registry | None = None) -> SearchResult:
    """Run (or resume) a study until it holds ``options.trials`` finished trials."""
    import optuna

    from musiclust import tracking

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
    # processes (or machines) that start on one new study at once make it, and its parent
    # run, once: the first under the lock makes them, the others then find them
    creating = contextlib.ExitStack()
    creating.enter_context(tracking.db_lock(options.storage, "study"))
    try:
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
        start = None if exists else start_note(space, options)
        if not exists and options.start == "plain":
            _enqueue_plain_run(study, space)
        tracking.use_store()
    except BaseException:
        creating.close()
        raise
    # SIGTERM waits while the parent run is made, and is raised in the try that ends it KILLED
    parent = None
    try:
        with creating, deferred_stop(after=False):
            parent = _parent_run(study, options, objective, space, dataset.name, study_name)
        check_stop()
        for note in space.notes:
            log.warning(note)
        started = time.perf_counter()
        say(f"study '{study_name}' in {redact(options.storage)}; parent run {parent}")
        for line in space.describe():
            say("  " + line)
        if start:
            say(start)
        payload = WorkerArgs(
            options, study_name, parent, objective.name, objective.label, tracking.tracking_uri()
        )
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
        if parent is not None:
            _end_parent(parent, "KILLED")
        say("interrupted: finished trials are kept; continue with the same command and --resume")
        raise
    except BaseException as exc:
        import mlflow

        if parent is not None:
            _end_parent(parent, "FAILED")
            mlflow.MlflowClient().set_tag(parent, "error", " ".join(str(exc).split())[:5000])
        raise


def _enqueue_plain_run(study: Any, space: SearchSpace) -> None:
    """Enqueue the plain run's pipeline as the new study's first trial (Optuna's way to start
    from a known configuration). TPE's first trials are random draws: over the five encoders,
    three clusterers and every parameter of the dev searches, the best-scored of 40 random
    clusterings of the dev clips reached genre AMI 0.703 on average, where the one the
    objective ranks first of all 1710 (the defaults' pipeline at K = 10) reached 0.798
    (benchmarks/results/objectives.md). Starting from the defaults, the search keeps another
    pipeline only when it scores better than ``musiclust run`` on the same label-free
    objective."""
    from musiclust.space import PLAIN_RUN, START_ATTR

    params = space.plain_run()
    if params is not None:
        study.enqueue_trial(params, user_attrs={START_ATTR: PLAIN_RUN}, skip_if_exists=True)


def start_note(space: SearchSpace, options: SearchOptions) -> str:
    """Where a new study starts, in one line."""
    if options.start == "sampled":
        return "every trial is sampled (--start sampled)"
    if space.plain_run() is None:
        return "the plain run's pipeline is outside this space: every trial is sampled"
    return "trial 0 is the plain run's pipeline (its defaults); the others are sampled"


def prepare(registry: Registry, options: SearchOptions) -> tuple[Any, SearchSpace]:
    """The data set's clip list (decodes nothing, with the user's source settings) and the
    space checked against it."""
    from musiclust import reference
    from musiclust.adapt import load_source
    from musiclust.spec import build_spec

    spec = build_spec(registry, **options.base(), sets=shared_sets(registry, options.sets))
    _, dataset = load_source(spec, registry)
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
    already = len(_finished(study))
    if options.trials - already <= 0:
        return
    trial_fn = TrialRunner(registry, space, objective, options, args.parent, args.study)
    with deferred_stop():  # SIGTERM never cuts Optuna's storing of a trial half-way
        study.optimize(
            trial_fn,
            catch=(Exception,),
            callbacks=[_Enough(options.trials, already)],
            gc_after_trial=True,
        )


def _worker_setup(workers: int) -> None:
    from musiclust.logs import configure_logging

    configure_logging(0)
    threads = max(1, (os.cpu_count() or 1) // workers)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
