"""`musiclust describe` on a 1,000-clip folder: seconds per phase.

    python benchmarks/describe.py [--clips 1000] [--seconds 30]

Results go to benchmarks/results/describe.md (and .json) at the default size, and to
describe-<clips>.md at any other (``--clips 10000 --seconds 3``: the scale benchmark's size).

Generates a GTZAN-style folder (10 labels, synthesised songs of --seconds each, WAV 22050 Hz
mono, lyrics for every other clip) in a temporary folder, then times each phase of the overview:
listing and headers (metadata only, no decoding), hashing and decoding (proportional to the
audio), lyrics. Writes benchmarks/results/describe.json and describe.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"


def make_folder(root: Path, clips: int, seconds: float) -> Path:
    import soundfile as sf

    from musiclust.plugins.sources import synth

    folder = root / "collection" / "genres_original"
    lyrics = root / "collection" / "lyrics"
    lyrics.mkdir(parents=True)
    styles = synth.STYLES
    for i in range(clips):
        style = styles[i % len(styles)]
        label = f"{style.name}{i % 10 // len(styles)}" if len(styles) < 10 else style.name
        path = folder / label / f"{label}.{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        y = synth.synthesize(style, np.random.default_rng(i), 22050, seconds)
        sf.write(path, y, 22050, subtype="PCM_16")
        if i % 2 == 0:
            (lyrics / f"{path.stem}.txt").write_text(f"song {i} about the {label} night " * 20)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import mlflow

    from musiclust.describe import describe
    from musiclust.registry import get_registry

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        started = time.perf_counter()
        folder = make_folder(Path(tmp), args.clips, args.seconds)
        print(f"generated {args.clips} clips in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        overview = describe(get_registry(), data=str(folder), source=None, sets=[], progress=False)
        total = time.perf_counter() - started
    phases = {k: round(v, 2) for k, v in overview.seconds.items()}
    hours = args.clips * args.seconds / 3600
    print(f"{args.clips} clips ({hours:.1f} h of audio): {phases}, total {total:.1f} s")
    if args.no_write:
        return
    out = {
        "clips": args.clips,
        "seconds_per_clip": args.seconds,
        "phases": phases,
        "total": total,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "describe" if args.clips == 1000 else f"describe-{args.clips}"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=1))
    metadata = phases.get("listing", 0) + phases.get("headers", 0)
    lines = [
        f"# `musiclust describe` on {args.clips} clips of {args.seconds:g} s "
        f"({hours:.1f} h of audio, {out['cpus']} CPUs)",
        "",
        f"Written by `python benchmarks/describe.py --clips {args.clips} --seconds "
        f"{args.seconds:g}`: a generated GTZAN-style folder (WAV, "
        "22050 Hz mono, lyrics for every other clip), just written, so its files are in the "
        "OS cache. Seconds per phase:",
        "",
        "| phase | seconds | what it reads |",
        "|---|---|---|",
        f"| listing | {phases.get('listing', 0):.2f} | file names, lyrics files |",
        f"| headers | {phases.get('headers', 0):.2f} | file headers only (no decoding) |",
        f"| hashing | {phases.get('hashing', 0):.2f} | every byte (exact duplicates) |",
        f"| decoding | {phases.get('decoding', 0):.2f} | every sample (unreadable, silent) |",
        f"| lyrics | {phases.get('lyrics', 0):.2f} | the lyrics texts |",
        f"| whole command (incl. plots, MLflow) | {total:.2f} | |",
        "",
        f"Metadata (listing + headers): {metadata:.2f} s.",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
