"""``check_plugin``: does a plugin class keep its family's contract? (scikit-learn's
``check_estimator``, for musiclust plugins.)

    from musiclust.testing import check_plugin
    check_plugin(MyFeature)                       # raises PluginError listing every failure
    check_plugin(MyEncoder, epochs=3)             # parameters for a quick check

It runs the class on small, real inputs (synthesised tones, two groups of rows, three blobs),
never on mocks: the declaration (name, parameters, required methods), construction with its
defaults and their validation, ``get_params`` round trips, pickling (fitted models are logged
with pickle), and then what the family promises: a feature gives the same finite values twice
and different values for different music; an encoder and a clusterer give one finite row or
label per input row, the same for the same seed, and survive pickling after fitting; a metric
returns named numbers or reasons; a report writes the files it names (or says why not). A
source is checked for its declaration only (it needs data).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.components import (
    AudioFeature,
    Clusterer,
    Component,
    Encoder,
    EncoderInput,
    LyricsFeature,
    Metric,
    Report,
    Source,
)
from musiclust.errors import NotComputed, PluginError

SAMPLE_RATE = 22050


def check_plugin(cls: type[Component], **params: Any) -> list[str]:
    """Run every check that applies to ``cls`` (with ``params`` for construction); return the
    names of the checks passed, or raise :class:`PluginError` listing every failure."""
    from musiclust.registry import contract_problems

    family = getattr(cls, "family", "")
    failures = [f"declaration: {p}" for p in contract_problems(family, cls)] if family else []
    if not family:
        failures.append("declaration: not a musiclust component (no family)")
    passed: list[str] = []
    if failures:
        raise PluginError(f"{getattr(cls, 'name', cls)!r} fails: " + "; ".join(failures))
    checks: list[tuple[str, Callable[[], None]]] = [
        ("construct", lambda: _construct(cls, params)),
        ("params round trip", lambda: _round_trip(cls, params)),
        ("pickle", lambda: _pickles(_construct(cls, params))),
    ]
    checks += [(f"{family}: {name}", check) for name, check in _family_checks(cls, params)]
    for name, check in checks:
        try:
            check()
        except NotComputed:
            passed.append(f"{name} (not applicable)")
        except Exception as exc:
            failures.append(f"{name}: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        else:
            passed.append(name)
    if failures:
        raise PluginError(f"{cls.name!r} fails {len(failures)} check(s): " + "; ".join(failures))
    return passed


def _construct(cls: type[Component], params: dict[str, Any]) -> Any:
    component = cls(**params)
    component.random_state = 0
    if not issubclass(cls, Source):  # a source's check() looks for its data
        component.check()
    return component


def _round_trip(cls: type[Component], params: dict[str, Any]) -> None:
    first = _construct(cls, params)
    again = type(first)(**first.get_params())
    assert again.get_params() == first.get_params(), "get_params() does not rebuild the same"


def _pickles(component: Any) -> Any:
    return pickle.loads(pickle.dumps(component))


def _family_checks(cls: type[Component], params: dict[str, Any]) -> list[tuple[str, Callable]]:
    if issubclass(cls, AudioFeature):
        return [("deterministic, finite, tells music apart", lambda: _audio_feature(cls, params))]
    if issubclass(cls, LyricsFeature):
        return [("one finite row per text", lambda: _lyrics_feature(cls, params))]
    if issubclass(cls, Encoder):
        return [("one finite latent row per row, seeded", lambda: _encoder(cls, params))]
    if issubclass(cls, Clusterer):
        return [("one label per row, seeded, predicts", lambda: _clusterer(cls, params))]
    if issubclass(cls, Metric):
        return [("named numbers or reasons", lambda: _metric(cls, params))]
    if issubclass(cls, Report):
        return [("writes the files it names", lambda: _report(cls, params))]
    return []


def tone(freq: float, seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """A harmonic tone with a beat and a little noise: real audio for a feature to read."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    y = sum(0.3 / k * np.sin(2 * np.pi * k * freq * t) for k in range(1, 5))
    beat = 0.5 + 0.5 * (np.sin(2 * np.pi * 2.0 * t) > 0)
    return (y * beat + 0.01 * rng.normal(size=len(t))).astype(np.float32)


def _audio_feature(cls: type[AudioFeature], params: dict[str, Any]) -> None:
    from musiclust.analysis import AudioAnalysis

    feature = _construct(cls, params)
    low = feature.extract(AudioAnalysis(tone(220.0), SAMPLE_RATE))
    again = _construct(cls, params).extract(AudioAnalysis(tone(220.0), SAMPLE_RATE))
    high = feature.extract(AudioAnalysis(tone(1760.0, seed=1), SAMPLE_RATE))
    values = np.asarray(low)
    want = 1 if cls.output == "vector" else 2
    assert values.ndim == want, f"output={cls.output!r} but extract() gave {values.ndim}-D"
    assert np.isfinite(values).all(), "extract() gave NaN or inf"
    assert np.allclose(values, np.asarray(again)), "two extractions of one clip differ"
    other = np.asarray(high)
    assert other.shape[:1] == values.shape[:1], "the output's first size depends on the clip"
    same = other.shape == values.shape and np.allclose(values, other)
    assert not same, "a 220 Hz and a 1760 Hz tone give the same values"


TEXTS = [
    "love heart night dance love",
    "heart love kiss night",
    "dance night love heart kiss",
    "road truck whiskey home road",
    "whiskey road home truck",
    "home truck road whiskey dust",
]


def _lyrics_feature(cls: type[LyricsFeature], params: dict[str, Any]) -> None:
    feature = _construct(cls, params)
    rows = np.asarray(feature.fit_transform(TEXTS))
    assert rows.ndim == 2 and len(rows) == len(TEXTS), f"fit_transform gave shape {rows.shape}"
    assert np.isfinite(rows).all(), "fit_transform gave NaN or inf"
    new = np.asarray(feature.transform(["night love dance", "truck home"]))
    assert new.shape == (2, rows.shape[1]), f"transform gave shape {new.shape}"
    again = np.asarray(_construct(cls, params).fit_transform(TEXTS))
    assert np.allclose(rows, again), "two fits on the same texts differ"


def encoder_input(n: int = 40, matrix: bool = False, columns: list[str] = ()) -> EncoderInput:
    """Two groups of rows that differ in every block."""
    rng = np.random.default_rng(0)
    group = np.repeat([0, 1], n // 2)
    vectors = (rng.normal(size=(n, 12)) + group[:, None] * 2.0).astype(np.float32)
    blocks = {"vectors": vectors}
    if matrix:
        image = rng.normal(size=(n, 10, 24)) + group[:, None, None]
        blocks["image"] = image.astype(np.float32)
    return EncoderInput(
        vectors=vectors,
        blocks=blocks,
        masks={k: np.ones(n, dtype=bool) for k in blocks},
        columns={c: np.array(["a", "b"] * (n // 2), dtype=object) for c in columns},
    )


def _encoder(cls: type[Encoder], params: dict[str, Any]) -> None:
    encoder = _construct(cls, params)
    X = encoder_input(matrix="matrix" in cls.accepts, columns=encoder.input_columns())
    latent = np.asarray(encoder.fit_transform(X))
    assert latent.ndim == 2 and len(latent) == len(X), f"fit_transform gave {latent.shape}"
    assert np.isfinite(latent).all(), "the latent holds NaN or inf"
    transformed = np.asarray(encoder.transform(X))
    assert transformed.shape == latent.shape, "transform's shape differs from fit_transform's"
    assert np.allclose(transformed, latent, atol=1e-5), (
        "transform after fitting gives another latent than fit_transform"
    )
    again = np.asarray(_construct(cls, params).fit_transform(X))
    assert np.allclose(latent, again, atol=1e-4), "two fits with one random_state differ"
    restored = _pickles(encoder)
    assert np.allclose(restored.transform(X), encoder.transform(X), atol=1e-5), (
        "a pickled encoder transforms differently"
    )


def _clusterer(cls: type[Clusterer], params: dict[str, Any]) -> None:
    if cls.needs_encoder_method:
        raise NotComputed("it takes an encoder's own clusters: check it with that encoder")
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 0.0, 0.0], [0.0, 6.0, 0.0, 0.0]])
    Z = np.concatenate([c + rng.normal(size=(20, 4)) for c in centres])
    clusterer = _construct(cls, params)
    labels = np.asarray(clusterer.fit_predict(Z))
    assert labels.shape == (len(Z),), f"fit_predict gave shape {labels.shape}"
    assert np.issubdtype(labels.dtype, np.integer) and labels.min() >= -1, "labels: ints >= -1"
    again = np.asarray(_construct(cls, params).fit_predict(Z))
    assert (labels == again).all(), "two fits with one random_state differ"
    new = np.asarray(clusterer.predict(Z[:10]))
    assert new.shape == (10,), f"predict gave shape {new.shape}"
    restored = _pickles(clusterer)
    assert (np.asarray(restored.predict(Z[:10])) == new).all(), "a pickled clusterer differs"


def evaluation(n: int = 30) -> Any:
    """A small finished run as metrics and reports see it: three groups, a label column."""
    from musiclust.evaluation import Evaluation

    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], n // 3)
    latent = rng.normal(size=(n, 4)) + truth[:, None] * 3.0
    return Evaluation(
        ids=[f"clip{i}" for i in range(n)],
        latent=latent,
        clusters=truth.copy(),
        labels={"genre": np.array([f"g{t}" for t in truth], dtype=object)},
        reference=latent + rng.normal(size=latent.shape),
        reference_name="check",
        seed=0,
    )


def _metric(cls: type[Metric], params: dict[str, Any]) -> None:
    values = _construct(cls, params).compute(evaluation())
    assert isinstance(values, dict), f"compute() returned {type(values).__name__}, not a dict"
    for key, value in values.items():
        assert isinstance(key, str), f"metric key {key!r} is not a string"
        ok = value is None or isinstance(value, str) or np.isfinite(float(value))
        assert ok, f"{key} = {value!r}: a number must be finite (or a str saying why not)"


def _report(cls: type[Report], params: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        written = _construct(cls, params).render(evaluation(), Path(tmp)) or []
        missing = [str(p) for p in written if not Path(p).is_file()]
        assert not missing, f"render() named files it did not write: {', '.join(missing)}"
