"""The reference space: which features it holds, how they are combined, and the setting."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import write_styled_folder
from mlflow.tracking import MlflowClient

from musiclust import DataError, SpecError, pipeline
from musiclust.reference import space
from musiclust.registry import get_registry
from musiclust.spec import build_spec

WEIGHTS = importlib.util.find_spec("musicnn") is not None


def run(**kw):
    registry = get_registry()
    return pipeline.run(build_spec(registry, **kw), registry, progress=False)


def test_blocks_count_alike_whatever_their_width_and_missing_rows_stay_missing():
    rng = np.random.default_rng(0)
    narrow = rng.normal(size=(30, 4)) * [1, 10, 100, 1000]  # unlike units
    wide = rng.normal(size=(30, 200))
    mask = np.ones(30, bool)
    mask[3] = False
    joint = space([(narrow, np.ones(30, bool)), (wide, mask)])
    assert joint.shape == (30, 204)
    assert np.isnan(joint[3]).all() and not np.isnan(np.delete(joint, 3, axis=0)).any()
    present = np.delete(joint, 3, axis=0)
    for block in (present[:, :4], present[:, 4:]):
        total = ((block - block.mean(axis=0)) ** 2).sum(axis=1).mean()
        assert total == pytest.approx(1.0, rel=0.05)  # each block: unit total variance
    alone = space([(narrow, np.ones(30, bool))])  # one block: plain standardised columns
    np.testing.assert_allclose(alone.std(axis=0), 1.0)


@pytest.mark.skipif(not WEIGHTS, reason="the musicnn weights are not installed")
def test_auto_takes_the_statistics_and_the_pretrained_embedding(tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=3, styles=3)
    result = run(data=str(root), sets=["agglomerative.n_clusters=3"])
    assert result.spec.reference["features"] == "audio_stats,musicnn"
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["reference.features"] == "audio_stats,musicnn"
    assert result.evaluation.reference.shape == (9, 91 + 200)
    assert "reference.silhouette" in result.metrics


def test_the_reference_can_be_named_and_a_typo_fails_before_work(tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=3, styles=3)
    result = run(
        data=str(root), sets=["agglomerative.n_clusters=3", "reference.features=mfcc_stats"]
    )
    assert result.evaluation.reference_name == "mfcc_stats"
    assert result.evaluation.reference.shape == (9, 40)
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["reference.features"] == "mfcc_stats"
    with pytest.raises(SpecError, match="did you mean 'audio_stats'"):
        run(data=str(root), sets=["reference.features=audio_stat"])
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "run", "--set", "reference.features=audio_stat"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode != 0 and out.stderr.count("\n") == 1
    assert "reference.features: unknown feature 'audio_stat'" in out.stderr


def test_lyrics_only_data_takes_tfidf_and_refuses_an_audio_reference(tmp_path):
    rows = [(f"{w} {w} song", g) for w, g in [("fire", "rock"), ("love", "pop")] * 4]
    pd.DataFrame(rows, columns=["lyrics", "genre"]).to_csv(tmp_path / "l.csv", index=False)
    result = run(data=str(tmp_path / "l.csv"), sets=["agglomerative.n_clusters=2"])
    assert result.spec.reference["features"] == "tfidf"
    with pytest.raises(DataError, match=r"reference\.features: 'audio_stats' needs audio"):
        run(data=str(tmp_path / "l.csv"), sets=["reference.features=audio_stats"])
