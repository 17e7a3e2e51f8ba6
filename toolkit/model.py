"""The fitted chain as an MLflow pyfunc model: rows of (audio path, lyrics) in, cluster ids out.

The model carries its code (``musiclust`` with its built-in plugins, and the packages of any
third-party plugin it uses, through ``code_paths``) and pinned pip requirements, so
``mlflow models predict`` works on new files without this project being installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from musiclust.chain import Chain
from musiclust.data import clean_lyrics

BASE_REQUIREMENTS = (
    "mlflow",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "librosa",
    "soundfile",
    "soxr",
    "pyyaml",
    "pluggy",
    "click",
    "tqdm",
    "joblib",
    "cloudpickle",
)


class ClusterModel(mlflow.pyfunc.PythonModel):
    """Input columns ``audio`` (a file path) and ``lyrics`` (text, optional); output columns
    ``cluster`` (-1 where a row could not be used) and ``reason`` (empty when it was)."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["chain"], "rb") as fh:
            self.chain: Chain = pickle.load(fh)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        n = len(frame)
        audio = _column(frame, "audio", n)
        lyrics = [clean_lyrics(t) for t in _column(frame, "lyrics", n)]
        audio = [
            None if a is None or (isinstance(a, str) and not a.strip()) else str(a) for a in audio
        ]
        columns = {c: _column(frame, c, n) for c in self.chain.encoder.input_columns()}
        clusters, reasons = self.chain.predict(audio, lyrics, columns)
        return pd.DataFrame({"cluster": clusters.astype("int64"), "reason": reasons})


def _column(frame: pd.DataFrame, name: str, n: int) -> list[Any]:
    if name not in frame:
        return [None] * n
    return [None if isinstance(v, float) and v != v else v for v in frame[name].tolist()]


def log_model(chain: Chain, name: str = "model") -> str:
    """Log ``chain`` into the active run; return the model URI."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    uses_audio = "audio" in chain.modalities
    lyrics_only = chain.modalities == {"lyrics"}
    signature = ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", "audio", required=uses_audio),
                ColSpec("string", "lyrics", required=lyrics_only),
                *[ColSpec("string", c, required=False) for c in chain.encoder.input_columns()],
            ]
        ),
        outputs=Schema([ColSpec("long", "cluster"), ColSpec("string", "reason")]),
    )
    with tempfile.TemporaryDirectory() as tmp, _quiet_mlflow():
        path = Path(tmp) / "chain.pkl"
        with open(path, "wb") as fh:
            pickle.dump(chain, fh)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=ClusterModel(),
            artifacts={"chain": str(path)},
            code_paths=_copy_packages(_tops(_components(chain)), Path(tmp) / "code"),
            signature=signature,
            pip_requirements=requirements(chain),
        )
    return info.model_uri


def log_torch(module: Any, name: str = "encoder") -> str:
    """Log the encoder's torch model with ``mlflow.pytorch`` in the pickle format, which keeps
    its class (MLflow 3's default ``pt2`` loads back without the class's methods). The model
    carries the package its class comes from, a third-party plugin's included."""
    import mlflow.pytorch

    with tempfile.TemporaryDirectory() as tmp, _quiet_mlflow():
        info = mlflow.pytorch.log_model(
            module,
            name=name,
            serialization_format="pickle",
            code_paths=_copy_packages(_tops([module]), Path(tmp) / "code"),
            # the networks import torch and numpy only (musiclust's own names load lazily)
            pip_requirements=_pinned(["torch", "numpy"]),
        )
    return info.model_uri


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Silence what MLflow says about choices made here on purpose: no input example (it would
    hold a local file path), model objects pickled (their classes are importable from the
    model's code paths; MLflow's caution about the torch pickle format included)."""
    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.pytorch")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input example.*")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _components(chain: Chain) -> list[Any]:
    return [*chain.features, chain.encoder, chain.clusterer]


def _tops(objects: list[Any]) -> list[str]:
    """musiclust and the top-level package of every object's class."""
    return sorted({"musiclust"} | {type(o).__module__.split(".")[0] for o in objects})


def _copy_packages(tops: list[str], into: Path) -> list[str]:
    """Each top-level package copied into ``into/<name>`` without bytecode caches, as the
    model's code paths. A subpackage installed from a folder of its own (``musiclust.plugins``
    is the repository's ``plugins/``, see pyproject.toml) is copied into its place."""
    into.mkdir(parents=True, exist_ok=True)
    out = []
    for top in tops:
        module = importlib.import_module(top)
        locations = list(getattr(module, "__path__", []))
        if not locations:  # a single-module plugin
            target = into / Path(str(module.__file__)).name
            shutil.copy2(str(module.__file__), target)
            out.append(str(target))
            continue
        _copy_tree(Path(locations[0]), into / top)
        for name in _SEPARATE.get(top, ()):
            sub = Path(importlib.import_module(f"{top}.{name}").__path__[0])
            if sub != Path(locations[0]) / name:
                _copy_tree(sub, into / top / name)
        out.append(str(into / top))
    return out


#: Subpackages that pyproject.toml maps to folders outside their parent's.
_SEPARATE = {"musiclust": ("plugins",)}


def _copy_tree(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def requirements(chain: Chain) -> list[str]:
    """Pinned pip requirements: the toolkit's own plus those each component declares."""
    names = list(BASE_REQUIREMENTS)
    for component in _components(chain):
        names.extend(n for n in component.requirements if n not in names)
    return _pinned(names)


def _pinned(names: list[str]) -> list[str]:
    """Each installed distribution at its installed version (unpinned when not installed)."""
    out = []
    for name in names:
        try:
            version = md.version(name).split("+")[0]  # torch 2.13.0+cpu: pip resolves 2.13.0
        except md.PackageNotFoundError:
            out.append(name)
        else:
            out.append(f"{name}=={version}")
    return out
