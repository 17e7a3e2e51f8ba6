"""musiclust compare: an experiment's runs as one table, CSV and markdown."""

import subprocess
import sys

import pandas as pd
import pytest
from conftest import SMALL_DEMO

from musiclust import pipeline
from musiclust.compare import compare
from musiclust.errors import MusiclustError, PluginError
from musiclust.registry import get_registry
from musiclust.spec import build_spec


def run(**kw):
    registry = get_registry()
    return pipeline.run(build_spec(registry, **kw), registry, progress=False, log_model=False)


def test_compare_lists_finished_runs_best_first_and_writes_csv_and_markdown(tmp_path, with_plugins):
    results = [run(sets=[*SMALL_DEMO, f"agglomerative.n_clusters={k}"]) for k in (2, 5)]
    results.append(run(clusterer="gmm", sets=[*SMALL_DEMO, "gmm.n_clusters=3"]))
    with pytest.raises(PluginError):
        run(clusterer="explode", sets=SMALL_DEMO)  # a FAILED run: left out, and counted
    import mlflow

    assert mlflow.get_run(results[0].run_id).data.tags["musiclust.kind"] == "run"
    for kind in ("overview", "search"):  # finished, but no clustering of their own: left out
        with mlflow.start_run(experiment_id=mlflow.get_run(results[0].run_id).info.experiment_id):
            mlflow.set_tag("musiclust.kind", kind)
    out = compare(out_dir=tmp_path / "out")  # default: the latest run's experiment
    assert out.failed == 1
    assert out.experiment == "demo" and out.label == "genre"
    table = pd.read_csv(out.csv)
    assert len(table) == 3
    assert table["AMI"].tolist() == sorted(table["AMI"], reverse=True)
    best = max(results, key=lambda r: r.metrics["genre.ami"])
    assert table["id"].iloc[0] == best.run_id[:8]
    assert table["AMI"].iloc[0] == pytest.approx(best.metrics["genre.ami"])
    features = "+".join(p.name for p in results[0].spec.features)  # musicnn where installed
    assert set(table["method"]) == {
        f"pca + agglomerative [{features}]",
        f"pca + gmm [{features}]",
    }
    assert list(table.columns) == [
        "id",
        "method",
        "K",
        "silhouette",
        "CH",
        "DB",
        "ref. silhouette",
        "ARI",
        "AMI",
        "NMI",
        "purity",
    ]
    text = out.markdown.read_text()
    assert "| id | method | K | silhouette" in text and best.run_id[:8] in text


def test_compare_names_the_experiments_when_one_is_unknown():
    run(sets=SMALL_DEMO)
    with pytest.raises(MusiclustError, match=r"no experiment 'dem'.*experiments: demo"):
        compare(experiment="dem")


def test_compare_command(tmp_path):
    run(sets=SMALL_DEMO)
    printed = subprocess.run(
        [sys.executable, "-m", "musiclust", "compare"], capture_output=True, text=True, cwd=tmp_path
    )
    assert printed.returncode == 0, printed.stderr
    assert "Runs of experiment 'demo'" in printed.stdout and "written" not in printed.stdout
    assert not list(tmp_path.glob("compare-*"))  # without --out, nothing is written
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "compare", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "Runs of experiment 'demo'" in out.stdout and "compare-demo.csv" in out.stdout
    assert (tmp_path / "compare-demo.md").is_file()
