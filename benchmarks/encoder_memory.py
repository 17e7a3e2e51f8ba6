"""Peak memory of training a trained encoder, against the size of its input.

    python benchmarks/encoder_memory.py [ROWS ...]        (default: 5000 20000)

Each size trains ``conv_vae`` for one epoch on generated stack39-shaped rows (39 x 130,
float32: 20 kB a row) in a fresh process, and reports that process's peak resident memory
above what it held once the input existed, in units of the input's own size. The training
loop gathers each batch from the input by index; it used to copy the training rows into a
second full-size tensor first. Writes benchmarks/results/encoder-memory.md and .json.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

ONE = """
import json, resource, sys, time
import numpy as np
from musiclust import EncoderInput
from musiclust.registry import get_registry

n = int(sys.argv[1])
rng = np.random.default_rng(0)
block = rng.standard_normal((n, 39, 130), dtype=np.float32)
X = EncoderInput(None, {"stack39": block})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
encoder = get_registry().get("encoder", "conv_vae").cls(epochs=1, batch_size=128)
encoder.random_state = 0
started = time.perf_counter()
encoder.fit(X)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": n, "input_mb": block.nbytes / 2**20, "base_mb": base / 1024,
                  "peak_mb": peak / 1024, "seconds": seconds}))
"""


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [5000, 20000]
    rows = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, "-c", ONE, str(n)], capture_output=True, text=True, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["above_input"] = (row["peak_mb"] - row["base_mb"]) / row["input_mb"]
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "encoder-memory.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Training memory of a trained encoder",
        "",
        "Written by `python benchmarks/encoder_memory.py`: conv_vae, one epoch, batch 128, "
        "generated 39 x 130 rows, 2 CPUs. Peak above the input: the process's peak resident "
        "memory minus what it held once the input existed, in units of the input's size.",
        "",
        "| rows | input MB | peak above the input | seconds |",
        "|---:|---:|---:|---:|",
        *[
            f"| {r['rows']} | {r['input_mb']:.0f} | {r['above_input']:.2f}x | {r['seconds']:.1f} |"
            for r in rows
        ],
        "",
    ]
    (RESULTS / "encoder-memory.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
