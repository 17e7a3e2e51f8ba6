"""`musiclust features`: feature blocks to .npz + a CSV index, no MLflow run."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.helpers import write_styled_folder


def musiclust(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.fresh_store
def test_features_are_written_for_numpy_and_pandas_and_bad_files_listed(tmp_path):
    root = write_styled_folder(tmp_path / "songs" / "genres_original", n_per_style=3, styles=2)
    styles = sorted(p.name for p in root.iterdir())
    (root / styles[0] / "broken.wav").write_bytes(b"RIFF not really audio")
    out = musiclust(
        "features",
        "--data",
        str(root),
        "--features",
        "mfcc_stats,mel",
        "--set",
        "segments.length=1",
        "--out",
        str(tmp_path / "feats"),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    arrays = np.load(tmp_path / "feats.npz")
    index = pd.read_csv(tmp_path / "feats.csv")
    skipped = pd.read_csv(tmp_path / "feats.skipped.csv")
    assert list(skipped["id"]) == ["broken"] and skipped["reason"].str.len().min() > 0
    assert len(index) == 6 and list(index["id"]) == list(arrays["id"])
    assert sorted(set(index["genre"])) == styles
    rows = arrays["mfcc_stats"]
    assert rows.ndim == 2 and arrays["mel"].ndim == 3 and len(arrays["mel"]) == len(rows)
    clip = arrays["mfcc_stats.clip"]  # 2 s songs in 1 s windows: every clip has rows
    assert len(rows) > len(index) and set(clip.tolist()) == set(range(len(index)))
    assert index["has_mfcc_stats"].all()
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
    assert "6 clips (1 skipped)" in out.stdout
    assert "note: every feature is taken over 1 s windows: rows are windows" in out.stdout


def test_features_needs_an_existing_folder_for_its_output(tmp_path):
    out = musiclust("features", "--features", "mfcc_stats", "--out", str(tmp_path / "no" / "f.npz"))
    assert out.returncode != 0 and out.stderr.startswith("error: --out")
