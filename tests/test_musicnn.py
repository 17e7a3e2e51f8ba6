"""The ``musicnn`` feature: the PyTorch port against the reference implementation, the
checkpoint reader on real and corrupted files, and the feature inside the toolkit.

The reference outputs in ``tests/data/musicnn_reference.npz`` were recorded once with the
published implementation (PyPI ``musicnn`` 0.1.0 under ``tensorflow-cpu==2.15.1`` and
``numpy<2``, in a throw-away virtualenv; TensorFlow 2.21 with tf-keras gives wrong, nearly
constant taggrams and must not be used) by ``tests/data/record_musicnn_reference.py``, whose
docstring gives the commands. They cover two real signals: a clip made by the demo synthesiser
(regenerated here, its PCM checked against the recorded digest) and GTZAN's blues.00000 from
``../shared/data`` (skipped when absent).

The weights come from the installed ``musicnn`` package (``pip install --no-deps
musicnn==0.1.0``; ``.ci/run`` installs it); without it these tests skip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "musicnn_reference.npz"
SPEC = importlib.util.find_spec("musicnn")
WEIGHTS = Path(next(iter(SPEC.submodule_search_locations))) if SPEC else None
pytestmark = pytest.mark.skipif(
    WEIGHTS is None or not (WEIGHTS / "MSD_musicnn" / ".index").is_file(),
    reason="the musicnn weights are not installed (pip install --no-deps musicnn==0.1.0)",
)
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")


def musiclust(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as z:
        return dict(z)


def synth_wav(folder: Path) -> Path:
    """The fixture's synthesised clip, written as the recording script wrote it."""
    sys.path.insert(0, str(DATA))
    try:
        from record_musicnn_reference import synth_clip
    finally:
        sys.path.remove(str(DATA))
    y, sr = synth_clip()
    path = folder / "synth_clip.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype="PCM_16")
    return path


def port_outputs(path: Path, model: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The port's first input patch and every layer per patch for an audio file."""
    import librosa

    from musiclust.plugins.features.nets import musicnn as nets

    y, sr = sf.read(path, dtype="float32")
    y = librosa.resample(y, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
    batch = nets.patches(nets.log_mel(y))
    return batch[0], nets.embed(nets.load(model, str(WEIGHTS)), batch)


def assert_matches(stem: str, path: Path, reference: dict[str, np.ndarray]) -> None:
    data, _ = sf.read(path, dtype="int16")
    assert hashlib.sha256(data.tobytes()).hexdigest() == str(reference[f"{stem}/pcm_sha256"]), (
        "the audio differs from the recorded clip: re-record the fixture (see its docstring)"
    )
    for model in MODELS:
        patch0, out = port_outputs(path, model)
        # float16 rounding of the mel power can flip one step: 4e-4 of a range of ~6
        np.testing.assert_allclose(patch0, reference[f"{stem}/patch0"], atol=2e-3)
        taggram = reference[f"{stem}/{model}/taggram"]
        assert out["taggram"].shape == taggram.shape
        np.testing.assert_allclose(out["taggram"], taggram, atol=5e-5)
        if model.endswith("vgg"):
            np.testing.assert_allclose(
                out["penultimate"], reference[f"{stem}/{model}/pool5"], atol=5e-4
            )
            continue
        for layer in ("mean_pool", "max_pool"):
            ref = reference[f"{stem}/{model}/{layer}"]
            scale = np.abs(ref).max()
            np.testing.assert_allclose(out[layer], ref, atol=1e-4 * scale)
        first = reference[f"{stem}/{model}/penultimate"][0]
        np.testing.assert_allclose(out["penultimate"][0], first, atol=1e-3)
        # and it is not trivially constant: different patches, different taggrams
        assert np.abs(np.diff(out["taggram"], axis=0)).max() > 1e-3


def test_the_port_equals_the_reference_on_a_synthesised_clip(tmp_path, reference):
    assert_matches("synth_clip", synth_wav(tmp_path), reference)


@pytest.mark.shared_data
def test_the_port_equals_the_reference_on_a_gtzan_clip(gtzan_mini, reference):
    assert_matches(
        "blues.00000", gtzan_mini / "genres_original" / "blues" / "blues.00000.wav", reference
    )


def test_the_checkpoint_reader_lists_the_shipped_tensors():
    from musiclust.plugins.features.nets.tf_checkpoint import read_index

    entries = read_index(WEIGHTS / "MSD_musicnn" / ".index")
    assert len(entries) == 150  # weights, moving statistics and Adam slots
    kernel = entries["conv2d/kernel"]
    assert kernel.shape == [7, 38, 1, 204] and kernel.dtype == 1  # float32
    assert entries["dense_1/kernel"].shape == [200, 50]


def corrupted_copy(tmp_path: Path, how: str) -> Path:
    """A copy of the weights folder with one real kind of damage in MSD_musicnn."""
    folder = tmp_path / how
    shutil.copytree(WEIGHTS / "MSD_musicnn", folder / "MSD_musicnn")
    data = folder / "MSD_musicnn" / ".data-00000-of-00001"
    index = folder / "MSD_musicnn" / ".index"
    if how == "flipped":  # one bit of a weight that the model reads
        from musiclust.plugins.features.nets.tf_checkpoint import read_index

        blob = bytearray(data.read_bytes())
        blob[read_index(index)["conv2d/kernel"].offset + 100] ^= 0x10
        data.write_bytes(bytes(blob))
    elif how == "truncated":
        data.write_bytes(data.read_bytes()[:1_000_000])
    elif how == "index":
        raw = bytearray(index.read_bytes())
        raw[200] ^= 0xFF
        index.write_bytes(bytes(raw))
    elif how == "garbage":
        index.write_bytes(np.random.default_rng(0).bytes(4948))
    return folder


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("flipped", "conv2d/kernel: the data file is corrupted (checksum mismatch)"),
        ("truncated", "truncated?"),
        ("index", "index file corrupted (checksum of the block"),
        ("garbage", "is not a TensorFlow checkpoint index (no table magic)"),
    ],
)
def test_damaged_weights_are_reported_in_one_line(tmp_path, how, message):
    from musiclust.plugins.features.nets import musicnn as nets
    from musiclust.plugins.features.nets.tf_checkpoint import CheckpointError, read_checkpoint

    folder = corrupted_copy(tmp_path, how)
    with pytest.raises(
        CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        read_checkpoint(str(folder / "MSD_musicnn") + "/", nets.checkpoint_names("MSD_musicnn"))
    songs = synth_wav(tmp_path / "songs" / "pop")
    out = musiclust(
        "features",
        "--data",
        str(songs.parent.parent),
        "--features",
        "musicnn",
        "--set",
        f"musicnn.weights={folder} audio.n_jobs=1",
        "--out",
        str(tmp_path / "f"),
        cwd=tmp_path,
    )
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "musicnn: the MSD_musicnn checkpoint" in out.stderr and "unreadable" in out.stderr
    assert "--force-reinstall --no-deps musicnn==0.1.0" in out.stderr


def test_missing_weights_fail_before_any_work(tmp_path):
    out = musiclust("run", "--features", "musicnn", "--set", f"musicnn.weights={tmp_path}")
    assert out.returncode != 0 and out.stderr.count("\n") == 1
    assert (
        f"musicnn: no MSD_musicnn checkpoint (MSD_musicnn/.index) in musicnn.weights={tmp_path}"
        in out.stderr
    )
    assert "pip install --no-deps musicnn==0.1.0" in out.stderr
    assert not (tmp_path / "mlruns").exists()


def test_patches_follow_the_reference_rules():
    from musiclust.plugins.features.nets import musicnn as nets

    spec = np.arange(500 * 96, dtype=np.float32).reshape(500, 96)
    assert nets.patches(spec).shape == (2, 187, 96)  # frames after the last full patch are left out
    assert nets.hop_frames(None) == 187
    assert nets.hop_frames(1.0) == 61  # as the reference converts an overlap in seconds
    assert nets.patches(spec, nets.hop_frames(1.0)).shape == (6, 187, 96)
    short = spec[:80]  # under 3 s: repeated until a patch is full
    padded = nets.patches(short)
    assert padded.shape == (1, 187, 96)
    np.testing.assert_array_equal(padded[0, 80:160], short)


def test_the_feature_in_a_run_equals_the_port_and_handles_short_clips_and_windows(
    tmp_path, reference
):
    """The toolkit path (decoding at 22050 Hz, resampling inside the feature, pooling) gives
    the reference's own clip-level taggram; a 1.2 s clip is padded, not skipped; windows give
    one row per window; the second extraction is served from the cache."""
    from musiclust.audio import AudioSettings
    from musiclust.cache import FeatureCache
    from musiclust.data import Clip, Dataset
    from musiclust.extraction import extract
    from musiclust.plugins.features.musicnn import Musicnn
    from musiclust.segments import Framing

    long = synth_wav(tmp_path)
    short = tmp_path / "short.wav"
    y, sr = sf.read(long, dtype="float32")
    sf.write(short, y[: int(1.2 * sr)], sr, subtype="PCM_16")
    data = Dataset("t", [Clip("synth_clip", long), Clip("short", short)])
    cache = FeatureCache(tmp_path / "cache")
    first = extract(data, [Musicnn()], AudioSettings(), cache=cache, progress=False)
    assert not first.skipped
    rows = first.blocks["musicnn"].values
    assert rows.shape == (2, 200) and np.all(np.isfinite(rows))
    again = extract(data, [Musicnn()], AudioSettings(), cache=cache, progress=False)
    assert cache.hits == 2 and cache.misses == 2  # the same feature again: nothing recomputed
    np.testing.assert_array_equal(again.blocks["musicnn"].values, rows)
    taggram = Musicnn(layer="taggram", pooling="mean_std")
    tags = extract(data, [taggram], AudioSettings(), cache=cache, progress=False)
    values = tags.blocks["musicnn"].values
    assert values.shape == (2, 100)
    expected = reference["synth_clip/MSD_musicnn/taggram"]
    np.testing.assert_allclose(values[0, :50], expected.mean(axis=0), atol=5e-5)
    np.testing.assert_allclose(values[0, 50:], expected.std(axis=0), atol=5e-5)
    assert values[1, :50].min() > 0 and values[1, :50].max() < 1
    windows = extract(
        data, [Musicnn()], AudioSettings(), framing=Framing(3.0), cache=cache, progress=False
    )
    block = windows.blocks["musicnn"]
    assert block.values.shape[1] == 200 and list(np.bincount(block.groups)) == [4, 1]


def test_a_run_and_the_plugin_list_show_it(tmp_path):
    listing = musiclust("plugins")
    assert listing.returncode == 0
    line = next(x for x in listing.stdout.splitlines() if x.strip().startswith("musicnn "))
    assert "musicnn" in line and "Pretrained" in line
    for param in ("model", "layer", "pooling", "hop", "weights", "device"):
        assert f"      {param} " in listing.stdout
    out = musiclust(
        "run",
        "--features",
        "musicnn",
        "--encoder",
        "identity",
        "--set",
        "demo.n_per_style=3 demo.duration=3 demo.styles=3 agglomerative.n_clusters=3",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "-> musicnn -> identity -> agglomerative: 3 clusters" in out.stdout
    ami = float(out.stdout.split("genre: ami ")[1].split()[0])
    assert ami > 0.5  # three synthetic styles: the pretrained embedding separates them


def test_other_rates_are_resampled_and_silence_is_skipped_with_its_reason(tmp_path):
    from musiclust.audio import AudioSettings
    from musiclust.data import Clip, Dataset
    from musiclust.extraction import extract
    from musiclust.plugins.features.musicnn import Musicnn

    y, sr = sf.read(synth_wav(tmp_path), dtype="float32")
    import librosa

    paths = {}
    for rate in (44100, 8000, 16000):
        paths[rate] = tmp_path / f"at{rate}.wav"
        sf.write(
            paths[rate], librosa.resample(y, orig_sr=sr, target_sr=rate), rate, subtype="PCM_16"
        )
    paths["silent"] = tmp_path / "silent.wav"
    sf.write(paths["silent"], np.zeros(3 * sr, np.float32), sr, subtype="PCM_16")
    data = Dataset("t", [Clip(str(k), p) for k, p in paths.items()])
    out = extract(data, [Musicnn(layer="taggram")], AudioSettings(), progress=False)
    assert [s.id for s in out.skipped] == ["silent"] and "silent" in out.skipped[0].reason
    rows = out.blocks["musicnn"].values
    assert rows.shape == (3, 50) and np.all(np.isfinite(rows))
    # the same music stored at 44.1 kHz and at 16 kHz gets nearly the same tags; at 8 kHz it
    # loses its top octaves and drifts further
    assert np.corrcoef(rows[0], rows[2])[0, 1] > 0.95
    assert np.corrcoef(rows[1], rows[2])[0, 1] > 0.8
