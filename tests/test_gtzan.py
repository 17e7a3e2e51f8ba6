"""A real run on ../shared/data/gtzan-mini with its lyrics (skipped when the data is absent)."""

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from conftest import DEFAULT_FEATURES
from mlflow.tracking import MlflowClient

from musiclust import pipeline
from musiclust.registry import get_registry
from musiclust.spec import build_spec

pytestmark = pytest.mark.shared_data


def test_gtzan_mini_with_lyrics_end_to_end(gtzan_mini, tmp_path):
    registry = get_registry()
    spec = build_spec(registry, data=str(gtzan_mini), sets=["agglomerative.n_clusters=10"])
    result = pipeline.run(spec, registry, progress=False)
    logged = MlflowClient().get_run(result.run_id)
    metrics = logged.data.metrics
    assert logged.info.status == "FINISHED"
    assert metrics["n_clips"] == 50 and metrics["n_skipped"] == 0
    lyrics = {p.stem for p in (gtzan_mini / "lyrics").glob("*.txt") if p.read_text().strip()}
    assert metrics["n_without_lyrics"] == 50 - len(lyrics)
    assert metrics["n_clusters"] == 10 and metrics["genre.n_classes"] == 10
    for key in (
        "genre.ami",
        "genre.ari",
        "genre.nmi",
        "genre.purity",
        "genre.accuracy",
        "silhouette",
        "reference.silhouette",
    ):
        assert key in metrics
    assert metrics["genre.ami"] > 0.2  # real structure is found (chance is 0)
    assert logged.data.params["feature.names"] == DEFAULT_FEATURES
    # the transcripts do not rise above noise: fusion leaves them out and says so
    (note,) = [n for n in result.notes if n.startswith("fusion (auto): tfidf")]
    assert f"({len(lyrics)} of 50 rows" in note and " left out: 0 directions" in note
    assert logged.data.params["source.name"] == "folder"
    assert MlflowClient().get_experiment(logged.info.experiment_id).name == "gtzan-mini"

    # a wav file the model has not seen: two clips mixed, at 44.1 kHz stereo
    a, sr = sf.read(gtzan_mini / "genres_original" / "rock" / "rock.00001.wav")
    b, _ = sf.read(gtzan_mini / "genres_original" / "metal" / "metal.00003.wav")
    n = min(len(a), len(b), 5 * sr)
    mix = 0.5 * a[:n] + 0.5 * b[:n]
    from scipy.signal import resample_poly

    mix = resample_poly(mix, 2, 1)
    sf.write(tmp_path / "unseen.wav", np.stack([mix, mix], axis=1), 44100)
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    out = model.predict(
        pd.DataFrame(
            {"audio": [str(tmp_path / "unseen.wav")], "lyrics": ["turn it up loud tonight"]}
        )
    )
    assert out["reason"].iloc[0] == "" and out["cluster"].iloc[0] in range(10)


def test_features_on_real_clips(gtzan_mini, tmp_path):
    from musiclust.analysis import AudioAnalysis
    from musiclust.audio import AudioSettings, decode
    from musiclust.cache import FeatureCache
    from musiclust.extraction import extract
    from musiclust.segments import Framing

    registry = get_registry()
    ds = registry.get("source", "folder").cls(path=str(gtzan_mini)).load()
    ds = ds.subset([i for i, c in enumerate(ds.clips) if c.id.endswith(("00000", "00001"))])
    names = ("audio_stats", "mfcc_stats", "stack39", "tfidf")
    features = [registry.get("feature", n).cls() for n in names]
    framing = Framing.from_params(build_spec(registry, features="stack39").segments)
    result = extract(
        ds,
        features,
        AudioSettings(),
        framing=framing,
        references=[registry.get("feature", "audio_stats").cls()],
        n_jobs=2,
        cache=FeatureCache(tmp_path),
        progress=False,
    )
    blocks = result.blocks
    n_windows = len(blocks["stack39"].groups)
    assert blocks["audio_stats"].values.shape == (n_windows, 91)  # per window, like stack39
    assert blocks["mfcc_stats"].values.shape == (n_windows, 40)
    assert result.references["audio_stats"].values.shape == (20, 91)  # the reference stays per clip
    windows = np.bincount(blocks["stack39"].groups)
    # 15-20 s clips in ~3 s windows: every clip whole, as 5 to 7 windows
    assert len(windows) == 20 and windows.min() >= 5 and windows.max() <= 7
    assert blocks["stack39"].values.shape[1:] == (39, 130)
    assert blocks["tfidf"].mask.sum() == sum(c.lyrics is not None for c in ds.clips)
    tempo = blocks["audio_stats"].values[:, -1]
    assert ((tempo > 40) & (tempo < 250)).all()
    import librosa

    y = decode(ds.clips[0].audio, AudioSettings())
    mine = AudioAnalysis(y, 22050).mfcc()
    theirs = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20)
    assert np.abs(mine - theirs).max() < 1e-4 * np.abs(theirs).max()
