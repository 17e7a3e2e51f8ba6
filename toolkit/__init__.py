"""musiclust: unsupervised music clustering from audio and lyrics.

What plugin authors import::

    from toolkit import hookimpl, AudioFeature, Clusterer, Int, Float, Choice

Heavy libraries (librosa, MLflow, torch) are imported where they are used, so listing plugins
and checking a spec stay fast.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from toolkit.analysis import AudioAnalysis
from toolkit.components import (
    AudioFeature,
    Clusterer,
    Component,
    Encoder,
    EncoderInput,
    FeatureExtractor,
    FrameFeature,
    LyricsFeature,
    Metric,
    Report,
    Source,
)
from toolkit.data import Clip, Dataset, Skip
from toolkit.errors import DataError, MusiclustError, NotComputed, PluginError, SpecError
from toolkit.evaluation import Evaluation
from toolkit.hookspecs import hookimpl
from toolkit.params import Bool, Choice, Float, Int, Param, Str

try:
    __version__ = version("musiclust")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "AudioAnalysis",
    "AudioFeature",
    "Bool",
    "Choice",
    "Clip",
    "Clusterer",
    "Component",
    "DataError",
    "Dataset",
    "Encoder",
    "EncoderInput",
    "Evaluation",
    "FeatureExtractor",
    "Float",
    "FrameFeature",
    "Int",
    "LyricsFeature",
    "Metric",
    "MusiclustError",
    "NotComputed",
    "Param",
    "PluginError",
    "Report",
    "Skip",
    "Source",
    "SpecError",
    "Str",
    "__version__",
    "hookimpl",
]
