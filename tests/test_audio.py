"""Decoding real files: each bad kind is refused with its reason; good files are normalised."""

import numpy as np
import pytest
import soundfile as sf
from helpers import write_tone

from musiclust.audio import AudioError, AudioSettings, declared_frames, decode

SETTINGS = AudioSettings()


def test_good_wav_is_resampled_to_mono_at_the_target_rate(tmp_path):
    path = write_tone(tmp_path / "stereo.wav", seconds=2.0, sr=44100, channels=2)
    y = decode(path, SETTINGS)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 2 * 22050) <= 2


def test_offset_and_duration_select_the_analysed_part(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=5.0)
    y = decode(path, AudioSettings(offset=1.0, duration=2.0))
    assert len(y) == 2 * 22050


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "AU", "MP3"])
def test_other_formats_decode(tmp_path, fmt):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile has no {fmt}")
    path = tmp_path / f"a.{fmt.lower()}"
    lossy = {"OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}
    if fmt in lossy:
        t = np.arange(22050 * 2) / 22050
        sf.write(
            path,
            (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
            22050,
            format=fmt,
            subtype=lossy[fmt],
        )
    else:
        write_tone(path, fmt=fmt)
    assert abs(len(decode(path, SETTINGS)) - 2 * 22050) < 2048


def reason(path, settings=SETTINGS):
    with pytest.raises(AudioError) as err:
        decode(path, settings)
    return str(err.value)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    assert reason(tmp_path / "empty.wav") == "empty file (0 bytes)"


def test_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("these are not samples")
    assert reason(tmp_path / "notes.wav").startswith("cannot decode: ")


@pytest.mark.parametrize("fmt", ["WAV", "AU"])
def test_truncated_file_is_caught_against_its_header(tmp_path, fmt):
    path = write_tone(tmp_path / f"t.{fmt.lower()}", seconds=3.0, fmt=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert sf.info(str(path)).frames < 3 * 22050  # libsndfile itself just reads fewer frames
    assert reason(path).startswith("truncated: ")


def test_silent_and_short_clips(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(22050 * 2, dtype=np.float32), 22050)
    assert reason(silent).startswith("silent: RMS -inf dBFS")
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.full(22050 * 2, 1e-5, dtype=np.float32), 22050, subtype="FLOAT")
    assert reason(quiet).startswith("silent: RMS -100 dBFS")
    short = write_tone(tmp_path / "short.wav", seconds=0.5)
    assert reason(short) == "too short: 0.50 s analysed, min_duration is 1 s"
    assert reason(
        write_tone(tmp_path / "b.wav", seconds=2.0), AudioSettings(offset=3.0)
    ).startswith("too short: 2.00 s, offset is 3 s")


def test_declared_frames_match_a_sound_header(tmp_path):
    path = write_tone(tmp_path / "a.wav", seconds=1.5)
    assert declared_frames(path) == sf.info(str(path)).frames == int(1.5 * 22050)
    assert declared_frames(write_tone(tmp_path / "a.flac", fmt="FLAC")) is None
