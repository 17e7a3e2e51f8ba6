"""One trial: a spec suggested by the space, run as a child run, scored by the objective."""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from typing import Any

import numpy as np

from musiclust.core import RunHooks
from musiclust.errors import (
    check_stop,
    deferred_stop,
)
from musiclust.objectives import COLLAPSED, Inputs, Objective, describe, refitter
from musiclust.registry import Registry
from musiclust.search.options import REPORTS, SearchOptions, say
from musiclust.space import PLAIN_RUN, START_ATTR, SearchSpace

log = logging.getLogger("musiclust")


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

        from musiclust import pipeline
        from musiclust.spec import build_spec

        check_stop()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who runs it
        needed = _needed(trial, self.options.trials)
        if needed is not None:  # other processes hold the last trials: stop, counted as none
            trial.set_user_attr("skipped", needed)
            trial.study.stop()
            raise optuna.TrialPruned(needed)
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


#: Seconds between looks at the study while other processes finish its last trials.
POLL_S = 1.0


def _needed(trial: Any, trials: int) -> str | None:
    """Why ``trial`` is not needed, or None when it is. Processes sharing a study (workers,
    machines) each start a trial when fewer than ``--trials`` are finished, so near the end
    they overshoot: a trial is run only while the finished ones and those started before it
    (lower numbers) still fall short. When they do not, wait: a trial ahead that fails or
    dies frees its place (at once when its process ran here and is gone, else when its
    heartbeat goes stale)."""
    import optuna
    from optuna.trial import TrialState

    from musiclust.search.storage import _counts

    study = trial.study
    while True:
        everything = study.get_trials(deepcopy=False)
        done = sum(t.state.is_finished() and _counts(t) for t in everything)
        if done >= trials:
            return f"not needed: the study holds {done} finished trials"
        ahead = [
            t
            for t in everything
            if t.state == TrialState.RUNNING and t.number < trial.number and _alive(t)
        ]
        if done + len(ahead) < trials:
            return None
        time.sleep(POLL_S)
        check_stop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def _alive(trial: Any) -> bool:
    """Whether a RUNNING trial's process may still run it: False when it ran on this machine
    in a process that no longer exists (killed; its heartbeat would take a minute to say so),
    True otherwise (another machine, or not yet started)."""
    host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


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
            **({"trial.start": PLAIN_RUN} if self._plain() else {}),
        }

    def _plain(self) -> bool:
        return self.trial.user_attrs.get(START_ATTR) == PLAIN_RUN

    def run_name(self, name: str) -> str:
        return f"trial {self.trial.number}{' (the plain run)' * self._plain()}: {name}"

    def started(self, run_id: str) -> None:
        self.run_id = run_id
        self.trial.set_user_attr("mlflow.run_id", run_id)

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
        epochs = encoder.planned_epochs()
        reportable = epochs and not chain.clusterer.needs_encoder_method
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
        rows = self.chain.fit_rows_
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
