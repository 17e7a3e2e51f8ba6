"""SIGTERM at random moments of a search: how often a run is left RUNNING.

    python benchmarks/sigterm.py [N]

Starts N small searches (PCA, k-means or agglomerative, 16 short demo clips), each in its own
store, sends each SIGTERM after a random delay (0.5-12 s: during start-up, during a trial, or
between trials), then counts runs still RUNNING and the exit codes. Writes
benchmarks/results/sigterm.md and sigterm.json.
"""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SEARCH = [sys.executable, "-m", "musiclust", "search", "--encoders", "pca", "--trials", "200"]
SEARCH += ["--clusterers", "kmeans,agglomerative", "--set", "demo.n_per_style=4 demo.duration=2"]
SEARCH += ["--confirm", "0"]


def one(delay: float) -> dict:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        storage = f"sqlite:///{tmp}/optuna.db"
        with open(Path(tmp) / "log", "w") as out:
            process = subprocess.Popen(
                [*SEARCH, "--storage", storage], cwd=tmp, env=env, stdout=out, stderr=out
            )
            time.sleep(delay)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            finally:
                process.kill()
        left: list[str] = []
        broken = ""
        if Path(f"{tmp}/mlflow.db").exists():
            try:
                client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
                ids = [e.experiment_id for e in client.search_experiments()]
                if ids:
                    running = client.search_runs(ids, "attributes.status = 'RUNNING'")
                    left = [
                        f"{r.info.run_name or r.info.run_id} "
                        f"(kind {r.data.tags.get('musiclust.kind')}, "
                        f"trial.state {r.data.tags.get('trial.state')})"
                        for r in running
                    ]
            except Exception as exc:  # a store whose creation was cut half-way
                broken = " ".join(str(exc).split())[:200]
        tail = (Path(tmp) / "log").read_text().strip().splitlines()[-4 if left else -1 :]
    return {
        "delay": round(delay, 2),
        "exit": process.returncode,
        "running": left,
        "broken_store": broken,
        "last": tail,
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    rng = random.Random(0)
    rows = []
    for i in range(n):
        row = one(rng.uniform(0.5, 12.0))
        rows.append(row)
        print(i, row, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"cpus": os.cpu_count(), "machine": platform.platform(), "searches": n}
    (RESULTS / "sigterm.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    left = sum(bool(r["running"]) for r in rows)
    broken = sum(bool(r["broken_store"]) for r in rows)
    exits = sorted({r["exit"] for r in rows})
    lines = [
        "# SIGTERM at random moments of a search",
        "",
        "Written by `python benchmarks/sigterm.py`.",
        "",
        f"- searches stopped: {n} (delays 0.5-12 s, seed 0)",
        f"- exit codes seen: {exits}",
        f"- searches that left a run RUNNING: {left} of {n}",
        f"- searches that left the tracking store unreadable: {broken} of {n}",
    ]
    (RESULTS / "sigterm.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
