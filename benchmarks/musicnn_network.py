"""The musicnn network's own cost per 30 s clip, on the CPU threads and on CUDA where there is
one: the part of extraction a GPU takes over (the mel spectrogram before it stays on the CPU).

    python benchmarks/musicnn_network.py [--weights FOLDER] [--clips 100] [--results DIR]

Needs torch, numpy and the plugins only (no librosa, no data), so it runs as is on a GPU
machine (``benchmarks/device_check.sh``). The input is the recorded log-mel patch of a real
clip (``tests/data/musicnn_reference.npz``) repeated with a little noise: ten patches a clip,
as a 30 s clip gives at the default hop. As extraction runs it, each clip's patches go
through the network as one batch, every layer comes back to the CPU; the median of three
timed passes over all clips, after a warm-up. The
weights come from ``--weights``, ``MUSICNN_WEIGHTS`` or the installed musicnn package.
Writes musicnn-network.md and .json to ``--results`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PATCHES_PER_CLIP = 10  # 30 s at 16 kHz, hop 256: 1,875 frames, ten patches of 187


def weights_folder(given: str | None) -> str:
    """The folder the musicnn feature would read (a clear error where there is none)."""
    from musiclust.errors import SpecError
    from musiclust.plugins.features.musicnn import weights_folder as located

    try:
        return str(located(given or os.environ.get("MUSICNN_WEIGHTS", ""), "MSD_musicnn"))
    except SpecError as exc:
        raise SystemExit(str(exc)) from None


def timed(net, clips: list[np.ndarray], device: str) -> float:
    from musiclust.plugins.features.nets import musicnn as nets

    nets.embed(net, clips[0], device)  # warm-up: kernels chosen, memory allocated
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        for patches in clips:  # every layer back on the CPU as numpy: synchronised
            nets.embed(net, patches, device)
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


def main() -> None:
    import torch

    from musiclust.plugins.features.nets import musicnn as nets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="a folder holding MSD_musicnn/ and the others")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    folder = weights_folder(args.weights)
    patch = np.load(ROOT / "tests" / "data" / "musicnn_reference.npz")["blues.00000/patch0"]
    rng = np.random.default_rng(0)
    size = (PATCHES_PER_CLIP, *patch.shape)
    clips = [
        (patch + rng.normal(scale=0.01, size=size)).astype(np.float32) for _ in range(args.clips)
    ]
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    rows = []
    for model in nets.MODELS:
        for device in devices:
            seconds = timed(nets.load(model, folder, device), clips, device)
            rows.append(
                {
                    "model": model,
                    "device": device,
                    "clips": args.clips,
                    "ms_per_clip": 1000 * seconds / args.clips,
                    "clips_per_second": args.clips / seconds,
                }
            )
            print(f"{model:12s} {device:5s} {rows[-1]['ms_per_clip']:8.2f} ms per clip", flush=True)
    meta = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.platform(),
    }
    out = Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "musicnn-network.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# The musicnn network per 30 s clip (torch {meta['torch']}, {meta['threads']} CPU "
        f"threads, GPU: {meta['gpu'] or 'none on this machine'})",
        "",
        "Written by `python benchmarks/musicnn_network.py`: ten patches of 187 x 96 a clip, "
        f"{args.clips} clips, each clip's patches one batch, every layer, the median of three "
        "passes. "
        "The mel spectrogram, computed on the CPU before the network, is not counted.",
        "",
        "| model | device | ms per clip | clips per second |",
        "|---|---|---:|---:|",
        *[
            f"| {r['model']} | {r['device']} | {r['ms_per_clip']:.2f} "
            f"| {r['clips_per_second']:.1f} |"
            for r in rows
        ],
        "",
    ]
    (out / "musicnn-network.md").write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
