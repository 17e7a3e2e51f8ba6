"""What a search is asked to do and what it returns; its constants and its voice."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from musiclust import defaults
from musiclust.errors import (
    MusiclustError,
)

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
    trials: int = defaults.TRIALS
    storage: str = defaults.STORAGE
    study: str | None = None
    resume: bool = False
    objective: str | None = None
    workers: int = 1
    experiment: str | None = None
    register: str | None = None
    pruner: str = "median"
    refit: bool = True
    #: The best trials re-scored with CONFIRM_SEEDS more seeds before one is picked (0: none).
    confirm: int = defaults.CONFIRM
    #: plain: a new study's first trial is the plain run's pipeline, where the space holds it;
    #: sampled: every trial is drawn by the sampler.
    start: str = "plain"
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


@dataclass
class WorkerArgs:
    options: SearchOptions
    study: str
    parent: str
    objective: str
    label: str | None
    tracking_uri: str


class SearchFailed(MusiclustError):
    """A search none of whose trials completed (its parent run ends FAILED)."""


def _quiet_optuna() -> None:
    import optuna

    # failed and pruned trials are reported one line each by the search itself
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
