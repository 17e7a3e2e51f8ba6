"""run --seeds: one run per seed under a parent with mean and std; compare shows the group."""

import subprocess
import sys

import mlflow
import pandas as pd
import pytest
from conftest import SMALL_DEMO

from musiclust.compare import compare
from musiclust.errors import SpecError
from musiclust.seeds import MAX_SEEDS, parse_seeds, summarise


def test_seeds_are_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    assert parse_seeds("1-2, 9") == [1, 2, 9]
    for wrong in ("a", "3-1", "0,0", "", f"0-{MAX_SEEDS}"):
        with pytest.raises(SpecError, match="--seeds"):
            parse_seeds(wrong)


def test_summarise_keeps_what_every_run_logged():
    mean, std = summarise([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": float("nan")}, {"a": 2.0}])
    assert mean == {"a": 2.0} and std == {"a": pytest.approx(1.0)}


def musiclust(*args):
    return subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True
    )


def test_run_with_seeds_logs_a_parent_with_mean_and_std_and_compare_shows_one_row(tmp_path):
    args = ["run", "--clusterer", "kmeans", "--set", SMALL_DEMO[0], "--no-model"]
    done = musiclust(*args, "--seeds", "0,2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 seeds under run" in done.stdout and "mean +- std:" in done.stdout
    client = mlflow.MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(ids, "tags.`musiclust.kind` = 'seeds'")
    assert parent.info.status == "FINISHED" and parent.data.params["seeds"] == "0,2"
    children = client.search_runs(ids, f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(c.data.params["spec.seed"] for c in children) == ["0", "2"]
    assert all(c.data.tags["musiclust.kind"] == "run" for c in children)
    amis = [c.data.metrics["genre.ami"] for c in children]
    assert parent.data.metrics["genre.ami.mean"] == pytest.approx(sum(amis) / 2)
    assert parent.data.metrics["genre.ami.std"] == pytest.approx(pd.Series(amis).std())
    table = pd.read_csv(
        mlflow.artifacts.download_artifacts(run_id=parent.info.run_id, artifact_path="seeds.csv")
    )
    assert table["seed"].tolist() == [0, 2]

    single = musiclust(*args)  # a plain run beside the group
    assert single.returncode == 0, single.stderr[-2000:]
    out = compare(out_dir=tmp_path / "out")
    rows = pd.read_csv(out.csv)
    assert sorted(rows["seeds"]) == [1, 2]
    group = rows[rows["seeds"] == 2].iloc[0]
    assert group["id"] == parent.info.run_id[:8]
    assert group["AMI"] == pytest.approx(sum(amis) / 2)
    assert group["AMI std"] == pytest.approx(pd.Series(amis).std())
    assert "±" in out.markdown.read_text()

    both = musiclust(*args, "--seed", "1", "--seeds", "0-1")
    assert both.returncode == 2 and "--seed or --seeds" in both.stderr
