"""musiclust: unsupervised music clustering from audio and lyrics.

What plugin authors import::

    from musiclust import hookimpl, AudioFeature, Clusterer, Int, Float, Choice

and what a notebook uses: ``from musiclust import MusicClustering``.

Heavy libraries (librosa, MLflow, torch) are imported where they are used, so listing plugins
and checking a spec stay fast. The names below load on first use, so a submodule such as
``musiclust.plugins.encoders.nn`` (torch and numpy only) imports nothing else: the GPU machine
that trains the networks has neither pluggy nor MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Each public name and the module it lives in.
_PUBLIC = {
    "AudioAnalysis": "analysis",
    **dict.fromkeys(
        (
            "AudioFeature",
            "Clusterer",
            "Component",
            "Encoder",
            "EncoderInput",
            "FeatureExtractor",
            "FrameFeature",
            "LyricsFeature",
            "Metric",
            "Report",
            "Source",
        ),
        "components",
    ),
    **dict.fromkeys(("Clip", "Dataset", "Skip"), "data"),
    **dict.fromkeys(
        ("DataError", "MusiclustError", "NotComputed", "PluginError", "SpecError"), "errors"
    ),
    "Evaluation": "evaluation",
    "MusicClustering": "api",
    "hookimpl": "hookspecs",
    "spec_settings": "specfile",
    **dict.fromkeys(("Bool", "Choice", "Float", "Int", "Param", "Str"), "params"),
}

if TYPE_CHECKING:
    from musiclust.analysis import AudioAnalysis
    from musiclust.api import MusicClustering
    from musiclust.components import (
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
    from musiclust.data import Clip, Dataset, Skip
    from musiclust.errors import DataError, MusiclustError, NotComputed, PluginError, SpecError
    from musiclust.evaluation import Evaluation
    from musiclust.hookspecs import hookimpl
    from musiclust.params import Bool, Choice, Float, Int, Param, Str
    from musiclust.specfile import spec_settings


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("musiclust")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0+unknown"
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(f"musiclust.{_PUBLIC[name]}"), name)
    else:
        raise AttributeError(f"module 'musiclust' has no attribute {name!r}")
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC, "__version__"])


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
    "MusicClustering",
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
    "spec_settings",
]
