"""The fitted chain features -> fusion -> encoder -> clusterer, from raw clips to cluster ids.

The pipeline fits it; the logged MLflow model pickles it and calls :meth:`Chain.predict` on new
rows of (audio path, lyrics). When clips are cut into windows, the chain also owns the way
back to the clip (``back``: mean latent, mean features, or a vote over window clusters).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from musiclust.audio import AudioSettings
from musiclust.components import (
    AudioFeature,
    Clusterer,
    Encoder,
    EncoderInput,
    FeatureExtractor,
    LyricsFeature,
)
from musiclust.errors import PluginError
from musiclust.extraction import FeatureBlock, extract_audio_rows, stack_rows
from musiclust.fusion import Fusion
from musiclust.segments import Framing, mean_by_group, vote


class Chain:
    #: The latent rows the clusterer was fitted on (set by fitting; not pickled with a model).
    fit_rows_: np.ndarray | None = None

    def __init__(
        self,
        features: list[FeatureExtractor],
        encoder: Encoder,
        clusterer: Clusterer,
        audio: AudioSettings,
        framing: Framing | None = None,
        back: str = "latent",
        balance: str = "auto",
    ) -> None:
        self.features = features
        self.encoder = encoder
        self.clusterer = clusterer
        self.audio = audio
        self.framing = framing or Framing()
        self.back = back
        self.balance = balance

    @property
    def modalities(self) -> set[str]:
        return {f.modality for f in self.features}

    # -- fitting ---------------------------------------------------------------------------
    def fit_predict(
        self,
        blocks: dict[str, FeatureBlock],
        n_clips: int,
        columns: dict[str, list] | None = None,
        reference: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit fusion, encoder and clusterer; return (latent per clip, cluster per clip).

        ``columns`` are the metadata columns the encoder asked for, one value per clip;
        ``reference`` is the run's reference space (NaN rows where a clip has none), which a
        clusterer choosing K by ``label_free`` scores its candidates in."""
        self.step_ = "fusion"  # what is being fitted, for an error to name
        X = self.fit_input(blocks, n_clips, columns)
        self.step_ = f"encoder '{self.encoder.name}'"
        rows = _checked_latent(self.encoder.fit_transform(X), len(X), self.encoder.name)
        self.step_ = f"clusterer '{self.clusterer.name}'"
        if self.clusterer.needs_encoder_method:  # from_encoder: the encoder's own clusters
            self.clusterer.use_encoder(self.encoder)
        self.fit_rows_ = rows  # what the clusterer saw (scoring may re-fit it)
        if reference is not None and self.clusterer.chooses_k_label_free():
            self.clusterer.scorer = self._k_scorer(rows, X.groups, n_clips, reference)
        try:
            return self._to_clips(rows, X.groups, n_clips, fit=True)
        finally:
            self.clusterer.scorer = None  # it holds the training data: never pickled

    def _k_scorer(
        self, rows: np.ndarray, groups: np.ndarray | None, n: int, reference: np.ndarray
    ) -> Callable[[np.ndarray, int], float]:
        """``(labels of what the clusterer sees, K) -> label_free score`` of the clip clusters
        they make, with stability re-fits that take the chain's own way to the clip."""
        from musiclust.objectives import Inputs, LabelFree, refitter

        present = ~np.isnan(reference).any(axis=1)
        R = reference[present]
        latent = rows if groups is None else mean_by_group(rows, groups, n)
        voting = self.back == "vote" and groups is not None
        seed = self.clusterer.random_state or 0
        objective = LabelFree(seed)  # one objective: its null silhouettes are kept per K
        params = self.clusterer.get_params()

        def fresh(k: int, draw: int) -> Clusterer:
            twin = type(self.clusterer)(**{**params, "n_clusters": k})
            twin.random_state = seed + draw
            return twin

        def score(labels: np.ndarray, k: int) -> float:
            clusters = vote(labels, groups, n) if voting else np.asarray(labels)
            refit = refitter(lambda draw: fresh(k, draw), latent, clusters, self.back, groups, rows)
            return objective.score(Inputs(clusters, R, present, refit)).value

        return score

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("fit_rows_", None)  # the training rows do not travel with the model
        return state

    def fit_input(
        self,
        blocks: dict[str, FeatureBlock],
        n_clips: int,
        columns: dict[str, list] | None = None,
    ) -> EncoderInput:
        """Fit fusion on the extracted blocks and return what the encoder is fitted on."""
        return self._input([blocks[f.name] for f in self.features], n_clips, True, columns)

    def _input(
        self,
        blocks: list[FeatureBlock],
        n_clips: int,
        fit: bool,
        columns: dict[str, list] | None = None,
    ) -> EncoderInput:
        """Rows for the encoder: clips, or windows with lyrics repeated for each window."""
        groups = next((b.groups for b in blocks if b.groups is not None), None)
        values, masks = {}, {}
        for block in blocks:
            v, m = block.values, block.mask
            if block.groups is not None and self.back == "features":
                v, m = (
                    mean_by_group(v, block.groups, n_clips).astype(np.float32),
                    np.ones(n_clips, bool),
                )
            elif block.groups is None and groups is not None and self.back != "features":
                v, m = v[groups], m[groups]  # a per-clip block (lyrics) on window rows
            values[block.name], masks[block.name] = v, m
        if self.back == "features":
            groups = None
        if fit:
            self.widths_ = {name: v.shape[1:] for name, v in values.items()}
            self.fusion_ = Fusion(
                weights={f.name: f.weight for f in self.features},
                scaling={f.name: f.scaling for f in self.features},
                balance=self.balance,
            ).fit(values, masks)
        X = self.fusion_.transform(values, masks, groups)
        for name, column in (columns or {}).items():
            array = np.array(column, dtype=object)
            X.columns[name] = array if groups is None else array[groups]
        return X

    def row_groups(self, blocks: dict[str, FeatureBlock]) -> np.ndarray | None:
        """The clip of each encoder row (None: one row per clip), as :meth:`fit_input` has it."""
        if self.back == "features":
            return None
        return next(
            (b.groups for f in self.features if (b := blocks[f.name]).groups is not None), None
        )

    def clip_clusters(
        self, rows: np.ndarray, groups: np.ndarray | None, n: int, assign: Callable
    ) -> tuple[np.ndarray, np.ndarray]:
        """(latent per clip, cluster per clip) from row latents, clustered by ``assign``."""
        if groups is None:
            return rows, np.asarray(assign(rows))
        latent = mean_by_group(rows, groups, n)
        if self.back == "vote":
            return latent, vote(np.asarray(assign(rows)), groups, n)
        return latent, np.asarray(assign(latent))

    def _to_clips(
        self, rows: np.ndarray, groups: np.ndarray | None, n: int, fit: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        assign = self.clusterer.fit_predict if fit else self.clusterer.predict
        return self.clip_clusters(rows, groups, n, assign)

    # -- prediction ------------------------------------------------------------------------
    def predict(
        self,
        audio: list[str | None],
        lyrics: list[str | None],
        columns: dict[str, list] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Cluster ids for new inputs (-1 where an input could not be used) and the reasons."""
        blocks, reasons = self._new_blocks(audio, lyrics)
        out = np.full(len(reasons), -1, dtype=int)
        used = [i for i, r in enumerate(reasons) if not r]
        if used:
            given = columns or {}
            wanted = {
                c: [given[c][i] for i in used] if c in given else [None] * len(used)
                for c in self.encoder.input_columns()
            }
            X = self._input(blocks, len(used), fit=False, columns=wanted)
            rows = _checked_latent(self.encoder.transform(X), len(X), self.encoder.name)
            out[used] = self._to_clips(rows, X.groups, len(used), fit=False)[1]
        return out, reasons

    def _new_blocks(
        self, audio: list[str | None], lyrics: list[str | None]
    ) -> tuple[list[FeatureBlock], list[str]]:
        audio_features = [f for f in self.features if isinstance(f, AudioFeature)]
        reasons = [""] * len(audio)
        values: dict[str, list[np.ndarray | None]] = {}
        if audio_features:
            values, reasons = extract_audio_rows(audio, audio_features, self.audio, self.framing)
        if self.modalities == {"lyrics"}:
            reasons = [r or ("" if t is not None else "no lyrics") for r, t in zip(reasons, lyrics)]
        used = [i for i, r in enumerate(reasons) if not r]
        blocks: list[FeatureBlock] = []
        if not used:
            return blocks, reasons
        for feature in self.features:
            if isinstance(feature, AudioFeature):
                framed = self.framing.length is not None
                blocks.append(stack_rows(feature, [values[feature.name][i] for i in used], framed))
            else:
                assert isinstance(feature, LyricsFeature)
                blocks.append(self._lyrics(feature, [lyrics[i] for i in used]))
        return blocks, reasons

    def _lyrics(self, feature: LyricsFeature, texts: list[str | None]) -> FeatureBlock:
        mask = np.array([t is not None for t in texts], dtype=bool)
        values = np.zeros((len(texts), *self.widths_[feature.name]), dtype=np.float32)
        if mask.any():
            values[mask] = feature.transform([t for t in texts if t is not None])
        return FeatureBlock(feature.name, "lyrics", "vector", values, mask)


def _checked_latent(latent: object, n: int, encoder: str) -> np.ndarray:
    Z = np.asarray(latent, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[0] != n or Z.shape[1] < 1:
        raise PluginError(
            f"encoder '{encoder}' returned a latent of shape {Z.shape}; expected ({n}, k)"
        )
    if not np.all(np.isfinite(Z)):
        raise PluginError(f"encoder '{encoder}' returned non-finite latent values")
    return Z
