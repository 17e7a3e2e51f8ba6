"""One pipeline over several seeds: a run per seed under one parent run, and mean +- std.

Published clustering results are means over seeds with their spread; on 50-1,000 clips one
seed's number says little. ``musiclust run --seeds 0-4`` runs the spec once per seed. Each
run is a plain run (``musiclust.kind=run``, every metric and artifact), a child of a parent
run tagged ``musiclust.kind=seeds`` that holds ``<metric>.mean`` and ``<metric>.std`` of every
metric all seeds logged, and ``seeds.csv``. ``musiclust compare`` shows such a group as one
row, mean +- std.
"""

from __future__ import annotations

import copy
import math
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from musiclust.core import RunHooks
from musiclust.errors import SpecError
from musiclust.pipeline import RunResult, run
from musiclust.registry import Registry
from musiclust.spec import Spec

#: Most seeds one command runs (a typo such as 0-1000 would otherwise start 1,001 runs).
MAX_SEEDS = 100


@dataclass
class SeedsResult:
    parent_run_id: str
    runs: list[RunResult]
    mean: dict[str, float]
    std: dict[str, float]


def parse_seeds(text: str) -> list[int]:
    """``0-4`` -> [0, 1, 2, 3, 4]; ``0,3,7`` -> [0, 3, 7]; ranges and lists mix."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, dash, high = part.partition("-")
            seeds += list(range(int(low), int(high) + 1)) if dash else [int(part)]
    except ValueError:
        raise SpecError(
            f"--seeds: expected numbers and ranges such as 0-4 or 0,3,7, got {text!r}"
        ) from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise SpecError(f"--seeds {text!r}: give at least one seed, each once")
    if len(seeds) > MAX_SEEDS:
        raise SpecError(f"--seeds {text!r} asks for {len(seeds)} runs; at most {MAX_SEEDS}")
    return seeds


class _Child(RunHooks):
    def __init__(self, parent: str, seed: int) -> None:
        self.parent_run_id = parent
        self.seed = seed

    def run_name(self, name: str) -> str:
        return f"{name} seed {self.seed}"


def run_seeds(
    spec: Spec,
    seeds: list[int],
    registry: Registry | None = None,
    *,
    experiment: str | None = None,
    log_model: bool = False,
    progress: bool = True,
) -> SeedsResult:
    """Run ``spec`` once per seed under one parent run; log mean and std on the parent."""
    import mlflow

    from musiclust import tracking

    name = f"{spec.encoder.name}+{spec.clusterer.name} x{len(seeds)} seeds"
    experiment = experiment or _experiment(spec, registry)
    tags = {"musiclust.kind": "seeds", "seeds": ",".join(map(str, seeds))}
    results: list[RunResult] = []
    with tracking.tracked_run(experiment, name, tags) as parent:
        tracking.log_params({"seeds": ",".join(map(str, seeds)), "seeds.count": str(len(seeds))})
        for seed in seeds:
            one = copy.deepcopy(spec)
            one.seed = seed
            results.append(
                run(
                    one,
                    registry,
                    experiment=parent.experiment,
                    log_model=log_model,
                    progress=progress,
                    hooks=_Child(parent.run_id, seed),
                )
            )
            mlflow.set_tag("seeds.done", str(len(results)))
        mean, std = summarise([r.metrics for r in results])
        tracking.log_metrics({f"{k}.mean": v for k, v in mean.items()})
        tracking.log_metrics({f"{k}.std": v for k, v in std.items()})
        with tempfile.TemporaryDirectory() as tmp:
            table = Path(tmp) / "seeds.csv"
            keys = sorted(mean)
            rows = [",".join(["seed", "run_id", *keys])]
            rows += [
                ",".join([str(r.spec.seed), r.run_id, *(repr(r.metrics[k]) for k in keys)])
                for r in results
            ]
            table.write_text("\n".join(rows) + "\n", encoding="utf-8")
            mlflow.log_artifact(str(table))
    return SeedsResult(parent.run_id, results, mean, std)


def summarise(metrics: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation of every finite metric all runs logged."""
    shared = set.intersection(*(set(m) for m in metrics)) if metrics else set()
    mean, std = {}, {}
    for key in sorted(shared):
        values = [float(m[key]) for m in metrics]
        if not all(math.isfinite(v) for v in values):
            continue
        mean[key] = statistics.fmean(values)
        std[key] = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def _experiment(spec: Spec, registry: Registry | None) -> str:
    """The experiment a plain run of this spec would go to (named after the data)."""
    from musiclust.registry import get_registry
    from musiclust.spec import instantiate

    source = instantiate(registry or get_registry(), "source", spec.source, spec.seed)
    return source.experiment_name()
