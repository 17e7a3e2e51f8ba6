"""Base classes of the six plugin families.

Every plugin is a class with a ``name``, a ``params`` declaration and scikit-learn's shape:
parameters arrive in ``__init__`` (validated against the declaration, no other work there),
``fit`` returns ``self``, and fitted state ends in ``_``. Subclasses add to ``params``; the
declarations of base classes (such as a feature's ``weight``) are inherited.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from musiclust.errors import SpecError, did_you_mean
from musiclust.params import Choice, Float, Int, Param
from musiclust.scale import scratch_array

if TYPE_CHECKING:
    from musiclust.analysis import AudioAnalysis
    from musiclust.data import Dataset
    from musiclust.evaluation import Evaluation


class Component:
    """What every plugin shares: a name, declared parameters and a version.

    After fitting, a component may set ``notes_`` (a list of lines) to tell the user something
    about the run (a disconnected similarity graph, say); they are logged with the run.
    """

    #: The name people type (``--encoder pca``, ``--set pca.n_components=8``).
    name: ClassVar[str] = ""
    #: Set by each family base class.
    family: ClassVar[str] = ""
    #: The parameter declaration: the single source for CLI, MLflow and Optuna.
    params: ClassVar[tuple[Param, ...]] = ()
    #: Bump when the output for the same input changes (feature versions key the cache).
    version: ClassVar[str] = "1"
    #: pip distributions a logged model needs to use this component (pinned at log time).
    requirements: ClassVar[tuple[str, ...]] = ()
    #: Set by a run: long work (training epochs, a K selection) may show a progress bar on a
    #: terminal; search trials and the reference space leave it False.
    progress_: bool = False
    #: Set by fitting, if anything: lines telling the user what fitting found (logged as notes).
    notes_: Sequence[str] = ()

    def __init__(self, **params: Any) -> None:
        declared = self.declared_params()
        for key in params:
            if key not in declared:
                hint = did_you_mean(key, declared)
                raise SpecError(
                    f"unknown parameter '{self.name}.{key}'; {self.name} takes: "
                    + (", ".join(declared) or "no parameters"),
                    hint,
                )
        for key, param in declared.items():
            try:
                value = param.validate(params.get(key, param.default))
            except ValueError as exc:
                raise SpecError(f"{self.name}.{key}: {exc}") from None
            setattr(self, key, value)
        self.random_state: int | None = None

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        """All declared parameters, base classes first."""
        out: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for param in klass.__dict__.get("params", ()):
                out[param.name] = param
        return out

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    def get_params(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.declared_params()}

    def set_params(self, **params: Any) -> Component:
        merged = {**self.get_params(), **params}
        random_state = self.random_state
        type(self).__init__(self, **merged)
        self.random_state = random_state
        return self

    def check(self) -> None:
        """Cheap checks that need more than the declaration (a path exists). Runs before work."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


class Source(Component):
    """A data source: lists clips (audio path, lyrics, labels, metadata). Decodes nothing."""

    family = "source"
    #: Whether ``--data PATH`` goes into this source's ``path`` parameter.
    takes_path: ClassVar[bool] = False

    def load(self) -> Dataset:
        raise NotImplementedError

    def experiment_name(self) -> str:
        """The MLflow experiment runs on this data go to unless ``--experiment`` is given."""
        return self.name


class FeatureExtractor(Component):
    """A feature block: one vector (or one 2-D array) per clip."""

    family = "feature"
    #: ``audio`` or ``lyrics``: what the feature is computed from.
    modality: ClassVar[str] = "audio"
    #: ``vector`` (N x d) or ``matrix`` (N x F x T, for convolutional encoders).
    output: ClassVar[str] = "vector"
    params = (
        Float(
            "weight",
            1.0,
            low=0.0,
            high=100.0,
            searchable=True,
            space=(0.25, 4.0),
            log=True,
            help="weight of this block when blocks are fused",
        ),
    )
    #: How fusion scales the block: ``columns`` z-scores each column (statistics in unlike
    #: units), ``block`` centres the columns and divides by one common scale, keeping the
    #: relative variances (SVD or embedding outputs, where small columns are mostly noise).
    scaling: ClassVar[str] = "columns"
    #: Parameters that do not change the extracted values (left out of cache keys).
    cache_ignores: ClassVar[tuple[str, ...]] = ("weight",)

    def extraction_params(self) -> dict[str, Any]:
        """What identifies this feature's values (part of every cache key)."""
        return {k: v for k, v in self.get_params().items() if k not in self.cache_ignores}


class AudioFeature(FeatureExtractor):
    """An audio feature computed clip by clip (and cached per clip)."""

    modality = "audio"
    #: As part of a run's reference space, the feature is taken over windows of this many
    #: seconds and averaged per clip (statistics of a whole clip mix its sections); None: over
    #: the whole clip (a feature that already pools short patches of its own).
    texture_window: ClassVar[float | None] = 2.0

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        """The feature of one clip from its shared spectral analysis."""
        raise NotImplementedError


class FrameFeature(AudioFeature):
    """A 2-D audio feature (rows x frames) brought to a declared number of frames.

    Subclasses implement :meth:`frames_of`; ``fit`` says how the clip's (or window's) frame
    sequence becomes ``frames`` long: ``pad`` pads short sequences and crops long ones (with
    ``segments.length: auto`` the windows are exactly ``frames`` long, so nothing is cropped),
    ``resize`` interpolates the whole sequence in time.
    """

    output = "matrix"
    params = (
        Int(
            "frames",
            130,
            low=4,
            high=100_000,
            help="frames per clip or window (130: 3 s at 22050 Hz, hop 512)",
        ),
        Choice(
            "fit",
            "pad",
            choices=("pad", "resize"),
            help="pad/crop to frames (segments cover the clip), or resize in time",
        ),
    )

    def frames_of(self, audio: AudioAnalysis) -> np.ndarray:
        """The (rows, T) frame sequence of one clip or window."""
        raise NotImplementedError

    def extract(self, audio: AudioAnalysis) -> np.ndarray:
        from musiclust.analysis import fit_frames

        fitted, _ = fit_frames(self.frames_of(audio), self.frames, self.fit)
        return fitted


class LyricsFeature(FeatureExtractor):
    """A lyrics feature fitted on the corpus (a vocabulary, say), then applied per text."""

    modality = "lyrics"

    def fit(self, texts: list[str]) -> LyricsFeature:
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, texts: list[str]) -> np.ndarray:
        return self.fit(texts).transform(texts)

    #: False for features without corpus state (embeddings): rows are then cached per text.
    corpus_fit: ClassVar[bool] = True


#: Rows per step when :meth:`EncoderInput.flat` builds its array.
_FLAT_ROWS = 1024


@dataclass
class EncoderInput:
    """What an encoder receives, one row per clip (or per window, see ``groups``).

    ``blocks`` holds every feature block after fusion's scaling: vector blocks standardised
    and weighted, 2-D blocks (rows x frames) with each row standardised. ``vectors`` is the
    concatenation of the vector blocks (None when there are none); :meth:`flat` adds the 2-D
    blocks flattened, for vector encoders. ``masks`` says which rows of a block are present
    (False where a clip has no lyrics). ``groups`` maps rows to clips when clips were cut into
    windows (None: rows are clips). ``columns`` holds the metadata columns an encoder asked for
    with :meth:`Encoder.input_columns` (one value per row, None where missing).
    """

    vectors: np.ndarray | None
    blocks: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    groups: np.ndarray | None = None
    weights: dict[str, float] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        if self.vectors is not None:
            return len(self.vectors)
        return len(next(iter(self.blocks.values()))) if self.blocks else 0

    def matrices(self) -> dict[str, np.ndarray]:
        return {name: b for name, b in self.blocks.items() if b.ndim == 3}

    def flat(self) -> np.ndarray:
        """Vectors and flattened 2-D blocks, each block with unit total variance x weight.

        Built in blocks of rows into one array, memory-mapped when large (a flattened 2-D
        block of 100,000 clips runs to gigabytes): the values, dtype included, are those of
        scaling each whole block and concatenating them."""
        parts: list[tuple[np.ndarray, Any]] = []
        if self.vectors is not None:
            parts.append((self.vectors, None))
        for name, block in self.matrices().items():
            scale = self.weights.get(name, 1.0) / np.sqrt(block[0].size)
            parts.append((block.reshape(len(block), -1), scale))
        n = len(self)
        dtype = np.result_type(*(p.dtype if s is None else np.result_type(p, s) for p, s in parts))
        out = scratch_array((n, sum(p.shape[1] for p, _ in parts)), dtype)
        for first in range(0, n, _FLAT_ROWS):
            rows = slice(first, first + _FLAT_ROWS)
            column = 0
            for part, scale in parts:
                out[rows, column : column + part.shape[1]] = (
                    part[rows] if scale is None else part[rows] * scale
                )
                column += part.shape[1]
        return out


class Encoder(Component):
    """Maps features to a latent space (N x k).

    A trained encoder may report progress: when the caller (a search, for pruning) sets
    ``encoder.epoch_callback``, :meth:`fit` calls it after each epoch as
    ``epoch_callback(epoch, metrics, encode)``, where ``encode()`` returns the current latent
    of every training row (in the order of ``X``). The callback may raise to stop training
    (Optuna's ``TrialPruned``). Encoders without epochs never call it.
    """

    epoch_callback: Callable[[int, dict[str, float], Callable[[], np.ndarray]], None] | None = None

    family = "encoder"
    #: Kinds of input the encoder uses: ``vector``, ``matrix``.
    accepts: ClassVar[frozenset[str]] = frozenset({"vector"})
    #: Kinds of input it cannot do without (a hybrid VAE's 2-D audio branch: ``matrix``);
    #: a run or search trial whose features hold none stops before any work.
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Features used when ``--features`` is not given. An entry may be a tuple of
    #: alternatives in order of preference: the first that is installed, can run here (its
    #: ``check`` passes: musicnn needs its weights) and fits the data's modalities is taken.
    #: A plain entry the data cannot feed (lyrics for data without lyrics) is dropped.
    #: The default: the pretrained embedding for audio (the statistics where its weights are
    #: missing) beside the lyrics, fused by ``fusion.balance=auto``, which leaves out a block
    #: that does not rise above noise: gtzan-mini's speech-to-text lyrics are left out (genre
    #: AMI 0.798 either way; balanced by unit variance they lowered it to 0.724), lyrics that
    #: carry a language the audio does not are kept (``benchmarks/results/fusion.md``).
    default_features: ClassVar[tuple[str | tuple[str, ...], ...]] = (
        ("musicnn", "audio_stats"),
        "tfidf",
    )

    def fit(self, X: EncoderInput) -> Encoder:
        raise NotImplementedError

    def transform(self, X: EncoderInput) -> np.ndarray:
        raise NotImplementedError

    def fit_transform(self, X: EncoderInput) -> np.ndarray:
        return self.fit(X).transform(X)

    def diagnostics(self) -> dict[str, float]:
        """Numbers worth logging after fitting (explained variance, active units, ...)."""
        return {}

    def history(self) -> list[dict[str, float]]:
        """Metrics per training epoch, logged with the epoch as the step (none here)."""
        return []

    def input_columns(self) -> list[str]:
        """Metadata columns the encoder takes as input (a conditional VAE's condition).

        Any of them that is also an evaluated label column makes the run label-informed."""
        return []

    def implied_settings(self) -> dict[str, object]:
        """``--set`` style settings this configuration implies (a preset), applied where the
        user gave none: ``{"tfidf.max_features": 500, "segments.length": None}``."""
        return {}

    def torch_module(self) -> Any:
        """The trained ``torch.nn.Module``, logged beside the run's model with
        ``mlflow.pytorch`` (its class kept); None for an encoder without one."""
        return None

    def planned_epochs(self) -> int | None:
        """Epochs :meth:`fit` trains for at most (a search then scores the latent along the
        way, to prune); None for an encoder that is not trained by epochs."""
        return None


class Clusterer(Component):
    """Assigns clusters to latent points; ``-1`` is noise.

    Plugins implement :meth:`cluster`. ``fit_predict`` keeps the labels and the cluster
    centroids, and :meth:`predict` assigns new points to the nearest centroid unless the
    plugin has a native rule (k-means, mixtures) and overrides it.
    """

    family = "clusterer"
    #: Set by the framework before fitting when K is chosen by the ``label_free`` criterion:
    #: ``scorer(labels, k)`` scores one candidate clustering of the rows the clusterer sees
    #: (higher is better) in the run's reference space, the way a search scores its trials.
    #: Reset to None after fitting; None where no reference space exists.
    scorer: Callable[[np.ndarray, int], float] | None = None
    #: The name of an encoder method this clusterer needs (``from_encoder``: the encoder's own
    #: clusters, ``cluster_latent``): a spec whose encoder lacks it fails before any work, the
    #: fitted encoder is handed over by :meth:`use_encoder`, and a search cannot re-fit the
    #: clusterer alone (its stability draws stand a Gaussian mixture in for it).
    needs_encoder_method: ClassVar[str | None] = None
    #: Set by fitting when the clusterer chose its own K (or eps): the curve it chose from,
    #: ``{"criterion", "x", "y", "chosen", "xlabel"}``, drawn by the ``k_selection`` report.
    selection_: dict[str, Any] | None = None

    def use_encoder(self, encoder: Encoder) -> None:
        """Receive the run's fitted encoder before :meth:`fit` (only called when
        :attr:`needs_encoder_method` is set)."""

    def chooses_k_label_free(self) -> bool:
        """Whether K is chosen by the ``label_free`` criterion (``n_clusters=auto``): the
        framework then sets :attr:`scorer` before fitting."""
        params = self.get_params()
        return params.get("n_clusters") == "auto" and params.get("criterion") == "label_free"

    def cluster(self, Z: np.ndarray) -> np.ndarray:
        """Fit on ``Z`` and return one integer label per row (``-1`` for noise)."""
        raise NotImplementedError

    def check_rows(self, n: int) -> None:
        """Refuse, before any work, ``n`` rows this clusterer cannot fit on this machine (a
        quadratic one's memory): raise :class:`~musiclust.errors.SpecError` naming the limit and
        the alternative. The default accepts any size."""

    def fit_predict(self, Z: np.ndarray) -> np.ndarray:
        labels = np.asarray(self.cluster(Z))
        if labels.shape != (len(Z),):
            raise ValueError(
                f"clusterer '{self.name}' returned labels of shape {labels.shape}, "
                f"expected ({len(Z)},)"
            )
        self.labels_ = labels.astype(int)
        ids = sorted(set(self.labels_.tolist()) - {-1})
        self.cluster_ids_ = np.array(ids, dtype=int)
        self.centroids_ = (
            np.stack([Z[self.labels_ == k].mean(axis=0) for k in ids])
            if ids
            else np.zeros((0, Z.shape[1]))
        )
        return self.labels_

    def fit(self, Z: np.ndarray) -> Clusterer:
        self.fit_predict(Z)
        return self

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Nearest fitted centroid (all noise if nothing was clustered)."""
        if len(self.centroids_) == 0:
            return np.full(len(Z), -1, dtype=int)
        from sklearn.metrics import pairwise_distances_argmin

        return self.cluster_ids_[pairwise_distances_argmin(Z, self.centroids_)]


class Metric(Component):
    """Computes named numbers from an evaluation; None marks 'not computed here'."""

    family = "metric"

    def compute(self, ev: Evaluation) -> dict[str, float | None]:
        raise NotImplementedError


class Report(Component):
    """Writes files (plots, tables) about a run into ``out_dir``; returns their paths.

    A report that does not apply to a run raises ``musiclust.errors.NotComputed(reason)``.
    """

    family = "report"
    #: Whether runs include it when no report list is given (slow ones opt out).
    default: ClassVar[bool] = True

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        raise NotImplementedError


@dataclass(frozen=True)
class Family:
    """One plugin family: its name, its plural (``--encoders``, ``musiclust plugins
    encoders``), its base class and the methods its plugins must implement; its hook is
    ``register_<plural>``."""

    name: str
    plural: str
    base: type[Component]
    required: tuple[str, ...]

    @property
    def hook(self) -> str:
        return f"register_{self.plural}"


#: The six families, the one table the registry, the hooks and the CLI read.
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("source", "sources", Source, ("load",)),
        Family("feature", "features", FeatureExtractor, ()),
        Family("encoder", "encoders", Encoder, ("fit", "transform")),
        Family("clusterer", "clusterers", Clusterer, ("cluster",)),
        Family("metric", "metrics", Metric, ("compute",)),
        Family("report", "reports", Report, ("render",)),
    )
}
