"""``musiclust search``: an Optuna study over plugin combinations, tracked in MLflow.

    study (parent run: space, best spec, best.<metric>, Optuna plots, trials.csv)
      |-- trial 0 (child run: the full resolved spec, metrics, objective, trial.state)
      |-- trial 1 ...
      |-- confirm trial N, seed S (child runs: the best trials fitted with more seeds)
      `-- best (child run: the kept spec re-fitted, its model registered)

Each trial is one :func:`musiclust.pipeline.run` of a spec the space suggests, scored by the
objective (:mod:`musiclust.objectives`) in the data set's reference space. Trained encoders
report the same objective at intermediate epochs so the pruner compares like with like.
Before one trial is kept, the few best are fitted again with more seeds and the best mean
wins (:func:`_confirm`: the best of many noisy scores is biased up).

The study lives in an Optuna RDB storage (a sqlite file by default) and names the MLflow
parent run in its user attributes, so ``--resume`` (after a crash or ``kill -9``) and extra
workers (processes here, or machines sharing a PostgreSQL URL) all add to the same study and
the same parent run. Trials whose process died are failed by Optuna's heartbeat and retried
once.
"""

from musiclust.objectives import COLLAPSED, refitter
from musiclust.search.options import (
    CONFIRM_SEEDS,
    SearchFailed,
    SearchOptions,
    SearchResult,
    WorkerArgs,
    say,
)
from musiclust.search.storage import make_pruner, make_sampler, make_storage, redact
from musiclust.search.study import prepare, run_worker, search
from musiclust.search.trial import BROKEN_AFTER, TrialHooks, TrialRunner

__all__ = [
    "BROKEN_AFTER",
    "COLLAPSED",
    "CONFIRM_SEEDS",
    "SearchFailed",
    "SearchOptions",
    "SearchResult",
    "TrialHooks",
    "TrialRunner",
    "WorkerArgs",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "prepare",
    "redact",
    "refitter",
    "run_worker",
    "say",
    "search",
]
