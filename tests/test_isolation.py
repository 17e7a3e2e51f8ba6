"""The suite's footing: each test has an empty MLflow store of its own (conftest.isolated),
a copy of one MLflow made, which behaves as the store MLflow would create in its folder."""

import mlflow
import pytest


def _default_run_artifact(tmp_path) -> None:
    client = mlflow.MlflowClient()
    [default] = client.search_experiments()
    assert default.name == "Default" and not client.search_runs([default.experiment_id])
    assert default.artifact_location == str(tmp_path / "mlruns" / "0")
    # named: an earlier test in this process may have set MLflow's active experiment
    with mlflow.start_run(experiment_id=default.experiment_id) as run:
        mlflow.log_text("la", "a.txt")
    # beside this test's store, not beside the template it was copied from
    assert (tmp_path / "mlruns" / "0" / run.info.run_id / "artifacts" / "a.txt").is_file()


def test_the_copied_store_is_empty_and_keeps_artifacts_in_its_folder(tmp_path):
    assert (tmp_path / "mlflow.db").is_file()  # there before anything ran
    _default_run_artifact(tmp_path)


@pytest.mark.fresh_store
def test_a_fresh_store_is_made_by_mlflow_as_a_copy_would_be(tmp_path):
    assert not (tmp_path / "mlflow.db").exists()
    _default_run_artifact(tmp_path)
    assert (tmp_path / "mlflow.db").is_file()
