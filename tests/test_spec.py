"""Spec resolution: defaults filled in, precedence, and one-line errors before any work."""

import importlib.util
from pathlib import Path

import pytest
import yaml
from conftest import DEFAULT_AUDIO, DEFAULT_FEATURES

from musiclust.adapt import adapt_to_data
from musiclust.errors import DataError, SpecError
from musiclust.registry import get_registry
from musiclust.spec import build_spec

ROOT = Path(__file__).resolve().parents[1]


def spec(**kw):
    return build_spec(get_registry(), **kw)


def test_no_options_give_the_demo_with_every_default_filled_in():
    s = spec()
    assert s.source.name == "demo"
    assert s.encoder.name == "pca" and s.clusterer.name == "agglomerative"
    # pca's defaults: the pretrained embedding, else the statistics; beside them the lyrics
    first = "musicnn" if importlib.util.find_spec("musicnn") else "audio_stats"
    assert [p.name for p in s.features] == [first, "tfidf"]
    assert s.alternatives[first] == (["audio_stats"] if first == "musicnn" else [])
    assert s.fusion["balance"] == "auto"
    assert s.default_features
    assert s.clusterer.params["n_clusters"] == "auto"
    assert s.clusterer.params["criterion"] == "label_free"
    assert s.encoder.params == {"n_components": 16, "whiten": False}
    assert s.features[0].params["weight"] == 1.0
    assert s.audio["sample_rate"] == 22050 and s.audio["duration"] is None
    assert {p.name for p in s.metrics} >= {"internal", "external", "sizes"}


def test_data_path_chooses_the_source(tmp_path):
    (tmp_path / "songs").mkdir()
    (tmp_path / "list.csv").write_text("audio,lyrics\n")
    assert spec(data=str(tmp_path / "songs")).source.name == "folder"
    s = spec(data=str(tmp_path / "list.csv"))
    assert s.source.name == "csv" and s.source.params["path"] == str(tmp_path / "list.csv")
    with pytest.raises(DataError, match="no such file or folder"):
        spec(data=str(tmp_path / "missing"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SpecError, match=r"a folder or a \.csv file"):
        spec(data=str(tmp_path / "notes.txt"))


def test_config_then_options_then_set(tmp_path):
    config = tmp_path / "spec.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "encoder": {"name": "pca", "params": {"n_components": 8, "whiten": True}},
                "clusterer": {"kmeans": {"n_clusters": 6}},
                "features": ["mfcc_stats"],
                "seed": 3,
            }
        )
    )
    s = spec(config=config, sets=["pca.n_components=4"])
    assert s.encoder.params == {"n_components": 4, "whiten": True}
    assert s.clusterer.params["n_clusters"] == 6
    assert [p.name for p in s.features] == ["mfcc_stats"] and not s.default_features
    assert s.seed == 3
    # naming another encoder on the command line drops the config's pca parameters
    s = spec(config=config, encoder="identity", seed=5)
    assert s.encoder.name == "identity" and s.encoder.params == {} and s.seed == 5


def test_several_assignments_in_one_set_value_as_mlproject_passes_them():
    s = spec(sets=["agglomerative.n_clusters=10 pca.whiten=true audio.duration=5"])
    assert s.clusterer.params["n_clusters"] == 10
    assert s.encoder.params["whiten"] is True
    assert s.audio["duration"] == 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"encoder": "pcaa"},
            "unknown encoder 'pcaa'; known encoders: "
            "ae, conv_vae, cvae, hybrid_vae, identity, pca, vade, vae",
        ),
        ({"clusterer": "kmean"}, "did you mean 'kmeans'"),
        ({"features": "mfcc_stats,chromagram"}, "unknown feature 'chromagram'; known features:"),
        (
            {"sets": ["pca.n_component=4"]},
            "unknown parameter 'pca.n_component'; pca takes: n_components, whiten",
        ),
        (
            {"sets": ["agglomerative.n_clusters=ten"]},
            "agglomerative.n_clusters: expected an integer",
        ),
        ({"sets": ["pca.n_components=0"]}, "expected an integer in [1, 4096], got 0"),
        ({"sets": ["vae.latent_dim=3"]}, "'vae' is not part of this run"),
        ({"sets": ["agglomerative.n_clusters"]}, "expected plugin.param=value"),
        ({"features": "mfcc_stats,mfcc_stats"}, "listed twice"),
        ({"source": "demo", "data": "."}, "source 'demo' takes no --data path"),
        (
            {"sets": ["agglomerative.k_min=8 agglomerative.k_max=4"]},
            "agglomerative.k_min=8 is above agglomerative.k_max=4",
        ),
        ({"source": "folder"}, "source 'folder' needs a path"),
    ],
)
def test_mistakes_fail_before_any_work_with_the_valid_choices(kwargs, message):
    with pytest.raises((SpecError, DataError)) as err:
        spec(**kwargs)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_config_file_mistakes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("encoder: [pca\n")
    with pytest.raises(SpecError, match="not valid YAML at line"):
        spec(config=bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("encodr: pca\n")
    with pytest.raises(SpecError, match=r"unknown key 'encodr'.*did you mean 'encoder'"):
        spec(config=typo)


def test_hash_follows_results_not_parallelism():
    base = spec()
    assert spec().hash() == base.hash()
    assert spec(sets=["audio.n_jobs=2"]).hash() == base.hash()
    assert spec(sets=["pca.n_components=8"]).hash() != base.hash()
    assert spec(seed=1).hash() != base.hash()


def test_mlflow_param_keys_never_collide_with_mlproject_parameters():
    mlproject = yaml.safe_load((ROOT / "MLproject").read_text())
    raw = set(mlproject["entry_points"]["main"]["parameters"])
    flat = spec().flat_params()
    assert not raw & set(flat)
    assert flat["encoder.name"] == "pca" and flat["clusterer.n_clusters"] == "auto"
    assert flat["feature.names"] == DEFAULT_FEATURES and flat["audio.duration"] == "none"


def test_default_features_adapt_to_the_data_explicit_ones_do_not():
    s = spec()
    notes = adapt_to_data(s, get_registry(), has_audio=True, has_lyrics=True)
    assert [p.name for p in s.features] == [DEFAULT_AUDIO, "tfidf"] and not notes
    s = spec(sets=["tfidf.dims=7"])
    notes = adapt_to_data(s, get_registry(), has_audio=False, has_lyrics=True)
    assert [p.name for p in s.features] == ["tfidf"] and s.features[0].params["dims"] == 7
    assert notes == [f"default feature '{DEFAULT_AUDIO}' dropped: the data has no audio"]
    s = spec()
    notes = adapt_to_data(s, get_registry(), has_audio=True, has_lyrics=False)
    assert [p.name for p in s.features] == [DEFAULT_AUDIO]
    assert notes == ["default feature 'tfidf' dropped: the data has no lyrics"]
    with pytest.raises(SpecError, match=r"unknown parameter 'tfidf\.dimz'"):
        spec(sets=["tfidf.dimz=7"])
    s = spec(features="mfcc_stats,tfidf")
    with pytest.raises(DataError, match="feature 'tfidf' needs lyrics"):
        adapt_to_data(s, get_registry(), has_audio=True, has_lyrics=False)


def test_segments_auto_follow_the_2d_features():
    assert spec().segments["length"] is None  # vector features only: whole clips
    s = spec(features="stack39")
    assert s.segments["length"] == pytest.approx(129 * 512 / 22050, abs=1e-4) and not s.notes
    s = spec(features="stack39", sets=["stack39.frames=44 audio.sample_rate=16000"])
    assert s.segments["length"] == pytest.approx(43 * 512 / 16000, abs=1e-4)
    assert spec(features="mel", sets=["mel.fit=resize"]).segments["length"] is None
    s = spec(features="mel", sets=["segments.length=10"])
    assert "keep only the first 3.00 s of each 10 s window" in s.notes[0]
    with pytest.raises(SpecError, match="must share one number of frames"):
        spec(features="mel,chroma", sets=["mel.frames=100"])


def test_a_spec_held_in_memory_resolves_like_its_file(tmp_path):
    """build_spec takes the mapping a spec file holds (a search re-fits its best trial from
    it, with no temporary file), checked the same way."""
    registry = get_registry()
    mapping = {"encoder": {"name": "pca", "params": {"n_components": 4}}, "seed": 3}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(mapping))
    from_file = build_spec(registry, config=str(path))
    assert build_spec(registry, config=mapping).to_dict() == from_file.to_dict()
    assert from_file.encoder.params["n_components"] == 4 and from_file.seed == 3
    with pytest.raises(SpecError, match="unknown key 'encoders' in the spec"):
        build_spec(registry, config={"encoders": "pca"})
