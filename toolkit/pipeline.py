"""One run, in the order the data flows:

    data source -> feature extractors -> fusion -> encoder -> clusterer -> metrics -> reports

all of it logged to one MLflow run, and the fitted chain logged as one pyfunc model.
The search calls :func:`run` once per trial, as a child run of the study's run, with
:class:`RunHooks` that score the trial and report its progress to the pruner.
"""

from __future__ import annotations

import functools
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import __version__, artifacts, cluster_map, scale, tracking
from musiclust.adapt import adapt_to_data
from musiclust.audio import AudioSettings
from musiclust.cache import FeatureCache
from musiclust.chain import Chain
from musiclust.data import Skip
from musiclust.errors import DataError, MusiclustError, PluginError, check_stop, did_you_mean
from musiclust.evaluation import Evaluation, compute_metrics, render_reports
from musiclust.extraction import extract
from musiclust.html_report import write_html
from musiclust.registry import Registry, get_registry
from musiclust.segments import Framing
from musiclust.spec import Spec, instantiate

log = logging.getLogger("musiclust")


@dataclass
class RunResult:
    run_id: str
    experiment: str
    spec: Spec
    metrics: dict[str, float]
    not_computed: dict[str, str]
    skipped: list[Skip]
    notes: list[str]
    evaluation: Evaluation
    model_uri: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: The fitted chain (``chain.predict`` clusters new files), as the model logs it.
    chain: Chain | None = None
    #: The clips clustered, in the order of ``evaluation.ids`` (paths, lyrics, labels).
    clips: list[Any] = field(default_factory=list)


class RunHooks:
    """How a caller (the search) takes part in a run; the defaults do nothing."""

    #: The run becomes a child of this run (the study's), in its experiment.
    parent_run_id: str | None = None
    #: Exceptions that end the run KILLED rather than FAILED (a pruned trial).
    stops: tuple[type[BaseException], ...] = ()
    #: Notes and collapse verdicts go to the run only, not to the terminal (many trials).
    quiet: bool = False

    def tags(self) -> dict[str, str]:
        return {"musiclust.kind": "run"}  # a search's trials say "trial", its re-fit "best"

    def run_name(self, name: str) -> str:
        return name

    def started(self, run_id: str) -> None:
        """The run exists (before any work)."""

    def before_fit(self, chain: Chain, extraction: Any, reference: np.ndarray | None) -> None:
        """The chain is built and the features extracted; nothing is fitted yet."""

    def score(self, ev: Evaluation, metrics: dict[str, float]) -> dict[str, float]:
        """Extra metrics from the finished evaluation (the search's objective)."""
        return {}


def run(
    spec: Spec,
    registry: Registry | None = None,
    *,
    experiment: str | None = None,
    log_model: bool = True,
    progress: bool = True,
    hooks: RunHooks | None = None,
) -> RunResult:
    """Run the spec end to end and track it in MLflow."""
    registry = registry or get_registry()
    hooks = hooks or RunHooks()

    def make(family: str, part: Any) -> Any:
        return instantiate(registry, family, part, spec.seed)

    # 1. data: list the clips (cheap; decodes nothing)
    source = make("source", spec.source)
    dataset = source.load()
    say = log.info if hooks.quiet else log.warning
    for note in spec.notes:  # decisions with consequences (2-D features cropping clips)
        say(note)
    notes = [*spec.notes, *dataset.notes]
    notes += adapt_to_data(spec, registry, dataset.has_audio, dataset.has_lyrics)
    experiment = experiment or source.experiment_name()

    features = [make("feature", p) for p in spec.features]
    chain = Chain(
        features,
        make("encoder", spec.encoder),
        make("clusterer", spec.clusterer),
        AudioSettings.from_params(spec.audio),
        Framing.from_params(spec.segments),
        spec.segments["back"],
        spec.fusion["balance"],
    )
    chain.clusterer.check_rows(len(dataset.clips))  # a quadratic fit too large: said now
    chain.clusterer.progress_ = progress  # its K selection shows a bar on a terminal
    chain.encoder.progress_ = progress  # and a trained encoder its epochs, with the losses
    tags = {**_tags(spec, registry, dataset.name), **hooks.tags()}
    with tracking.tracked_run(
        experiment, hooks.run_name(_run_name(spec)), tags, hooks.parent_run_id, hooks.stops
    ) as active:
        hooks.started(active.run_id)
        tracking.log_params(spec.flat_params())
        tracking.log_dataset(*artifacts.manifest(dataset))

        # 2. features (+ the data set's fixed reference space), cached per clip
        extraction = extract(
            dataset,
            features,
            chain.audio,
            framing=chain.framing,
            references=reference_features(registry, spec, features),
            cache=(cache := FeatureCache()),
            n_jobs=spec.audio["n_jobs"],
            scheduler=spec.audio["scheduler"],
            progress=progress,
        )
        notes.extend(cache.notes)  # damaged entries recomputed, a cache that cannot be written
        clips = extraction.dataset.clips
        columns = _encoder_columns(chain.encoder, extraction.dataset)
        informed = [c for c in columns if c in extraction.dataset.label_columns]
        if informed:
            informed_tags = _label_informed(chain.encoder.name, informed, notes)
            tags.update(informed_tags)
            tracking.set_tags(informed_tags)

        check_stop()  # a SIGTERM whose first raise was swallowed stops here, between stages
        reference_values = extraction.reference_space()
        hooks.before_fit(chain, extraction, reference_values)

        # 3-5. fusion -> encoder -> clusterer
        started = time.perf_counter()
        try:
            latent, clusters = chain.fit_predict(
                extraction.blocks, len(clips), columns, reference_values
            )
        except (*hooks.stops, MusiclustError):
            raise
        except Exception as exc:  # a plugin's own failure: name it (traceback in error.txt)
            first = " ".join(str(exc).split())[:300]
            raise PluginError(
                f"{chain.step_} failed: {type(exc).__name__}: {first}",
                "the run's error.txt holds the traceback",
            ) from exc
        fit_seconds = time.perf_counter() - started
        tracking.log_history(chain.encoder.history())
        for component in (*features, chain.fusion_, chain.encoder, chain.clusterer):
            notes.extend(component.notes_)  # what fitting found out

        check_stop()
        # 6. metrics: labels are read here, for evaluation only
        ev = Evaluation(
            ids=[c.id for c in clips],
            latent=latent,
            clusters=clusters,
            labels={
                col: np.array([c.labels.get(col) for c in clips], dtype=object)
                for col in extraction.dataset.label_columns
            },
            reference=reference_values,
            reference_name="+".join(extraction.references) or None,
            encoder=chain.encoder,
            clusterer=chain.clusterer,
            seed=spec.seed,
        )
        started = time.perf_counter()
        metrics, not_computed = compute_metrics(ev, [make("metric", p) for p in spec.metrics])
        metrics["metrics.seconds"] = time.perf_counter() - started
        metrics.update(chain.encoder.diagnostics())
        skipped = dataset.skipped + extraction.skipped
        metrics.update(
            {
                "n_clips": float(len(clips)),
                "n_skipped": float(len(skipped)),
                "n_without_lyrics": float(sum(c.lyrics is None for c in clips)),
                "features.cache_hits": extraction.stats["cache_hits"],
                "features.cache_misses": extraction.stats["cache_misses"],
                "features.cache_dropped": extraction.stats["cache_dropped"],
                "features.seconds": extraction.stats["extract_seconds"],
                "fit_seconds": fit_seconds,
            }
        )
        metrics.update(hooks.score(ev, metrics))
        verdict = _verdict_tags(metrics, notes, say)
        tags.update(verdict)

        # 7. reports, tables and the model, all into the run
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            started = time.perf_counter()
            plots, failed = render_reports(
                ev, [make("report", p) for p in spec.reports], out / "plots", progress
            )
            metrics["reports.seconds"] = time.perf_counter() - started
            metrics["peak_memory_mb"] = scale.peak_memory_mb()
            not_computed.update({f"report.{k}": v for k, v in failed.items()})
            artifacts.write_tables(out, spec, ev, clips, metrics, not_computed, skipped, notes)
            write_html(
                out / "report.html",
                f"{_run_name(spec)} on {dataset.name}",
                spec,
                metrics,
                not_computed,
                notes,
                skipped,
                plots,
                cluster_map.render(ev.latent, ev.clusters, ev.ids, ev.labels, clips, spec.seed),
            )
            tracking.log_metrics(metrics)
            tracking.set_tags({**verdict, **artifacts.summary_tags(spec, metrics, not_computed)})
            tracking.log_artifacts(out)
        model_uri = None
        if log_model:
            from musiclust.model import log_model as log_pyfunc

            model_uri = log_pyfunc(chain)
            module = chain.encoder.torch_module()
            if module is not None:
                from musiclust.model import log_torch

                log_torch(module)

    return RunResult(
        active.run_id,
        active.experiment,
        spec,
        metrics,
        not_computed,
        skipped,
        notes,
        ev,
        model_uri,
        tags,
        chain,
        clips,
    )


def _encoder_columns(encoder: Any, dataset: Any) -> dict[str, list[Any]]:
    """The metadata columns the encoder takes as input (labels or metadata), per clip."""
    out = {}
    for column in encoder.input_columns():
        values = [c.labels.get(column, c.meta.get(column)) for c in dataset.clips]
        if all(v is None for v in values):
            known = sorted({k for c in dataset.clips for k in (*c.labels, *c.meta)})
            hint = did_you_mean(column, known) or ""
            raise DataError(
                f"{encoder.name} takes the column '{column}', which the data does not have",
                f"columns in the data: {', '.join(known) or 'none'}; {hint}".rstrip("; "),
            )
        out[column] = values
    return out


def _label_informed(encoder: str, columns: list[str], notes: list[str]) -> dict[str, str]:
    """Say loudly that an encoder sees a column the run also evaluates, and tag the run."""
    shown = ", ".join(columns)
    message = (
        f"LABEL-INFORMED: {encoder} takes '{shown}' as input, and the run evaluates against it: "
        f"the {shown} metrics measure recovering an input, not unsupervised clustering"
    )
    log.warning(message)
    notes.append(message)
    return {"label_informed": "true", "label_informed.columns": shown}


def reference_features(registry: Registry, spec: Spec, features: list[Any]) -> list[Any]:
    """The features of the yardstick every run of this data set is also scored in
    (:mod:`musiclust.reference`), each shared with the run's own when it is the very same."""
    names = [n for n in spec.reference["features"].split(",") if n]
    if not names:
        log.warning("no reference feature is installed: reference metrics are skipped")
    out = []
    for name in names:
        fresh = registry.get("feature", name).cls()
        same = [f for f in features if f.name == name and f.get_params() == fresh.get_params()]
        out.append(same[0] if same else fresh)
    return out


def _run_name(spec: Spec) -> str:
    return f"{spec.encoder.name}+{spec.clusterer.name} [{','.join(p.name for p in spec.features)}]"


def _tags(spec: Spec, registry: Registry, data_name: str) -> dict[str, str]:
    tags = {
        "musiclust.version": __version__,
        "spec.hash": spec.hash(),
        "data.name": data_name,
        "label_informed": "false",
    }
    for family, part in spec.parts():
        info = registry.get(family, part.name)
        tags[f"plugin.{family}.{part.name}"] = f"{info.dist or info.plugin}=={info.version or '?'}"
    commit, dirty = _git_commit()
    if commit:  # the code that ran, where it is a git checkout (an editable install)
        tags["mlflow.source.git.commit"] = commit
        tags["musiclust.git.dirty"] = str(dirty).lower()
    return tags


@functools.cache
def _git_commit() -> tuple[str | None, bool]:
    """The commit of the checkout this package runs from, and whether tracked files differ
    from it; (None, False) outside one. MLflow's UI shows the commit as the run's version."""
    import subprocess

    folder = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if head.returncode != 0:
            return None, False
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, False
    return head.stdout.strip(), bool(dirty)


def _verdict_tags(
    metrics: dict[str, float], notes: list[str], say: Any = log.warning
) -> dict[str, str]:
    """``collapsed=true`` when the latent or the clustering degenerated (and say so loudly).

    A clustering collapsed when its largest cluster is nearer to holding every clip than to
    its balanced share 1/K: above (1 + 1/K) / 2 of the clips (K = 2: 75%, K = 5: 60%, K = 10:
    55%). "Above half" flagged any uneven split at K = 2 (6 of 10 songs)."""
    reasons = []
    if metrics.get("active_units", np.inf) < 2:
        reasons.append(f"only {metrics['active_units']:.0f} active latent units")
    share = metrics.get("largest_cluster_share", 0.0)
    limit = collapse_limit(metrics.get("n_clusters", 1.0))
    if share > limit:
        reasons.append(f"the largest cluster holds {share:.0%} of clips (limit {limit:.0%})")
    for reason in reasons:
        message = f"collapsed: {reason}"
        say(message)
        notes.append(message)
    return {"collapsed": "true" if reasons else "false"}


def collapse_limit(k: float) -> float:
    """The largest cluster's share above which a K-cluster partition counts as collapsed."""
    k = max(1.0, float(k))
    return (1.0 + 1.0 / k) / 2.0 if k >= 2 else 0.5
