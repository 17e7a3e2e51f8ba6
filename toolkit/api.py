"""The Python entry for notebooks, in scikit-learn's shape.

    from musiclust import MusicClustering

    model = MusicClustering(features="musicnn,tfidf", clusterer="agglomerative",
                            params={"agglomerative.n_clusters": 10})
    model.fit("~/gtzan/genres_original")      # a folder, a CSV, or None for the demo data
    model.labels_                             # one cluster per clip, in model.ids_ order
    model.metrics_["genre.ami"]               # every metric the run logged
    model.predict(audio=["new.mp3"])          # clusters of new files (-1: unusable)

Each ``fit`` is one ``musiclust run``: the same spec resolution, checks and errors, tracked in
MLflow (``run_id_``) unless ``track=False``, in which case the same run of
:mod:`musiclust.core` happens with no observer, and MLflow is never touched.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.errors import MusiclustError


class MusicClustering:
    """One pipeline (features -> encoder -> clusterer) fitted on a collection of songs.

    Parameters are those of ``musiclust run``: plugin names (None: the defaults), ``params``
    as ``{"plugin.param": value}`` (``--set``), ``seed``, ``reports`` (names, or ``[]`` for
    none), ``experiment``; ``track=False`` runs without MLflow at all;
    ``log_model`` logs the pyfunc model with the run."""

    def __init__(
        self,
        features: str | list[str] | None = None,
        encoder: str | None = None,
        clusterer: str | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        reports: str | list[str] | None = None,
        experiment: str | None = None,
        track: bool = True,
        log_model: bool = False,
    ) -> None:
        self.features = features
        self.encoder = encoder
        self.clusterer = clusterer
        self.params = dict(params or {})
        self.seed = seed
        self.reports = reports
        self.experiment = experiment
        self.track = track
        self.log_model = log_model

    def get_params(self) -> dict[str, Any]:
        keys = ("features", "encoder", "clusterer", "params", "seed", "reports")
        return {k: getattr(self, k) for k in (*keys, "experiment", "track", "log_model")}

    def fit(self, data: str | None = None, source: str | None = None) -> MusicClustering:
        """Cluster the songs at ``data`` (a folder, a CSV; None: the demo data)."""
        from musiclust import core, pipeline
        from musiclust.registry import get_registry
        from musiclust.spec import build_spec

        registry = get_registry()
        if data is not None and Path(data).expanduser().exists():
            data = str(Path(data).expanduser().resolve())
        spec = build_spec(
            registry,
            data=data,
            source=source,
            features=self.features,
            encoder=self.encoder,
            clusterer=self.clusterer,
            reports=self.reports,
            sets=[f"{k}={shlex.quote(str(v))}" for k, v in self.params.items()],
            seed=self.seed,
        )
        if self.track:
            result: Any = pipeline.run(
                spec, registry, experiment=self.experiment, log_model=self.log_model
            )
            self.run_id_ = result.run_id
        else:  # the same run with no observer: MLflow is never touched
            prepared = core.prepare(spec, registry)
            result = core.execute(prepared, registry)
            self.run_id_ = None
        self.result_ = result
        self.spec_ = spec
        self.ids_ = list(result.evaluation.ids)
        self.clips_ = list(result.clips)
        self.labels_ = np.asarray(result.evaluation.clusters)
        self.latent_ = np.asarray(result.evaluation.latent)
        self.metrics_ = dict(result.metrics)
        self.notes_ = list(result.notes)
        self.chain_ = result.chain
        return self

    def fit_predict(self, data: str | None = None, source: str | None = None) -> np.ndarray:
        return self.fit(data, source).labels_

    def predict(
        self, audio: list[str] | None = None, lyrics: list[str | None] | None = None
    ) -> np.ndarray:
        """Clusters of new songs: audio paths and/or lyrics, one entry per song (-1 where a
        song could not be used; ``reasons_`` says why)."""
        chain = getattr(self, "chain_", None)
        if chain is None:
            raise MusiclustError("this MusicClustering is not fitted yet: call fit() first")
        n = len(audio if audio is not None else lyrics or [])
        paths = [None if a is None else str(a) for a in (audio or [None] * n)]
        texts = list(lyrics) if lyrics is not None else [None] * n
        if len(paths) != len(texts):
            raise MusiclustError(f"{len(paths)} audio paths but {len(texts)} lyrics")
        clusters, self.reasons_ = chain.predict(paths, texts)
        return np.asarray(clusters)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v)
        return f"MusicClustering({shown})"
