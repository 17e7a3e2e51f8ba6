"""The shared analysis equals librosa's own functions; windows cover clips; frames fit."""

import librosa
import numpy as np
import pytest

from musiclust import dsp
from musiclust.analysis import AudioAnalysis, fit_frames, segment_bounds
from musiclust.plugins.sources import synth


@pytest.fixture(scope="module", params=[0, 1, 3])
def song(request):
    style = synth.STYLES[request.param]
    return synth.synthesize(style, np.random.default_rng([5, request.param]), 22050, 4.0)


def close(mine, theirs, rtol):
    assert mine.shape == theirs.shape
    assert np.abs(mine - theirs).max() <= rtol * np.abs(theirs).max()


def test_every_representation_matches_librosa(song):
    y, sr = song, 22050
    a = AudioAnalysis(y, sr)
    close(a.magnitude(), np.abs(librosa.stft(y)), 1e-5)
    close(a.mfcc(), librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20), 1e-5)
    close(
        a.log_mel(),
        librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr), top_db=80.0),
        1e-5,
    )
    close(a.chroma(), librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0), 1e-5)
    close(a.chroma(tuning="estimate"), librosa.feature.chroma_stft(y=y, sr=sr), 1e-5)
    close(a.contrast(), librosa.feature.spectral_contrast(y=y, sr=sr), 1e-2)
    # On the same spectrogram the numpy ports agree to float precision.
    close(a.contrast(), librosa.feature.spectral_contrast(S=a.magnitude(), sr=sr), 1e-6)
    close(a.mfcc(13), librosa.feature.mfcc(S=a.log_mel(), n_mfcc=13), 1e-6)
    # chroma sums 1,025 float32 bins per pitch class: float precision there is sqrt(1025) x
    # 1.2e-7 = 4e-6 (an AMD EPYC machine measured 1.01e-6 where others stayed below 1e-6)
    close(a.chroma(), librosa.feature.chroma_stft(S=a.power(), sr=sr, tuning=0.0), 4e-6)
    close(a.spectral("centroid"), librosa.feature.spectral_centroid(y=y, sr=sr), 1e-5)
    close(a.spectral("bandwidth"), librosa.feature.spectral_bandwidth(y=y, sr=sr), 1e-5)
    close(a.spectral("rolloff"), librosa.feature.spectral_rolloff(y=y, sr=sr), 1e-2)
    close(a.spectral("flatness"), librosa.feature.spectral_flatness(y=y), 1e-3)
    close(a.rms(), librosa.feature.rms(S=np.abs(librosa.stft(y)), frame_length=2048), 1e-5)
    close(a.zero_crossing_rate(), librosa.feature.zero_crossing_rate(y), 1e-7)
    assert a.tempo() == pytest.approx(float(librosa.feature.tempo(y=y, sr=sr)[0]))


def test_windows_cover_the_whole_signal():
    sr = 10
    assert segment_bounds(95, sr, 3.0) == [(0, 30), (30, 60), (60, 90), (65, 95)]
    assert segment_bounds(92, sr, 3.0) == [(0, 30), (30, 60), (60, 90)]  # 2 left: < a tenth
    assert segment_bounds(20, sr, 3.0) == [(0, 20)]  # shorter than a window: one window
    assert segment_bounds(60, sr, 3.0, hop=1.5) == [(0, 30), (15, 45), (30, 60)]


def test_fit_frames_pads_crops_and_resizes():
    rows = np.arange(12, dtype=float).reshape(2, 6)
    padded, cut = fit_frames(rows, 8, "pad")
    assert padded.shape == (2, 8) and not cut
    assert padded[:, 6:].tolist() == [[0, 0], [6, 6]]  # each row's minimum
    cropped, cut = fit_frames(rows, 4, "pad")
    assert cut and cropped.tolist() == rows[:, :4].tolist()
    resized, cut = fit_frames(rows, 11, "resize")
    assert not cut and resized.shape == (2, 11)
    assert resized[0, 0] == 0 and resized[0, -1] == 5 and resized[0, 5] == pytest.approx(2.5)


@pytest.mark.parametrize("sr, n_fft", [(16000, 512), (22050, 2048), (44100, 4096)])
def test_numpy_filterbanks_and_resampler_equal_librosas(sr, n_fft):
    for n_mels in (40, 96, 128):
        close(
            dsp.mel_filterbank(sr, n_fft, n_mels),
            librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels),
            1e-6,
        )
    for tuning in (0.0, 0.21, -0.4):
        theirs = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning)
        close(dsp.chroma_filterbank(sr, n_fft, 12, tuning), theirs, 1e-6)
    y = np.random.default_rng(sr).standard_normal((2, 3 * sr)).astype(np.float32)
    theirs = librosa.resample(y, orig_sr=sr, target_sr=22050, res_type="soxr_hq")
    close(dsp.resample(y, sr, 22050), theirs, 1e-6)
    close(dsp.resample(y[0], sr, 22050), theirs[0], 1e-6)
