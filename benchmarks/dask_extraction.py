"""Extraction on Dask against extraction in local processes, cold, on N demo clips.

    python benchmarks/dask_extraction.py [--clips 500] [--features musicnn,audio_stats] [--one]

Writes benchmarks/results/dask.json and dask.md. Each scenario extracts the same clips into
an empty cache with 2 workers:

- processes: `audio.n_jobs=2`, the local default (forked processes);
- dask local: `audio.scheduler=local`, a LocalCluster started (and closed) inside the clock;
- dask address: a LocalCluster of 2 workers started before the clock, reached by its address,
  as a cluster on other machines would be.

Arrays are checked equal across the three. Target (issue 17): Dask at most 1.3x the time of
local processes on 500 clips. `--one` runs 20 clips, for the test suite.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--features", default="musicnn,audio_stats")
    parser.add_argument("--one", action="store_true", help="20 clips, results not written")
    args = parser.parse_args()
    n = 20 if args.one else args.clips

    import numpy as np
    from dask.distributed import LocalCluster

    from toolkit.audio import AudioSettings
    from toolkit.cache import FeatureCache
    from toolkit.extraction import extract
    from toolkit.registry import get_registry

    registry = get_registry()
    demo = registry.get("source", "demo").cls(n_per_style=max(2, n // 5), duration=3.0)
    dataset = demo.load()  # synthesised once, outside the clock
    dataset.clips = dataset.clips[:n]
    names = args.features.split(",")
    features = [registry.get("feature", name).cls() for name in names]
    rows, arrays = [], {}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        scenarios = {
            "processes (audio.n_jobs=2)": {"n_jobs": 2},
            "dask local (cluster started in the clock)": {"scheduler": "local"},
            "dask address (cluster already running)": {"scheduler": cluster.scheduler_address},
        }
        for label, how in scenarios.items():
            with tempfile.TemporaryDirectory() as cache:
                started = time.perf_counter()
                result = extract(
                    dataset, features, AudioSettings(), cache=FeatureCache(Path(cache)), **how
                )
                seconds = time.perf_counter() - started
            arrays[label] = result.blocks
            rows.append({"scenario": label, "clips": n, "seconds": round(seconds, 2)})
            print(f"{label}: {seconds:.1f} s", flush=True)
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
        "cold (an empty cache), 2 workers in every scenario, on 2 cores.",
        "",
        "| scenario | clips | seconds | x processes |",
        "|---|---|---|---|",
        *[f"| {r['scenario']} | {r['clips']} | {r['seconds']} | {r['ratio']} |" for r in rows],
        "",
        f"Arrays equal across the three: {'yes' if equal else 'NO'}.",
        "",
    ]
    (RESULTS / "dask.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
