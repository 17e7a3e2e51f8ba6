"""``demo``: a small labelled audio+lyrics set, synthesised from a seed in seconds.

Five styles (ballad, rock, electronic, folk, hiphop) that differ in tempo, timbre, harmony,
rhythm and lyric vocabulary; some songs are instrumentals without lyrics. The wav files are
written once under the cache directory and reused, so the demo behaves like a real folder
(and the logged model can be tried on them).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from musiclust import Clip, Dataset, Float, Int, Source, hookimpl
from musiclust.cache import cache_root, digest
from musiclust.plugins.sources import synth

SAMPLE_RATE = 22050


class DemoSource(Source):
    """Synthetic songs in five styles, with lyrics for most: the default data, no download."""

    name = "demo"
    params = (
        Int("n_per_style", 12, low=2, high=2000, help="songs per style"),
        Int("styles", 5, low=1, high=len(synth.STYLES), help="how many of the five styles"),
        Float("duration", 6.0, low=1.0, high=120.0, help="seconds per song"),
        Int(
            "data_seed",
            0,
            low=0,
            help="seed of the synthesis (the run's --seed does not change the data)",
        ),
        Int(
            "languages",
            0,
            low=0,
            high=len(synth.LANGUAGES),
            help="0: lyrics follow the style; N: every song sings in one of N languages drawn "
            "independently of its style (a 'language' label only the lyrics carry)",
        ),
    )

    def folder(self) -> Path:
        key = digest({"params": self.get_params(), "synth": synth.SYNTH_VERSION})[:16]
        return cache_root() / "demo" / key

    def load(self) -> Dataset:
        folder = self.folder()
        if not (folder / "manifest.json").is_file():
            self._write(folder)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        columns = ("genre", "language") if self.languages else ("genre",)
        clips = [
            Clip(
                row["id"],
                audio=folder / row["audio"],
                lyrics=row["lyrics"],
                labels={c: row[c] for c in columns},
            )
            for row in manifest
        ]
        return Dataset("demo", clips, columns, folder)

    def _write(self, folder: Path) -> None:
        """Synthesise into a temporary folder, then rename: concurrent runs never see half."""
        import soundfile as sf

        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        try:
            rows = []
            for s, style in enumerate(synth.STYLES[: self.styles]):
                (tmp / style.name).mkdir()
                for i in range(self.n_per_style):
                    rng = np.random.default_rng([self.data_seed, s, i])
                    clip_id = f"{style.name}.{i:05d}"
                    audio = synth.synthesize(style, rng, SAMPLE_RATE, self.duration)
                    sf.write(
                        tmp / style.name / f"{clip_id}.wav", audio, SAMPLE_RATE, subtype="PCM_16"
                    )
                    row = {
                        "id": clip_id,
                        "audio": f"{style.name}/{clip_id}.wav",
                        "genre": style.name,
                        "lyrics": synth.lyrics(style, rng),
                    }
                    if self.languages:  # a stream of its own: the audio stays the same
                        words = np.random.default_rng([self.data_seed, s, i, 1])
                        row["language"], row["lyrics"] = synth.language_lyrics(
                            words, self.languages
                        )
                    rows.append(row)
            (tmp / "manifest.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
            try:
                os.rename(tmp, folder)
            except OSError:  # another process finished first: use its copy
                if not (folder / "manifest.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@hookimpl
def register_sources(register):
    register(DemoSource)
