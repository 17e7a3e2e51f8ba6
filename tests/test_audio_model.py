"""The ``audio_model`` feature: any local transformers audio model, offline.

The models are tiny and randomly initialised, built and saved by the tests themselves with
``save_pretrained`` (nothing is downloaded): a wav2vec2 (1-D hidden states over time) and a
CLAP (a two-tower model whose audio tower yields 2-D maps and crops long input at random).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import write_styled_folder

from musiclust import SpecError
from musiclust.audio import AudioSettings
from musiclust.cache import FeatureCache
from musiclust.data import Clip, Dataset
from musiclust.extraction import extract

transformers = pytest.importorskip("transformers")
# the tiny CLAP has more mel bands than its FFT resolves well; irrelevant to what is tested
pytestmark = pytest.mark.filterwarnings("ignore:At least one mel filter has all zero values")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import torch
    from transformers import (
        BertConfig,
        BertModel,
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        Wav2Vec2Config,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2Model,
    )

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    small = {"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2}
    w2v = Wav2Vec2Config(
        **small,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    Wav2Vec2Model(w2v).save_pretrained(root / "w2v")
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(root / "w2v")
    audio = ClapAudioConfig(
        window_size=4,
        num_mel_bins=16,
        spec_size=64,
        patch_size=4,
        patch_stride=(4, 4),
        hidden_size=32,
        depths=[1, 1],
        num_heads=[1, 2],
        patch_embeds_hidden_size=8,
        projection_dim=8,
        enable_fusion=False,
    )
    text = ClapTextConfig(vocab_size=50, **small, intermediate_size=16, projection_dim=8).to_dict()
    ClapModel(
        ClapConfig(text_config=text, audio_config=audio.to_dict(), projection_dim=8)
    ).save_pretrained(root / "clap")
    ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=16000,
        fft_window_size=512,
        hop_length=160,
        max_length_s=2,
        truncation="rand_trunc",
    ).save_pretrained(root / "clap")
    BertModel(BertConfig(vocab_size=50, **small, intermediate_size=16)).save_pretrained(
        root / "bert"
    )
    return {"w2v": root / "w2v", "clap": root / "clap", "bert": root / "bert"}


def musiclust(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command line, in the test's own folder (conftest makes it the working folder)."""
    return subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True, env=env
    )


def feature(**params):
    from musiclust.plugins.features.audio_model import AudioModel

    return AudioModel(**params)


def clips(tmp_path: Path, seconds: float = 2.0) -> Dataset:
    root = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=2, seconds=seconds)
    paths = sorted(root.glob("*/*.wav"))
    return Dataset("t", [Clip(p.stem, p) for p in paths])


def test_a_local_model_embeds_each_clip_at_its_own_rate(tmp_path, models):
    """22050 Hz clips through a 16 kHz model: resampled, averaged over time, equal to doing it
    by hand with transformers; the layer choice matters; a second run reads the cache."""
    import librosa
    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    data = clips(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    got = extract(
        data, [feature(path=str(models["w2v"]))], AudioSettings(), cache=cache, progress=False
    )
    rows = got.blocks["audio_model"].values
    assert rows.shape == (4, 16) and np.all(np.isfinite(rows))

    y, sr = sf.read(data.clips[0].audio, dtype="float32")
    y16 = librosa.resample(y, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
    extractor = AutoFeatureExtractor.from_pretrained(models["w2v"])
    model = AutoModel.from_pretrained(models["w2v"]).eval()
    with torch.inference_mode():
        out = model(
            **extractor(y16, sampling_rate=16000, return_tensors="pt"), output_hidden_states=True
        )
    np.testing.assert_allclose(rows[0], out.hidden_states[-1][0].mean(dim=0).numpy(), atol=1e-5)
    mean = np.mean([h[0].mean(dim=0).numpy() for h in out.hidden_states], axis=0)

    layers = {}
    for layer in (0, "mean"):
        block = extract(
            data,
            [feature(path=str(models["w2v"]), layer=layer)],
            AudioSettings(),
            cache=cache,
            progress=False,
        )
        layers[layer] = block.blocks["audio_model"].values
    np.testing.assert_allclose(layers["mean"][0], mean, atol=1e-5)
    assert np.abs(layers[0] - rows).max() > 1e-3
    hits = cache.hits
    extract(data, [feature(path=str(models["w2v"]))], AudioSettings(), cache=cache, progress=False)
    assert cache.hits == hits + 4


def test_a_two_tower_model_uses_its_audio_tower_in_chunks_it_keeps_whole(tmp_path, models):
    """CLAP crops input longer than its 2 s at random; chunks of at most 2 s keep the result
    deterministic, and its 2-D maps are averaged over both axes."""
    data = clips(tmp_path, seconds=5.0)
    first = extract(
        data,
        [feature(path=str(models["clap"]))],
        AudioSettings(),
        cache=FeatureCache(tmp_path / "a"),
        progress=False,
    )
    again = extract(
        data,
        [feature(path=str(models["clap"]))],
        AudioSettings(),
        cache=FeatureCache(tmp_path / "b"),
        progress=False,
    )
    rows = first.blocks["audio_model"].values
    assert rows.shape == (4, 16) and np.all(np.isfinite(rows))
    np.testing.assert_array_equal(rows, again.blocks["audio_model"].values)
    with pytest.raises(SpecError, match="layer=mean needs layers of one width"):
        extract(
            data,
            [feature(path=str(models["clap"]), layer="mean")],
            AudioSettings(),
            cache=FeatureCache(tmp_path / "c"),
            progress=False,
        )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "audio_model.path is required"),
        ("nowhere", "audio_model.path: no such folder: nowhere"),
        ("bert", "holds no audio model (model type 'bert', no preprocessor_config.json"),
    ],
)
def test_a_missing_or_wrong_model_is_one_line_before_any_work(tmp_path, models, path, message):
    target = str(models[path]) if path in models else path
    out = musiclust("run", "--features", "audio_model", "--set", f"audio_model.path={target}")
    assert out.returncode != 0 and out.stderr.count("\n") <= 2 and "Traceback" not in out.stderr
    assert message in out.stderr
    assert not (tmp_path / "mlruns").exists()


def test_a_layer_the_model_lacks_stops_the_extraction_in_one_line(tmp_path, models):
    root = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=2)
    out = musiclust(
        "features",
        "--data",
        str(root),
        "--features",
        "audio_model",
        "--set",
        f"audio_model.path={models['w2v']} audio_model.layer=7 audio.n_jobs=2",
        "--out",
        str(tmp_path / "f"),
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert (
        out.stderr.strip()
        == "error: audio_model.layer=7: the model has 3 hidden states (layers -3..2)"
    )


def test_without_transformers_the_error_names_what_to_install(tmp_path, models):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['transformers'] = None\n")
    out = musiclust(
        "run",
        "--features",
        "audio_model",
        "--set",
        f"audio_model.path={models['w2v']}",
        env={**os.environ, "PYTHONPATH": str(blocker)},
    )
    assert out.returncode != 0 and out.stderr.count("\n") == 1
    assert "audio_model needs the transformers package (pip install transformers)" in out.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None,
    reason="the musicnn weights are not installed",
)
def test_a_search_combines_both_pretrained_features_with_the_rest(tmp_path, models):
    import mlflow
    import optuna

    from musiclust.search import SearchOptions, search
    from tests.conftest import SMALL_DEMO

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = search(
        SearchOptions(
            encoders=["identity"],
            clusterers=["kmeans"],
            features=["musicnn", "audio_model", "audio_stats"],
            sets=[*SMALL_DEMO, f"audio_model.path={models['w2v']}"],
            trials=8,
            storage=storage,
        )
    )
    study = optuna.load_study(study_name=result.study, storage=storage)
    picked = {t.params["identity.features"] for t in study.trials}
    assert any("musicnn" in p for p in picked) and any("audio_model" in p for p in picked)
    assert result.counts["complete"] >= 6
    space = mlflow.artifacts.load_text(f"runs:/{result.parent_run_id}/search_space.txt")
    assert "musicnn,audio_model" in space
    assert "scored in the reference space of: audio_stats, musicnn" in space


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("musicnn") is None,
    reason="the musicnn weights are not installed",
)
def test_every_command_of_the_pretrained_embeddings_guide_runs(tmp_path, models):
    """docs/pretrained-embeddings.md, verbatim (pip lines aside: CI installs the same), with
    the tiny local model in place of the guide's MERT folder."""
    import re
    import shlex

    guide = (Path(__file__).parents[1] / "docs" / "pretrained-embeddings.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", guide, flags=re.S)
    commands = [c for b in blocks for c in b.splitlines() if c.startswith("musiclust ")]
    assert len(commands) == 3
    for command in commands:
        command = command.replace("/models/MERT-v1-95M", str(models["w2v"]))
        out = musiclust(*shlex.split(command)[1:])
        assert out.returncode == 0, f"{command}\n{out.stderr}"
        assert "genre: ami" in out.stdout


def test_audio_model_keeps_the_plugin_contract(models):
    from musiclust.registry import get_registry
    from musiclust.testing import check_plugin

    cls = get_registry().get("feature", "audio_model").cls
    passed = check_plugin(cls, path=str(models["w2v"]))
    assert "feature: deterministic, finite, tells music apart" in passed
