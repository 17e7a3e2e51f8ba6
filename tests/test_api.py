"""musiclust.api.MusicClustering: the notebook entry, fitted and tracked like a run."""

import re
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from conftest import SMALL_DEMO

from musiclust import MusicClustering
from musiclust.errors import MusiclustError, SpecError

SMALL = dict(p.split("=") for p in SMALL_DEMO[0].split())
ROOT = Path(__file__).resolve().parents[1]


def test_fit_tracks_a_run_and_predict_puts_known_songs_in_their_clusters():
    model = MusicClustering(clusterer="kmeans", params={**SMALL, "kmeans.n_clusters": 4})
    assert model.fit_predict() is model.labels_
    assert len(model.labels_) == len(model.ids_) == len(model.clips_) == 20
    assert len(set(model.labels_.tolist())) == 4
    run = mlflow.get_run(model.run_id_)
    assert run.info.status == "FINISHED" and run.data.tags["musiclust.kind"] == "run"
    assert run.data.params["clusterer.n_clusters"] == "4"
    assert run.data.metrics["genre.ami"] == pytest.approx(model.metrics_["genre.ami"])
    songs = model.clips_[:5]
    new = model.predict(audio=[s.audio for s in songs], lyrics=[s.lyrics for s in songs])
    assert new.tolist() == model.labels_[:5].tolist()
    assert model.predict(audio=["/nowhere/song.wav"]).tolist() == [-1] and model.reasons_[0]


def test_untracked_fits_leave_the_users_store_and_folder_alone(tmp_path):
    uri = mlflow.get_tracking_uri()
    model = MusicClustering(params=SMALL, track=False, reports=[]).fit()
    assert model.run_id_ is None and len(model.labels_) == 20
    assert mlflow.get_tracking_uri() == uri
    client = mlflow.MlflowClient()
    assert not client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert not (tmp_path / "mlruns").exists() and Path.cwd() == tmp_path
    # the run core with no observer: MLflow is not even imported
    script = (
        "import sys; from musiclust import MusicClustering; "
        f"m = MusicClustering(params={SMALL!r}, track=False, reports=[]).fit(); "
        "print(len(m.labels_), 'mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["20", "False"]


def test_mistakes_are_the_runs_one_line_errors():
    with pytest.raises(MusiclustError, match="not fitted yet"):
        MusicClustering().predict(audio=["a.wav"])
    with pytest.raises(SpecError, match="did you mean 'kmeans'"):
        MusicClustering(clusterer="kmean").fit()


def test_the_python_api_page_runs_as_written():
    page = (ROOT / "docs" / "python-api.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", page, re.S)
    scope: dict = {}
    exec(compile(code, "python-api.md", "exec"), scope)
    assert isinstance(scope["model"], MusicClustering) and scope["model"].run_id_
    assert np.asarray(scope["new"]).shape == (3,)
