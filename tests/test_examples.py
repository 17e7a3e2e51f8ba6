"""The example plugin package of docs/writing-plugins.md, pip-installed and searched over."""

import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import pytest

from musiclust.search import SearchOptions, search
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "musiclust-rhythm"
# BIRCH says when its threshold leaves fewer sub-clusters than K: expected while searching it
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_the_example_package_is_listed_with_its_version(with_example: Path):
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "plugins"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for name in ("onset_stats", "birch"):
        [line] = [ln for ln in lines if ln.strip().startswith(name + " ")]
        assert "musiclust-rhythm" in line and "0.1.0" in line
    # the guide's filtered listings
    two = subprocess.run(
        [sys.executable, "-m", "musiclust", "plugins", "onset_stats", "birch"],
        capture_output=True,
        text=True,
    ).stdout
    assert "max_lag" in two and "threshold" in two and "kmeans" not in two
    brief = subprocess.run(
        [sys.executable, "-m", "musiclust", "plugins", "clusterers", "--brief"],
        capture_output=True,
        text=True,
    ).stdout
    assert "  birch " in brief and "threshold" not in brief and "features:" not in brief


def test_a_search_picks_and_tunes_the_example_plugins(with_example: Path, tmp_path: Path):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = search(
        SearchOptions(
            features=["onset_stats"],
            encoders=["pca"],
            clusterers=["birch"],
            sets=["demo.n_per_style=4 demo.duration=3"],
            trials=3,
            storage=storage,
        )
    )
    study = optuna.load_study(study_name=result.study, storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete
    for trial in complete:
        assert "birch.threshold" in trial.params  # the plugins' own declared spaces
        assert "onset_stats.max_lag" in trial.params
        run = mlflow.MlflowClient().get_run(trial.user_attrs["mlflow.run_id"])
        assert run.data.params["clusterer.name"] == "birch"
        assert float(run.data.params["clusterer.threshold"]) == pytest.approx(
            trial.params["birch.threshold"]
        )
        assert run.data.tags["plugin.clusterer.birch"] == "musiclust-rhythm==0.1.0"
        assert run.data.params["feature.names"] == "onset_stats"
        assert run.data.params["feature.onset_stats.max_lag"] == str(
            trial.params["onset_stats.max_lag"]
        )
    assert result.registered  # the best pipeline (with the plugins) as a registered model


def test_the_example_plugins_pass_the_checker_as_the_guide_shows(with_example: Path):
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    snippet = guide.split("```python\nfrom musiclust_rhythm import Birch, OnsetStats")[1]
    code = "from musiclust_rhythm import Birch, OnsetStats" + snippet.split("```")[0]
    exec(compile(code, "writing-plugins.md", "exec"), {})  # raises PluginError on a failure


def test_the_guide_shows_the_example_package_verbatim():
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    for name in ("pyproject.toml", "musiclust_rhythm.py"):
        assert (EXAMPLE / name).read_text().rstrip() in guide, name


def test_the_guide_covers_every_hook_and_every_declaration_field():
    import dataclasses

    from musiclust import hookspecs
    from musiclust.params import Param
    from musiclust.registry import HOOKS

    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    for field in dataclasses.fields(Param):
        assert f"`{field.name}`" in guide, field.name
    for hook, family in HOOKS.items():
        assert getattr(hookspecs, hook).__doc__  # documented in the code
        assert f"| {family}" in guide, family
