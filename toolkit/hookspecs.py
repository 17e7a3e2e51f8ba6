"""The hooks a musiclust plugin may implement: one ``register_<family>`` hook per family.

Each hook receives a ``register`` callback; call it once per component class::

    from musiclust import hookimpl

    @hookimpl
    def register_clusterers(register):
        register(MyClusterer)
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "musiclust"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[type], None]


@hookspec
def register_sources(register: Register) -> None:
    """Register data sources (subclasses of ``musiclust.Source``)."""


@hookspec
def register_features(register: Register) -> None:
    """Register feature extractors (``musiclust.AudioFeature`` or ``musiclust.LyricsFeature``)."""


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoders (subclasses of ``musiclust.Encoder``)."""


@hookspec
def register_clusterers(register: Register) -> None:
    """Register clusterers (subclasses of ``musiclust.Clusterer``)."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metrics (subclasses of ``musiclust.Metric``)."""


@hookspec
def register_reports(register: Register) -> None:
    """Register reports: plots and tables (subclasses of ``musiclust.Report``)."""
