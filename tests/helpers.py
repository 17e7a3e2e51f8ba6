"""Generated audio for tests: real files written with soundfile, never stored in the repo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tone(
    path: Path,
    seconds: float = 2.0,
    sr: int = 22050,
    freq: float = 440.0,
    amp: float = 0.3,
    seed: int = 0,
    channels: int = 1,
    fmt: str | None = None,
) -> Path:
    """A harmonic tone with a little noise (decodes, not silent)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(amp / k * np.sin(2 * np.pi * k * freq * t) for k in range(1, 5))
    y = y + 0.01 * rng.normal(size=len(t))
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), sr, format=fmt, subtype="PCM_16")
    return path


def write_styled_folder(
    root: Path, n_per_style: int = 3, seconds: float = 2.0, styles: int = 3
) -> Path:
    """A GTZAN-style folder (root/<style>/<style>.0000N.wav) of synthesised songs."""
    from musiclust.plugins.sources import synth

    for s, style in enumerate(synth.STYLES[:styles]):
        for i in range(n_per_style):
            rng = np.random.default_rng([7, s, i])
            path = root / style.name / f"{style.name}.{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, synth.synthesize(style, rng, 22050, seconds), 22050, subtype="PCM_16")
    return root
