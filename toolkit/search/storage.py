"""The Optuna side: storages, samplers, pruners, and when a worker has done enough."""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

from musiclust.errors import (
    SpecError,
    check_stop,
)
from musiclust.search.options import GRACE_S, HEARTBEAT_S, WARMUP_EPOCHS, say
from musiclust.tracking import redact

log = logging.getLogger("musiclust")


def make_storage(url: str) -> Any:
    """An RDB storage with heartbeats (so a killed worker's trial is failed and retried)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    from musiclust.tracking import SERVER_TIMEOUT, db_lock

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 60}}
    elif url.startswith("postgresql"):  # an unreachable server fails in seconds, not minutes
        engine_kwargs = {"connect_args": {"connect_timeout": int(SERVER_TIMEOUT)}}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :]).expanduser().resolve()
        if not path.parent.is_dir():
            raise SpecError(f"--storage {url}: the folder {path.parent} does not exist")
    try:
        for attempt in range(3):
            try:
                # one process at a time creates the schema (on a database server too)
                with warnings.catch_warnings(), db_lock(url, "optuna-schema"):
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
            "for PostgreSQL: pip install 'musiclust[postgres]' (psycopg)",
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


def _finished(study: Any, replays: bool = False) -> list[Any]:
    """The study's finished trials; without ``replays``, not those that proposed a spec
    already run (their score is reused) or a plugin that fails every trial (not run): they do
    not count toward ``--trials``."""
    from optuna.trial import TrialState

    trials = study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    return trials if replays else [t for t in trials if _counts(t)]


def _counts(trial: Any) -> bool:
    """Whether a finished trial counts toward ``--trials`` (not a replay, not a skip)."""
    return "duplicate_of" not in trial.user_attrs and "skipped" not in trial.user_attrs


class _Enough:
    """Stop a worker once the study holds ``trials`` distinct finished trials (counted across
    every process that shares the study), or when the sampler keeps proposing pipelines already
    run: the space then holds fewer distinct pipelines than were asked for."""

    def __init__(self, trials: int, already: int = 0) -> None:
        self.trials = trials
        self.already = already  # finished before this process started (resumed, other workers)
        self.started = time.monotonic()

    def __call__(self, study: Any, trial: Any) -> None:
        check_stop()
        everything = _finished(study, replays=True)  # one read of the storage per trial
        distinct = [t for t in everything if _counts(t)]
        replays = len(everything) - len(distinct)
        say(self.progress(study, distinct))
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

    def progress(self, study: Any, distinct: list[Any]) -> str:
        """``13/40 trials, best 0.4312 (trial 7), 2m10s, about 4m40s left``: the ETA from
        this process's pace since it started (other workers make it shorter)."""
        from optuna.study import StudyDirection
        from optuna.trial import TrialState

        done = len(distinct)
        elapsed = time.monotonic() - self.started
        line = f"  {min(done, self.trials)}/{self.trials} trials"
        scored = [t for t in distinct if t.state == TrialState.COMPLETE and t.value is not None]
        if scored:
            pick = max if study.direction == StudyDirection.MAXIMIZE else min
            best = pick(scored, key=lambda t: t.value)
            line += f", best {best.value:.4f} (trial {best.number})"
        line += f", {_clock(elapsed)}"
        here = done - self.already
        if here > 0 and done < self.trials:
            line += f", about {_clock(elapsed / here * (self.trials - done))} left"
        return line


def _sampler_offset(study: Any, index: int) -> int:
    """A fresh study's first process samples from ``--seed`` (reproducible); a process that
    resumes or joins a study that has trials draws its own stream, so it does not replay the
    pipelines the first one proposed."""
    done = len(study.trials)
    if not done:
        return index
    return int.from_bytes(os.urandom(4), "little") % (2**31 - 1) + index


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
