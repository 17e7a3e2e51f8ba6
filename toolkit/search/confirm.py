"""Before one trial is kept: the best few fitted again with more seeds (the winner's curse)."""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.objectives import describe, get_objective
from musiclust.registry import Registry
from musiclust.search.options import CONFIRM_SEEDS, SearchOptions, say
from musiclust.search.trial import TrialHooks, TrialRunner
from musiclust.space import shared_sets

log = logging.getLogger("musiclust")


def _trial_spec(
    registry: Registry, trial: Any, options: SearchOptions, seed: int, reports: Any
) -> Any:
    """A finished trial's spec, as run, for another fit (the search's own data options)."""
    import yaml

    from musiclust.spec import build_spec

    data = yaml.safe_load(trial.user_attrs["spec"])
    data.pop("source", None)  # the search's own data options rebuild it
    data.pop("reports", None)
    return build_spec(
        registry,
        data=options.data,
        source=options.source,
        config=data,
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
        collapsed = trial.user_attrs.get("collapsed") == "true"
        if spec_hash in specs or collapsed or "spec" not in trial.user_attrs:  # or not run
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
    from musiclust import pipeline

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
