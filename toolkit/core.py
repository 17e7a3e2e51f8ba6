"""One run as plain functions, in the order the data flows:

    prepare   data source -> the spec fitted to the data -> the chain of plugins
    execute   features (cached, with the reference space) -> fusion -> encoder -> clusterer
              -> metrics -> reports, tables and report.html in a folder

Nothing here touches MLflow. An :class:`Observer` is told what the run did at each step: a
tracked run (:func:`musiclust.pipeline.run`) observes it with MLflow, as kedro-mlflow hooks a
pure pipeline; an untracked one (``MusicClustering(track=False)``) with the base class, which
does nothing. A caller that takes part in the run itself (a search trial: scoring, pruning)
passes :class:`RunHooks`.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musiclust import artifacts, cluster_map, scale
from musiclust.adapt import load
from musiclust.audio import AudioSettings
from musiclust.cache import FeatureCache
from musiclust.chain import Chain
from musiclust.data import Dataset, Skip
from musiclust.errors import DataError, MusiclustError, PluginError, check_stop, did_you_mean
from musiclust.evaluation import (
    Evaluation,
    collapse_reasons,
    compute_metrics,
    render_reports,
)
from musiclust.extraction import Extraction, extract
from musiclust.html_report import write_html
from musiclust.registry import Registry
from musiclust.segments import Framing
from musiclust.spec import Spec, instantiate

log = logging.getLogger("musiclust")


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


class Observer:
    """Told what a run did, step by step. The base class does nothing: an untracked run."""

    def started(self, prepared: Prepared) -> None:
        """The run is about to extract: its spec and its data set are known."""

    def tagged(self, tags: dict[str, str]) -> None:
        """Tags learnt on the way (a label-informed encoder)."""

    def fitted(self, chain: Chain) -> None:
        """Fusion, encoder and clusterer are fitted (the encoder's per-epoch history)."""

    def finished(self, outcome: Outcome, files: Path) -> None:
        """Metrics, tags and the run's files (``files``: reports, tables, report.html; gone
        after this call) are ready, and so is the fitted chain."""


@dataclass
class Prepared:
    """A run before any work: its data listed (nothing decoded), its spec fitted to the data,
    its plugins built."""

    spec: Spec
    dataset: Dataset
    chain: Chain
    notes: list[str]
    #: The experiment the data source suggests (the data's name).
    experiment: str

    @property
    def name(self) -> str:
        """encoder+clusterer [features]: the run's name."""
        spec = self.spec
        features = ",".join(p.name for p in spec.features)
        return f"{spec.encoder.name}+{spec.clusterer.name} [{features}]"


@dataclass
class Outcome:
    metrics: dict[str, float]
    not_computed: dict[str, str]
    skipped: list[Skip]
    notes: list[str]
    evaluation: Evaluation
    #: Tags the run learnt (label-informed, collapsed); ``final_tags`` adds the summary.
    tags: dict[str, str]
    final_tags: dict[str, str]
    chain: Chain
    #: The clips clustered, in the order of ``evaluation.ids`` (paths, lyrics, labels).
    clips: list[Any] = field(default_factory=list)


def prepare(
    spec: Spec, registry: Registry, *, progress: bool = True, quiet: bool = False
) -> Prepared:
    """List the data (decoding nothing), fit the spec to it and build the chain of plugins."""
    say = log.info if quiet else log.warning
    for note in spec.notes:  # decisions with consequences (2-D features cropping clips)
        say(note)
    source, dataset, notes = load(spec, registry)
    chain = build_chain(spec, registry)
    chain.clusterer.check_rows(len(dataset.clips))  # a quadratic fit too large: said now
    chain.clusterer.progress_ = progress  # its K selection shows a bar on a terminal
    chain.encoder.progress_ = progress  # and a trained encoder its epochs, with the losses
    return Prepared(spec, dataset, chain, notes, source.experiment_name())


def build_chain(
    spec: Spec, registry: Registry, seed: int | None = None, features: list[Any] | None = None
) -> Chain:
    """The chain of plugins the spec names: its features (or ``features``, already built and
    shared), encoder and clusterer seeded with ``seed`` (default: the spec's)."""
    seed = spec.seed if seed is None else seed
    return Chain(
        features or [instantiate(registry, "feature", p, seed) for p in spec.features],
        instantiate(registry, "encoder", spec.encoder, seed),
        instantiate(registry, "clusterer", spec.clusterer, seed),
        AudioSettings.from_params(spec.audio),
        Framing.from_params(spec.segments),
        spec.segments["back"],
        spec.fusion["balance"],
    )


def extract_features(
    prepared: Prepared, registry: Registry, *, progress: bool = True
) -> tuple[Extraction, list[str]]:
    """The run's feature blocks and the data set's reference space, cached per clip; and the
    cache's notes (damaged entries recomputed, a cache that cannot be written)."""
    spec, chain = prepared.spec, prepared.chain
    cache = FeatureCache()
    extraction = extract(
        prepared.dataset,
        chain.features,
        chain.audio,
        framing=chain.framing,
        references=reference_features(registry, spec, chain.features),
        cache=cache,
        n_jobs=spec.audio["n_jobs"],
        scheduler=spec.audio["scheduler"],
        progress=progress,
    )
    return extraction, cache.notes


def execute(
    prepared: Prepared,
    registry: Registry,
    *,
    progress: bool = True,
    hooks: RunHooks | None = None,
    observer: Observer | None = None,
) -> Outcome:
    """Extract, fit, evaluate and write the run's files, telling ``observer`` each step."""
    hooks = hooks or RunHooks()
    observer = observer or Observer()
    spec, dataset, chain = prepared.spec, prepared.dataset, prepared.chain
    notes = list(prepared.notes)
    say = log.info if hooks.quiet else log.warning

    def make(family: str, part: Any) -> Any:
        return instantiate(registry, family, part, spec.seed)

    observer.started(prepared)
    extraction, cache_notes = extract_features(prepared, registry, progress=progress)
    notes.extend(cache_notes)
    clips = extraction.dataset.clips
    columns = _encoder_columns(chain.encoder, extraction.dataset)
    tags: dict[str, str] = {}
    informed = [c for c in columns if c in extraction.dataset.label_columns]
    if informed:
        tags.update(_label_informed(chain.encoder.name, informed, notes))
        observer.tagged(dict(tags))

    check_stop()  # a SIGTERM whose first raise was swallowed stops here, between stages
    reference_values = extraction.reference_space()
    hooks.before_fit(chain, extraction, reference_values)

    # fusion -> encoder -> clusterer
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
    observer.fitted(chain)
    for component in (*chain.features, chain.fusion_, chain.encoder, chain.clusterer):
        notes.extend(component.notes_)  # what fitting found out

    check_stop()
    # metrics: labels are read here, for evaluation only
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
    for key, value in ev.sizes().items():  # the verdict needs them, with or without `sizes`
        metrics.setdefault(key, value)
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

    # reports, tables and report.html, into a folder the observer keeps what it wants of
    with _folder() as out:
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
            f"{prepared.name} on {dataset.name}",
            spec,
            metrics,
            not_computed,
            notes,
            skipped,
            plots,
            cluster_map.render(ev.latent, ev.clusters, ev.ids, ev.labels, clips, spec.seed),
        )
        final = {**verdict, **artifacts.summary_tags(spec, metrics, not_computed)}
        outcome = Outcome(metrics, not_computed, skipped, notes, ev, tags, final, chain, clips)
        observer.finished(outcome, out)
    return outcome


@contextmanager
def _folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


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


def _verdict_tags(
    metrics: dict[str, float], notes: list[str], say: Any = log.warning
) -> dict[str, str]:
    """``collapsed=true`` when the latent or the clustering degenerated (and say so loudly),
    by :func:`musiclust.evaluation.collapse_reasons`."""
    reasons = collapse_reasons(
        metrics["n_clusters"], metrics["largest_cluster_share"], metrics.get("active_units")
    )
    for reason in reasons:
        message = f"collapsed: {reason}"
        say(message)
        notes.append(message)
    return {"collapsed": "true" if reasons else "false"}
