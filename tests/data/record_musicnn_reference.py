"""Record the reference musicnn outputs that tests/test_musicnn.py compares the port with.

Runs the published implementation (the PyPI package ``musicnn`` 0.1.0 and its TensorFlow
graph) in a throw-away environment, never in musiclust's own::

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" "librosa==0.10.2.post1"
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    python tests/data/record_musicnn_reference.py --write-synth /tmp/synth.wav   # musiclust env
    /tmp/tfenv/bin/python tests/data/record_musicnn_reference.py /tmp/synth.wav \\
        ../shared/data/gtzan-mini/genres_original/blues/blues.00000.wav

TensorFlow 2.15 is the newest release whose Keras 2 runs the models' TF1-style layers; under
2.21 with tf-keras they run but give nearly the same taggram for every clip, so that setup
must not be used. The output, ``musicnn_reference.npz``, holds for each clip (by file stem)
and model the per-patch taggram and, for the musicnn models, ``mean_pool``/``max_pool``/
``penultimate`` (for the vgg models, ``pool5``), plus the first input patch the reference built
from the audio, so a test can check the network and the preprocessing separately. With
``--all-layers FILE`` it records every layer of every clip given (for
``benchmarks/embeddings.py --reference FILE``: the reference's own clustering quality)::

    /tmp/tfenv/bin/python tests/data/record_musicnn_reference.py --all-layers /tmp/ref.npz \
        ../shared/data/gtzan-mini/genres_original/*/*.wav

Only the first patch's ``penultimate`` is kept: the reference's extractor returns that patch's
values for every later patch too (its batching loop never rebinds the variable; the same holds
for ``cnn1``-``cnn3``), so a clip-level ``penultimate`` taken from the reference describes its
first 3 s alone.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
OUT = Path(__file__).with_name("musicnn_reference.npz")
SYNTH = {"style": 1, "seed": [7, 1, 0], "seconds": 10.0, "sr": 22050}


def synth_clip() -> tuple[np.ndarray, int]:
    """The synthesised clip of the fixture (made by musiclust's demo synthesiser)."""
    from musiclust.plugins.sources import synth

    rng = np.random.default_rng(SYNTH["seed"])
    y = synth.synthesize(synth.STYLES[SYNTH["style"]], rng, SYNTH["sr"], SYNTH["seconds"])
    return y, SYNTH["sr"]


def pcm_digest(path: Path) -> str:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="int16")
    return hashlib.sha256(data.tobytes()).hexdigest()


def record(paths: list[Path]) -> None:
    from musicnn.extractor import batch_data, extractor  # the reference, in its own env

    arrays: dict[str, np.ndarray] = {}
    for path in paths:
        stem = path.stem
        arrays[f"{stem}/pcm_sha256"] = np.array(pcm_digest(path))
        batch, _ = batch_data(str(path), 187, 187)
        arrays[f"{stem}/patch0"] = batch[0].astype(np.float32)
        for model in MODELS:
            taggram, _, features = extractor(str(path), model=model, extract_features=True)
            arrays[f"{stem}/{model}/taggram"] = np.asarray(taggram, np.float32)
            keys = ("pool5",) if "vgg" in model else ("mean_pool", "max_pool", "penultimate")
            for key in keys:
                value = np.asarray(features[key], np.float32).reshape(len(taggram), -1)
                if key == "penultimate":  # the reference repeats patch 0's for every patch
                    value = value[:1]
                arrays[f"{stem}/{model}/{key}"] = value
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


def record_all_layers(paths: list[Path], out: Path) -> None:
    """Every model's per-patch layers for many clips, for benchmarks/embeddings.py --reference
    (a bigger file, kept out of the repository)."""
    from musicnn.extractor import extractor

    arrays: dict[str, list[np.ndarray]] = {}
    for model in MODELS:
        keys = ("pool5",) if "vgg" in model else ("mean_pool", "max_pool", "penultimate")
        for path in paths:
            taggram, _, features = extractor(str(path), model=model, extract_features=True)
            arrays.setdefault(f"{model}/taggram", []).append(np.asarray(taggram, np.float32))
            for key in keys:
                value = np.asarray(features[key], np.float32).reshape(len(taggram), -1)
                arrays.setdefault(f"{model}/{key}", []).append(value)
    packed = {k: np.array(v, dtype=object) for k, v in arrays.items()}
    np.savez(out, stems=np.array([p.stem for p in paths]), **packed)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--write-synth", type=Path, help="write the synthesised clip here")
    parser.add_argument("--all-layers", type=Path, help="record every layer of every clip here")
    args = parser.parse_args()
    if args.write_synth:
        import soundfile as sf

        y, sr = synth_clip()
        sf.write(args.write_synth, y, sr, subtype="PCM_16")
        print(f"wrote {args.write_synth}")
    if args.paths and args.all_layers:
        record_all_layers(args.paths, args.all_layers)
    elif args.paths:
        record(args.paths)
    elif not args.write_synth:
        sys.exit("give audio files to record, or --write-synth PATH")


if __name__ == "__main__":
    main()
