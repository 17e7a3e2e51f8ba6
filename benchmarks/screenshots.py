"""The screenshots in docs/images, taken in a real headless browser (Debian's `chromium`).

    python benchmarks/screenshots.py

Starts an `mlflow server` on loopback, logs one demo run to it, and writes
- docs/images/report-in-mlflow-ui.png: the run's report.html in the MLflow UI's artifact view;
- docs/images/cluster-map.png: the report's interactive cluster map (hovering a point in a
  browser names the song; a screenshot cannot show the tooltip itself).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"


def shoot(url: str, out: Path, size: str, work: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium: apt-get install chromium")
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += [f"--user-data-dir={work / 'profile'}", f"--window-size={size}"]
    command += ["--virtual-time-budget=30000", f"--screenshot={out}", url]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    print(f"written: {out.relative_to(ROOT)}")


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        uri = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--workers", "1"]
        command += ["--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}"]
        command += ["--artifacts-destination", str(work / "artifacts")]
        server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            for _ in range(240):
                try:
                    if requests.get(f"{uri}/health", timeout=2).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.5)
            env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "musiclust",
                    "run",
                    "--set",
                    "demo.n_per_style=8 demo.duration=3",
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=work,
            )
            run_id = re.search(r"^run (\w+)", done.stdout, re.M).group(1)
            experiment = re.search(r"experiment '([^']+)'", done.stdout).group(1)
            found = requests.get(
                f"{uri}/api/2.0/mlflow/experiments/get-by-name",
                params={"experiment_name": experiment},
                timeout=30,
            ).json()
            number = found["experiment"]["experiment_id"]
            view = f"{uri}/#/experiments/{number}/runs/{run_id}/artifacts/report.html"
            shoot(view, IMAGES / "report-in-mlflow-ui.png", "1400,1000", work)
            page = requests.get(
                f"{uri}/get-artifact",
                params={"path": "report.html", "run_uuid": run_id},
                timeout=30,
            ).text
            style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
            figure = re.search(r"(<figure class=map>.*?</figure>)", page, re.S).group(1)
            alone = work / "map.html"
            alone.write_text(
                f"<!doctype html><html><head><meta charset='utf-8'><style>{style}"
                f"</style></head><body><h2>Cluster map</h2>{figure}</body></html>"
            )
            shoot(alone.as_uri(), IMAGES / "cluster-map.png", "960,720", work)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
