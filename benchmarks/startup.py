"""Whole-command start-up: what a user waits for before any work, on 2 cores.

    python benchmarks/startup.py [--repeats 7]

Writes benchmarks/results/startup.json and startup.md: the median wall time of each command as
a fresh process (imports included), in an empty folder. Targets (issue 20): `musiclust plugins`
under 0.5 s; `musiclust features` on 100 GTZAN clips, as the command a user types (imports and
start-up included, cache cold), at least 4x faster than the naive per-clip librosa loop run
as a script (its imports included too).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "gtzan-mini" / "genres_original"
#: What the projects musiclust grew from did per clip: three STFTs, from the waveform.
NAIVE = """
import sys
from pathlib import Path
import librosa
for path in sorted(Path(sys.argv[1]).rglob("*.wav")):
    y, sr = librosa.load(path, sr=22050)
    librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    librosa.feature.chroma_stft(y=y, sr=sr)
    librosa.feature.spectral_contrast(y=y, sr=sr)
"""


def features_end_to_end(n: int, folder: Path, repeats: int) -> dict:
    """`musiclust features` (stack39: the same MFCC, chroma and contrast) against the naive
    loop, both as whole processes on the same n clips (gtzan-mini's, repeated under new names
    by hard links beyond its 50), alternating, ``repeats`` times each (medians and ranges)."""
    files = sorted(DATA.rglob("*.wav"))
    songs = folder / "songs"
    for i in range(n):
        source = files[i % len(files)]
        target = songs / source.parent.name / f"copy{i:04d}_{source.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    naive, ours = [], []
    for repeat in range(repeats):
        env = {**os.environ, "MUSICLUST_CACHE_DIR": str(folder / f"cold{repeat}")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", NAIVE, str(songs)], check=True, capture_output=True)
        naive.append(time.perf_counter() - started)
        command = [sys.executable, "-m", "musiclust", "features", "--data", str(songs)]
        command += ["--features", "stack39", "--set", "stack39.fit=resize", "--out", "x"]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=folder, env=env)
        ours.append(time.perf_counter() - started)
    ratios = [a / b for a, b in zip(naive, ours)]
    return {
        "clips": n,
        "repeats": repeats,
        "naive_s": round(statistics.median(naive), 2),
        "musiclust_s": round(statistics.median(ours), 2),
        "ratio": round(statistics.median(ratios), 2),
        "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
    }


COMMANDS = [
    ["--version"],
    ["--help"],
    ["plugins", "--brief"],
    ["plugins"],
    ["run", "--dry-run", "--set", "demo.n_per_style=2 demo.duration=2"],
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clips", type=int, default=100, help="0: skip the features command")
    parser.add_argument("--feature-repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    versus = None
    if args.clips and DATA.is_dir():
        with tempfile.TemporaryDirectory() as folder:
            versus = features_end_to_end(args.clips, Path(folder), args.feature_repeats)
        print(versus, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "MUSICLUST_CACHE_DIR": str(Path(folder) / "cache")}
        for command in COMMANDS:
            full = [sys.executable, "-m", "musiclust", *command]
            subprocess.run(full, capture_output=True, cwd=folder, env=env, check=True)  # warm
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                subprocess.run(full, capture_output=True, cwd=folder, env=env, check=True)
                times.append(time.perf_counter() - started)
            shown = "musiclust " + " ".join(command)
            rows.append({"command": shown, "median_s": round(statistics.median(times), 3)})
            print(f"{rows[-1]['median_s']:.3f} s  {shown}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps({"rows": rows, "features": versus}, indent=1))
    lines = [
        "# Whole-command start-up",
        "",
        f"Written by `python benchmarks/startup.py`: median of {args.repeats} fresh processes "
        "each (after one to warm the disk cache), in an empty folder, 2 cores.",
        "",
        "| command | median s |",
        "|---|---|",
        *[f"| `{r['command']}` | {r['median_s']} |" for r in rows],
        "",
    ]
    if versus:
        low, high = versus["ratio_range"]
        lines += [
            f"`musiclust features --features stack39` on {versus['clips']} gtzan-mini clips as a "
            f"whole command, cache cold: {versus['musiclust_s']} s, against "
            f"{versus['naive_s']} s for the naive per-clip librosa loop as a script (medians of "
            f"{versus['repeats']} alternating runs): **{versus['ratio']:.1f}x** "
            f"(range {low:.1f}-{high:.1f}x; target 4x).",
            "",
        ]
    (RESULTS / "startup.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
