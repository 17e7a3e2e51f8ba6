"""Extraction on Dask against extraction in local processes, cold, on N demo clips.

    python benchmarks/dask_extraction.py [--clips 500] [--features musicnn,audio_stats] [--one]

Writes benchmarks/results/dask.json and dask.md. Each scenario extracts the same clips into
an empty cache with 2 workers:

- processes: `audio.n_jobs=2`, the local default (forked processes);
- dask local: `audio.scheduler=local`, a LocalCluster started (and closed) inside the clock;
- dask address: `dask scheduler` and `dask worker --nworkers 2 --nthreads 1` (the profiler off,
  as docs/search.md advises), started as their own processes before the clock and reached by
  the scheduler's address, as a cluster on other machines would be.

Arrays are checked equal across the three. Target (issue 17): Dask at most 1.3x the time of
local processes on 500 clips. `--one` runs 20 clips, for the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """A scheduler and two single-threaded workers, each its own process: the address."""
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "scheduler.json"
        quiet = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}  # as docs/search.md
        common = {
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "env": {**os.environ, **quiet},
        }
        scheduler = subprocess.Popen(
            ["dask", "scheduler", "--port", "0", "--scheduler-file", str(file)], **common
        )
        worker = subprocess.Popen(
            ["dask", "worker", "--scheduler-file", str(file), "--nworkers", "2", "--nthreads", "1"],
            **common,
        )
        try:
            from dask.distributed import Client

            while not file.exists():
                time.sleep(0.2)
            address = json.loads(file.read_text())["address"]
            with Client(address) as client:
                client.wait_for_workers(2, timeout=120)
            yield address
        finally:
            for process in (worker, scheduler):
                process.terminate()
                process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--features", default="musicnn,audio_stats")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; the median is kept")
    parser.add_argument("--one", action="store_true", help="20 clips, results not written")
    args = parser.parse_args()
    n = 20 if args.one else args.clips
    args.repeats = 1 if args.one else args.repeats

    import numpy as np

    from musiclust.audio import AudioSettings
    from musiclust.cache import FeatureCache
    from musiclust.extraction import extract
    from musiclust.registry import get_registry

    registry = get_registry()
    demo = registry.get("source", "demo").cls(n_per_style=max(2, n // 5), duration=3.0)
    dataset = demo.load()  # synthesised once, outside the clock
    dataset.clips = dataset.clips[:n]
    names = args.features.split(",")
    features = [registry.get("feature", name).cls() for name in names]
    times: dict[str, list[float]] = {}
    arrays = {}
    with cluster() as address:
        scenarios = {
            "processes (audio.n_jobs=2)": {"n_jobs": 2},
            "dask local (cluster started in the clock)": {"scheduler": "local"},
            "dask address (cluster already running)": {"scheduler": address},
        }
        for _ in range(args.repeats):  # interleaved: this shared machine's speed drifts
            for label, how in scenarios.items():
                with tempfile.TemporaryDirectory() as cache:
                    started = time.perf_counter()
                    result = extract(
                        dataset, features, AudioSettings(), cache=FeatureCache(Path(cache)), **how
                    )
                    seconds = time.perf_counter() - started
                arrays[label] = result.blocks
                times.setdefault(label, []).append(round(seconds, 1))
                print(f"{label}: {seconds:.1f} s", flush=True)
    rows = [
        {"scenario": label, "clips": n, "seconds": float(np.median(t)), "each": t}
        for label, t in times.items()
    ]
    first = next(iter(arrays.values()))
    equal = all(
        np.array_equal(blocks[name].values, first[name].values)
        for blocks in arrays.values()
        for name in first
    )
    base = rows[0]["seconds"]
    for row in rows:
        row["ratio"] = round(row["seconds"] / base, 2)
    print(f"arrays equal across scenarios: {equal}")
    if args.one:
        assert equal
        return
    RESULTS.mkdir(exist_ok=True)
    meta = {"features": names, "clips": n, "machine": platform.processor() or platform.machine()}
    (RESULTS / "dask.json").write_text(json.dumps({"meta": meta, "rows": rows, "equal": equal}))
    lines = [
        "# Extraction on Dask against local processes",
        "",
        "Written by `python benchmarks/dask_extraction.py "
        f"--clips {n} --features {args.features}`: {n} synthesised demo clips of 3 s, "
        "cold (an empty cache), 2 workers in every scenario, on 2 cores; the scenarios "
        "take turns in each round.",
        "",
        f"| scenario | clips | median s of {args.repeats} | each | x processes |",
        "|---|---|---|---|---|",
        *[
            f"| {r['scenario']} | {r['clips']} | {r['seconds']} | "
            f"{', '.join(map(str, r['each']))} | {r['ratio']} |"
            for r in rows
        ],
        "",
        f"Arrays equal across the three: {'yes' if equal else 'NO'}.",
        "",
    ]
    (RESULTS / "dask.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
