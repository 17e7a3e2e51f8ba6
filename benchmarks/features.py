"""Feature extraction speed and memory: a naive per-clip loop against the toolkit, cold and warm.

    python benchmarks/features.py [--data ../shared/data/gtzan-mini] [--sizes 50,500]

Writes benchmarks/results/features.json and features.md. Each scenario runs in a fresh process
(imports and JIT warm-up happen before the clock starts, equally for every scenario); the parent
samples the resident memory of that process and all its children every 20 ms.

- naive: what the published projects did per clip: librosa.load, then mfcc, chroma_stft and
  spectral_contrast, each from the waveform (three STFTs, tuning estimated by chroma_stft).
- cold: the toolkit computing the same three (stack39 over the whole clip: 20 MFCC + 12 chroma
  + 7 contrast rows) with an empty cache and 2 worker processes.
- warm: the same with the cache filled by the cold run (best of three: it takes milliseconds).

Sizes above the number of clips repeat the clips under new names (hard links), as new files.
Targets: cold at least 5x the naive loop, warm at least 50x faster than cold, peak memory flat
in the number of clips.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FEATURE = {"name": "stack39", "params": {"fit": "resize"}}


# -- the scenarios, each run in its own process ---------------------------------------------
def run_scenario(scenario: str, clips: list[str], cache: str, jobs: int) -> dict:
    os.environ["MUSICLUST_CACHE_DIR"] = cache
    import librosa
    import numpy as np

    from musiclust.audio import AudioSettings
    from musiclust.cache import FeatureCache
    from musiclust.data import Clip, Dataset
    from musiclust.extraction import extract
    from musiclust.registry import get_registry

    # warm-up outside the clock (numba JIT, filterbanks), on a signal that is not a clip
    y = np.random.default_rng(0).normal(0, 0.1, 22050 * 3).astype(np.float32)
    librosa.feature.mfcc(y=y, sr=22050)
    librosa.feature.chroma_stft(y=y, sr=22050)
    librosa.feature.spectral_contrast(y=y, sr=22050)
    feature = get_registry().get("feature", FEATURE["name"]).cls(**FEATURE["params"])
    from musiclust.analysis import AudioAnalysis

    feature.extract(AudioAnalysis(y, 22050))

    started = time.perf_counter()
    if scenario == "naive":
        for path in clips:
            y, sr = librosa.load(path, sr=22050)
            librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
            librosa.feature.chroma_stft(y=y, sr=sr)
            librosa.feature.spectral_contrast(y=y, sr=sr)
        extra = {}
    else:
        dataset = Dataset(
            "bench", [Clip(Path(p).stem + str(i), audio=Path(p)) for i, p in enumerate(clips)]
        )
        times = []  # warm runs last milliseconds: the best of three, as timeit does
        for _ in range(1 if scenario == "cold" else 3):
            started = time.perf_counter()
            cache_obj = FeatureCache()
            result = extract(
                dataset, [feature], AudioSettings(), cache=cache_obj, n_jobs=jobs, progress=False
            )
            times.append(time.perf_counter() - started)
        extra = {
            "cache_hits": cache_obj.hits,
            "cache_misses": cache_obj.misses,
            "clips_kept": len(result.dataset.clips),
            "repeats": [round(t, 4) for t in times],
        }
        return {"seconds": min(times), "clips_per_second": len(clips) / min(times), **extra}
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "clips_per_second": len(clips) / seconds, **extra}


def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def measure(scenario: str, clips: list[str], cache: str, jobs: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(clips, fh)
        listing = fh.name
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        scenario,
        "--clips",
        listing,
        "--cache",
        cache,
        "--jobs",
        str(jobs),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    out = proc.stdout.read() if proc.stdout else ""
    os.unlink(listing)
    if proc.returncode != 0:
        raise SystemExit(f"scenario {scenario} failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 2**20
    return result


def clip_set(source: Path, n: int, workdir: Path) -> list[str]:
    files = sorted(source.rglob("*.wav"))
    if n <= len(files):
        return [str(f) for f in files[:n]]
    folder = workdir / f"clips{n}"
    folder.mkdir(exist_ok=True)
    out = []
    for i in range(n):
        target = folder / f"copy{i:05d}_{files[i % len(files)].name}"
        if not target.exists():
            os.link(files[i % len(files)], target)
        out.append(str(target))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "gtzan-mini"))
    parser.add_argument("--sizes", default="50,500")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--worker")
    parser.add_argument("--clips")
    parser.add_argument("--cache")
    args = parser.parse_args()
    if args.worker:
        with open(args.clips) as fh:
            clips = json.load(fh)
        print(json.dumps(run_scenario(args.worker, clips, args.cache, args.jobs)))
        return

    data = Path(args.data)
    if not data.is_dir():
        raise SystemExit(f"no data at {data} (the benchmark needs ../shared/data/gtzan-mini)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            clips = clip_set(data, n, Path(tmp))
            cache = str(Path(tmp) / f"cache{n}")
            for scenario in ("naive", "cold", "warm"):
                jobs = 1 if scenario == "naive" else args.jobs
                result = measure(scenario, clips, cache, jobs)
                rows.append({"scenario": scenario, "clips": n, "jobs": jobs, **result})
                print(
                    f"{scenario:6} n={n:4d}  {result['seconds']:7.2f} s  "
                    f"{result['clips_per_second']:8.1f} clips/s  "
                    f"peak {result['peak_rss_mb']:6.0f} MB",
                    flush=True,
                )
    report(rows)


def report(rows: list[dict]) -> None:
    by = {(r["scenario"], r["clips"]): r for r in rows}
    sizes = sorted({r["clips"] for r in rows})
    checks = []
    for n in sizes:
        speedup = by[("naive", n)]["seconds"] / by[("cold", n)]["seconds"]
        warm = by[("cold", n)]["seconds"] / by[("warm", n)]["seconds"]
        checks.append(
            {
                "clips": n,
                "cold_vs_naive": speedup,
                "warm_vs_cold": warm,
                "cold_target_5x": speedup >= 5,
                "warm_target_50x": warm >= 50,
            }
        )
    small, large = sizes[0], sizes[-1]
    memory = by[("cold", large)]["peak_rss_mb"] / by[("cold", small)]["peak_rss_mb"]
    summary = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
        "feature": FEATURE,
        "rows": rows,
        "checks": checks,
        "cold_peak_rss_ratio": {
            "clips": [small, large],
            "ratio": memory,
            "flat_target_1.25x": memory <= 1.25,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "features.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# Feature extraction benchmark",
        "",
        f"`python benchmarks/features.py` on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; clips from gtzan-mini (about 15-20 s each), repeated "
        "under new names beyond 50. Feature: stack39 over whole clips (the naive loop's MFCC, "
        "chroma and contrast).",
        "",
        "| scenario | clips | processes | seconds | clips/s | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {r['scenario']} | {r['clips']} | {r['jobs']} | {r['seconds']:.2f} | "
            f"{r['clips_per_second']:.1f} | {r['peak_rss_mb']:.0f} |"
            for r in rows
        ],
        "",
        "| clips | cold vs naive | warm vs cold |",
        "|---:|---:|---:|",
        *[
            f"| {c['clips']} | {c['cold_vs_naive']:.1f}x (target 5x) | "
            f"{c['warm_vs_cold']:.0f}x (target 50x) |"
            for c in checks
        ],
        "",
        f"Peak memory of the cold run, {large} vs {small} clips: {memory:.2f}x "
        "(target: flat, at most 1.25x).",
        "",
    ]
    (RESULTS / "features.md").write_text("\n".join(lines))
    print("\n".join(lines[-(len(checks) + 5) :]))


if __name__ == "__main__":
    main()
