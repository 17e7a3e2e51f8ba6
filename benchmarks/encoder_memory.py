"""Memory of an encoder's whole path on a large 2-D input: fusion, fitting, the latent.

    python benchmarks/encoder_memory.py [--encoder NAME] [ROWS ...]  (default: conv_vae;
                                                                     20000 50000)
    BEFORE=/path/to/old/package python benchmarks/encoder_memory.py ...

Each size runs in a fresh process per mode: generated stack39-shaped rows (39 x 130 float32:
20 kB a row) are standardised by fusion, the encoder trains one epoch (batch 128) and
encodes every row. ``conv_vae`` reads the 2-D block; a vector encoder (``vae``, ``pca``)
reads it flattened, 5,070 values a row. Modes:

- ``mapped``: the default. Past ``musiclust.scale.MEMMAP_BYTES`` the extracted block, its
  fused copy (and its flattened copy) are memory-mapped scratch files, and the encoder takes
  scaled float32 rows from them batch by batch.
- ``memory``: the same code with that limit lifted, so every array is in memory.
- ``before``: the code this replaced (a ``musiclust`` package folder given by ``BEFORE``,
  put first on ``sys.path``); run only when ``BEFORE`` is set.

Two peaks per run: anonymous memory (``RssAnon``, sampled every 10 ms: memory only swap could
free) and resident memory (``VmHWM``, which also counts the mapped files' pages the kernel
holds in its page cache and may drop under pressure). Writes
benchmarks/results/encoder-memory.md and .json; the rows already there that this run does not
redo (other encoders, sizes or modes) are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

ONE = """
import json, sys, threading, time
import numpy as np
import torch  # in the baseline: its ~300 MB are not the input's
from musiclust import scale
from musiclust.fusion import Fusion
from musiclust.registry import get_registry

n, mode, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "memory":
    scale.MEMMAP_BYTES = 2**62

def status():
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out

peak = {"anon": 0.0}
def watch():
    while True:
        peak["anon"] = max(peak["anon"], status()["RssAnon"])
        time.sleep(0.01)
threading.Thread(target=watch, daemon=True).start()

rng = np.random.default_rng(0)
scratch = getattr(scale, "scratch_array", None)  # extraction stacks a block into one of these
raw = scratch((n, 39, 130)) if scratch else np.empty((n, 39, 130), np.float32)
for first in range(0, n, 4096):
    rows = min(4096, n - first)
    raw[first : first + rows] = rng.standard_normal((rows, 39, 130), dtype=np.float32) * 3 + 1
time.sleep(0.05)
base = status()["RssAnon"]
started = time.perf_counter()
X = Fusion().fit_transform({"stack39": raw}, {"stack39": np.ones(n, bool)})
cls = get_registry().get("encoder", name).cls
settings = {"epochs": 1, "batch_size": 128}  # for the trained encoders
encoder = cls(**{k: v for k, v in settings.items() if k in cls.declared_params()})
latent = encoder.fit_transform(X)  # as the pipeline calls it (chain.py)
seconds = time.perf_counter() - started
time.sleep(0.05)
print(json.dumps({"rows": n, "mode": mode, "encoder": name,
                  "input_mb": raw.nbytes / 2**20, "base_mb": base,
                  "peak_anon_mb": peak["anon"], "peak_rss_mb": status()["VmHWM"],
                  "seconds": seconds, "latent_sum": float(np.abs(latent).sum())}))
"""


def one(n: int, mode: str, encoder: str) -> dict:
    env = dict(os.environ)
    if mode == "before":
        env["PYTHONPATH"] = os.pathsep.join([os.environ["BEFORE"], env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", ONE, str(n), mode, encoder],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["anon_above_input"] = (row["peak_anon_mb"] - row["base_mb"]) / row["input_mb"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[20000, 50000])
    parser.add_argument("--encoder", default="conv_vae")
    args = parser.parse_args()
    modes = ["before"] * bool(os.environ.get("BEFORE")) + ["memory", "mapped"]
    saved = RESULTS / "encoder-memory.json"
    kept = json.loads(saved.read_text())["rows"] if saved.exists() else []
    for row in kept:
        row.setdefault("encoder", "conv_vae")
    rerun = {(args.encoder, n, mode) for n in args.rows for mode in modes}
    rows = [r for r in kept if (r["encoder"], r["rows"], r["mode"]) not in rerun]
    for n in args.rows:
        for mode in modes:
            rows.append(one(n, mode, args.encoder))
            print(rows[-1], flush=True)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    order = ["before", "memory", "mapped"]
    rows.sort(key=lambda r: (encoders.index(r["encoder"]), r["rows"], order.index(r["mode"])))
    meta = {"cpus": os.cpu_count(), "machine": platform.platform()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encoder-memory.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Memory of an encoder on a large 2-D input",
        "",
        "Written by `python benchmarks/encoder_memory.py` "
        f"({meta['cpus']} CPUs): generated 39 x 130 rows, fusion, one epoch of the encoder "
        "(batch 128; vae and pca read the rows flattened, pca has no epochs), the latent of "
        "every row. "
        "`mapped` is the default; `memory` the same code with "
        "every array in memory; `before` the code it replaced. Anonymous peak: memory only "
        "swap could free, sampled every 10 ms; above the baseline, in units of the input's "
        "size (the baseline holds torch, and the generated input where it is in memory). "
        "Resident peak: also the page cache the mapped files hold, which the kernel may drop "
        "under pressure. Seconds are not comparable: the runs shared 2 CPUs with other work.",
        "",
        "| encoder | rows | input MB | mode | anonymous peak MB | above the baseline "
        "| resident peak MB | seconds |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
        *[
            f"| {r['encoder']} | {r['rows']:,} | {r['input_mb']:.0f} | {r['mode']} "
            f"| {r['peak_anon_mb']:.0f} "
            f"| {r['anon_above_input']:.2f}x | {r['peak_rss_mb']:.0f} | {r['seconds']:.0f} |"
            for r in rows
        ],
        "",
    ]
    (RESULTS / "encoder-memory.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
