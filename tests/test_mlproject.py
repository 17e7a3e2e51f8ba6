"""`mlflow run` on the project, read back with the MLflow client; the model on a new file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from mlflow.tracking import MlflowClient

from musiclust.plugins.sources import synth

ROOT = Path(__file__).resolve().parents[1]
MLFLOW = [sys.executable, "-m", "mlflow"]


def new_song(path: Path) -> Path:
    """A song no run has seen: another seed, 44.1 kHz stereo (resampled by the model)."""
    rng = np.random.default_rng(12345)
    y = synth.synthesize(synth.STYLES[1], rng, 44100, 3.0)
    sf.write(path, np.stack([y, y], axis=1), 44100)
    return path


def mlflow_run(env_manager: str, tmp_path: Path) -> str:
    out = subprocess.run(
        [
            *MLFLOW,
            "run",
            str(ROOT),
            "--env-manager",
            env_manager,
            "--experiment-name",
            "proj",
            "-P",
            "set=demo.n_per_style=4 demo.duration=2 agglomerative.k_max=6",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    client = MlflowClient()
    [run] = client.search_runs([client.get_experiment_by_name("proj").experiment_id])
    assert run.info.status == "FINISHED"
    # MLflow logs MLproject parameters as it passed them to the shell (quoted)
    assert (
        run.data.params["set"].strip("'")
        == "demo.n_per_style=4 demo.duration=2 agglomerative.k_max=6"
    )
    assert run.data.params["clusterer.k_max"] == "6" and run.data.params["encoder.name"] == "pca"
    assert run.data.metrics["n_clips"] == 20 and "genre.ami" in run.data.metrics
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"spec.yaml", "assignments.csv", "metrics.csv", "skipped.csv", "plots"} <= names
    return run.info.run_id


@pytest.mark.slow
def test_mlflow_run_local_then_the_model_predicts_a_new_file(tmp_path):
    run_id = mlflow_run("local", tmp_path)
    song = new_song(tmp_path / "new_song.wav")
    model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    [cluster] = model.predict(pd.DataFrame({"audio": [str(song)]}))["cluster"]
    assert cluster >= 0

    (tmp_path / "input.csv").write_text(f"audio,lyrics\n{song},fire road wild\n")
    out = subprocess.run(
        [
            *MLFLOW,
            "models",
            "predict",
            "-m",
            f"runs:/{run_id}/model",
            "-i",
            "input.csv",
            "-t",
            "csv",
            "--env-manager",
            "local",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    predictions = json.loads(out.stdout.strip().splitlines()[-1])["predictions"]
    assert predictions[0]["reason"] == "" and predictions[0]["cluster"] >= 0


@pytest.mark.slow
def test_mlflow_run_virtualenv_builds_everything_from_conda_yaml(tmp_path, monkeypatch):
    """A fresh environment from conda.yaml alone: the check that it is complete (minutes)."""
    if os.environ.get("MUSICLUST_SKIP_VIRTUALENV"):
        pytest.skip("MUSICLUST_SKIP_VIRTUALENV is set")
    monkeypatch.setenv("MLFLOW_ENV_ROOT", str(tmp_path / "envs"))
    mlflow_run("virtualenv", tmp_path)


@pytest.mark.slow
def test_mlflow_run_search_entry_nests_trials_under_mlflow_runs_own_run(tmp_path):
    out = subprocess.run(
        [
            *MLFLOW,
            "run",
            str(ROOT),
            "-e",
            "search",
            "--env-manager",
            "local",
            "--experiment-name",
            "proj",
            "-P",
            "set=demo.n_per_style=4 demo.duration=2",
            "-P",
            "encoders=pca",
            "-P",
            "clusterers=kmeans",
            "-P",
            "trials=3",
            "-P",
            f"storage=sqlite:///{tmp_path / 'optuna.db'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    client = MlflowClient()
    runs = client.search_runs([client.get_experiment_by_name("proj").experiment_id])
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["musiclust.kind"] == "search"
    assert parent.data.params["trials"] == "3"  # MLflow's own record of the entry point
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len([r for r in children if r.data.tags.get("musiclust.kind") == "trial"]) >= 1
    assert "best.objective" in parent.data.metrics
    assert (tmp_path / "optuna.db").exists()
