"""A real MLflow tracking server on loopback: runs, trials, artifacts and models land on it and
load back from it (docs/search.md's "scaling out" path)."""

import os
import subprocess
import sys

import pytest
from conftest import SMALL_DEMO


@pytest.mark.slow
def test_runs_searches_and_models_land_on_a_tracking_server(mlflow_server, tmp_path, monkeypatch):
    import mlflow

    uri, store = mlflow_server
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    musiclust = [sys.executable, "-m", "musiclust"]
    run = subprocess.run(
        [*musiclust, "run", "--set", SMALL_DEMO[0]], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = [*musiclust, "search", "--encoders", "pca", "--clusterers", "kmeans"]
    search += ["--set", SMALL_DEMO[0], "--trials", "2", "--confirm", "0", "--storage", storage]
    found = subprocess.run(search, env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr[-2000:]

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    kinds = sorted(r.data.tags.get("musiclust.kind") for r in runs)
    assert kinds == ["best", "run", "search", "trial", "trial"]
    assert all(r.info.status == "FINISHED" for r in runs)
    (plain,) = [r for r in runs if r.data.tags["musiclust.kind"] == "run"]
    names = {a.path for a in client.list_artifacts(plain.info.run_id)}
    assert {"report.html", "assignments.csv", "plots"} <= names
    page = mlflow.artifacts.load_text(f"runs:/{plain.info.run_id}/report.html")
    assert "data:image/png;base64," in page  # self-contained, as the UI serves it
    assert list((store / "artifacts").rglob("report.html"))  # stored by the server itself
    (parent,) = [r for r in runs if r.data.tags["musiclust.kind"] == "search"]
    trials = [r for r in runs if r.data.tags["musiclust.kind"] == "trial"]
    assert {t.data.tags["mlflow.parentRunId"] for t in trials} == {parent.info.run_id}
    (version,) = client.search_model_versions("name = 'musiclust-demo'")
    model = mlflow.pyfunc.load_model(f"models:/musiclust-demo/{version.version}")
    import pandas as pd

    from musiclust.registry import get_registry

    demo = get_registry().get("source", "demo").cls(n_per_style=2, duration=2.0).load()
    clip = demo.clips[0]
    predicted = model.predict(pd.DataFrame({"audio": [str(clip.audio)], "lyrics": [clip.lyrics]}))
    assert predicted["cluster"].iloc[0] >= 0
