"""report.html in a real headless browser (Debian's `chromium`, which .ci/run installs): opened
from disk, and inside a running MLflow UI's artifact view. Every image must decode and every
song of the cluster map must carry its tooltip."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_DEMO

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")

#: A page that loads the report in a frame, then writes what the browser made of it.
CHECK = """<!doctype html><html><body>
<iframe id=report src="%s" width=1200 height=900></iframe>
<script>
document.getElementById("report").onload = () => {
  const page = document.getElementById("report").contentDocument;
  const images = [...page.images];
  const out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify({
    images: images.length,
    decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    tips: [...page.querySelectorAll("svg circle title")].map(t => t.textContent),
    width: page.documentElement.scrollWidth,
  });
  document.body.appendChild(out);
};
</script></body></html>"""


def chromium(*args: str, cwd: Path) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    command += [f"--user-data-dir={cwd / 'profile'}", "--hide-scrollbars", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=cwd)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def what_the_browser_shows(report: Path, tmp_path: Path) -> dict:
    check = report.with_name("check.html")
    check.write_text(CHECK % report.name)
    dom = chromium(
        "--allow-file-access-from-files",
        "--virtual-time-budget=15000",
        "--dump-dom",
        check.as_uri(),
        cwd=tmp_path,
    )
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def test_report_html_renders_whole_in_a_browser_from_disk(tmp_path):
    import mlflow

    from musiclust import pipeline
    from musiclust.registry import get_registry
    from musiclust.spec import build_spec

    registry = get_registry()
    spec = build_spec(registry, sets=list(SMALL_DEMO))
    result = pipeline.run(spec, registry, progress=False, log_model=False)
    folder = Path(mlflow.artifacts.download_artifacts(run_id=result.run_id, dst_path=str(tmp_path)))
    report = folder / "report.html"
    shown = what_the_browser_shows(report, tmp_path)
    plots = len(list((folder / "plots").glob("*.png")))
    assert shown["images"] == shown["decoded"] == plots > 0  # every plot decodes
    assert len(shown["tips"]) == result.metrics["n_clips"]  # a tooltip per song
    assert all(re.search(r" \| genre: \w+ \| (cluster \d+|noise)$", t) for t in shown["tips"])
    assert shown["width"] <= 1200  # nothing wider than the page


@pytest.mark.slow
def test_the_mlflow_ui_serves_report_html_whole(mlflow_server, tmp_path):
    import mlflow

    uri, _ = mlflow_server
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    run = subprocess.run(
        [sys.executable, "-m", "musiclust", "run", "--set", SMALL_DEMO[0]],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    run_id = re.search(r"^run (\w+)", run.stdout, re.M).group(1)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_run(run_id).info.experiment_id
    # the file exactly as the UI's artifact view fetches it from the server
    import requests

    page = requests.get(
        f"{uri}/get-artifact", params={"path": "report.html", "run_uuid": run_id}, timeout=30
    )
    assert page.ok
    report = tmp_path / "served" / "report.html"
    report.parent.mkdir()
    report.write_bytes(page.content)
    shown = what_the_browser_shows(report, tmp_path)
    assert shown["images"] == shown["decoded"] > 0
    assert len(shown["tips"]) > 0
    # and the UI itself, with the report open in its artifact view
    view = f"{uri}/#/experiments/{experiment}/runs/{run_id}/artifacts/report.html"
    dom = chromium("--virtual-time-budget=30000", "--dump-dom", view, cwd=tmp_path)
    assert "report.html" in dom and "<iframe" in dom, dom[-3000:]
