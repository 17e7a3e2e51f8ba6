"""Decoding one audio file into a checked mono signal, or a reason to skip it.

A clip is skipped (with its reason) when it cannot be decoded, holds fewer frames than its header
declares, is silent, or is shorter than ``min_duration``. These settings are the ``audio``
section of a spec (``--set audio.sample_rate=16000``) and are shared by every audio feature.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musiclust.params import Bool, Float, Int, Str

AUDIO_PARAMS = (
    Int("sample_rate", 22050, low=4000, high=192000, help="rate every clip is resampled to (Hz)"),
    Bool(
        "mono",
        True,
        help="downmix to mono; false: left and right analysed on their own, "
        "their features stacked (mono files count as two equal channels)",
    ),
    Float("offset", 0.0, low=0.0, help="seconds skipped at the start of each clip"),
    Float("duration", None, low=0.1, nullable=True, help="seconds analysed per clip (none: all)"),
    Float("min_duration", 1.0, low=0.0, help="clips shorter than this (seconds) are skipped"),
    Float(
        "silence_db",
        -60.0,
        low=-200.0,
        high=0.0,
        help="RMS level (dBFS) below which a clip is silent",
    ),
    Int(
        "n_jobs",
        "auto",
        low=1,
        high=256,
        also=("auto",),
        help="processes for audio feature extraction ('auto': all cores when there is enough work)",
    ),
    Str(
        "scheduler",
        None,
        nullable=True,
        help="extract on Dask instead: a scheduler address (tcp://host:8786) or 'local' "
        "(a LocalCluster here); the audio must be at the same paths on every worker",
    ),
)


class AudioError(Exception):
    """A clip that cannot be used; ``str(exc)`` is the reason written to skipped.csv."""


@dataclass(frozen=True)
class AudioSettings:
    sample_rate: int = 22050
    mono: bool = True
    offset: float = 0.0
    duration: float | None = None
    min_duration: float = 1.0
    silence_db: float = -60.0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AudioSettings:
        keys = ("sample_rate", "mono", "offset", "duration", "min_duration", "silence_db")
        return cls(**{k: params[k] for k in keys if k in params})

    def key(self) -> dict[str, Any]:
        """What identifies the decoded signal (part of every audio cache key)."""
        return {
            "sample_rate": self.sample_rate,
            "mono": self.mono,
            "offset": self.offset,
            "duration": self.duration,
        }


def decode(path: str | os.PathLike[str], settings: AudioSettings) -> np.ndarray:
    """Read ``path`` as float32 at ``settings.sample_rate`` or raise :class:`AudioError`: mono
    (samples,), or (2, samples) with ``mono=False``."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError("file not found")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile's own message names the problem
        raise AudioError(f"cannot decode: {_short(exc)}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError("cannot decode: no audio frames")
    declared = declared_frames(path)
    if declared is not None and info.frames < declared:
        raise AudioError(f"truncated: {info.frames} of {declared} frames declared by the header")

    native = info.samplerate
    start = round(settings.offset * native)
    if start >= info.frames:
        raise AudioError(
            f"too short: {info.frames / native:.2f} s, offset is {settings.offset:g} s"
        )
    stop = None if settings.duration is None else start + round(settings.duration * native)
    try:
        y, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"cannot decode: {_short(exc)}") from None
    expected = min(stop or info.frames, info.frames) - start
    # Compressed formats can end a little early (encoder padding); a large gap means truncation.
    if len(y) < expected - max(4096, 0.01 * expected):
        raise AudioError(f"truncated: decoded {start + len(y)} of {info.frames} frames")

    if settings.mono:
        y = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]
    else:  # left and right; a mono file is two equal channels
        y = np.ascontiguousarray((y[:, :2] if y.shape[1] > 1 else np.repeat(y, 2, axis=1)).T)
    if info.subtype in ("FLOAT", "DOUBLE") and not np.all(np.isfinite(y)):
        raise AudioError("cannot decode: samples are not finite")
    if native != settings.sample_rate:
        from musiclust.dsp import resample

        y = resample(y, native, settings.sample_rate)

    seconds = y.shape[-1] / settings.sample_rate
    if seconds < settings.min_duration:
        raise AudioError(
            f"too short: {seconds:.2f} s analysed, min_duration is {settings.min_duration:g} s"
        )
    flat = y.reshape(-1)
    rms = float(np.sqrt(np.dot(flat, flat) / len(flat)))
    level = 20 * np.log10(rms) if rms > 0 else -np.inf
    if level < settings.silence_db:
        shown = "-inf" if np.isinf(level) else f"{level:.0f}"
        raise AudioError(f"silent: RMS {shown} dBFS, below {settings.silence_db:g} dBFS")
    return np.ascontiguousarray(y, dtype=np.float32)


def declared_frames(path: Path) -> int | None:
    """Frames the file's header declares, where the format states it (WAV, AU); else None.

    libsndfile reports the frames actually present in a truncated WAV, so truncation is only
    visible by reading the header ourselves.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
                return _wav_declared(fh)
            if head[:4] == b".snd":
                return _au_declared(head + fh.read(12))
    except OSError:
        return None
    return None


def _wav_declared(fh: Any) -> int | None:
    block_align = None
    while True:
        header = fh.read(8)
        if len(header) < 8:
            return None
        chunk_id, size = header[:4], struct.unpack("<I", header[4:])[0]
        if chunk_id == b"fmt ":
            fmt = fh.read(size)
            if len(fmt) < 14:
                return None
            block_align = struct.unpack("<H", fmt[12:14])[0]
            if size % 2:
                fh.read(1)
        elif chunk_id == b"data":
            if not block_align or size in (0, 0xFFFFFFFF):
                return None  # streaming writers leave the size open
            return size // block_align
        else:
            fh.seek(size + (size % 2), os.SEEK_CUR)


_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def _au_declared(head: bytes) -> int | None:
    if len(head) < 24:
        return None
    _, _, size, encoding, _, channels = struct.unpack(">6I", head[:24])
    width = _AU_BYTES.get(encoding)
    if size == 0xFFFFFFFF or not width or not channels:
        return None
    return size // (width * channels)


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # libsndfile prefixes "Error opening '<path>': "; the path is already in the skip list.
    if ": " in text and text.startswith("Error opening"):
        text = text.split(": ", 1)[1]
    if "possibly a pipe" in text:  # libsndfile's words for a file it cannot recognise at all
        return "not a recognised audio format (too small, or not audio)"
    return text[:200] or type(exc).__name__
