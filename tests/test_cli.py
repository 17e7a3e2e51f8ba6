"""The musiclust command as a user types it: help, one-line errors, a real run."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_DEMO


def musiclust(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True, cwd=cwd
    )


@pytest.mark.parametrize(
    "command", [[], ["run"], ["search"], ["features"], ["describe"], ["plugins"], ["compare"]]
)
def test_every_command_has_help(command):
    out = musiclust(*command, "--help")
    assert out.returncode == 0 and "Usage:" in out.stdout


def test_run_help_lists_the_contract_options():
    text = musiclust("run", "--help").stdout
    for option in (
        "--data",
        "--source",
        "--features",
        "--encoder",
        "--clusterer",
        "--set",
        "--config",
        "--experiment",
        "--seed",
    ):
        assert option in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--encoder", "pcaa"],
            "error: unknown encoder 'pcaa'; known encoders: "
            "ae, conv_vae, cvae, hybrid_vae, identity, pca, vade, vae",
        ),
        (["--set", "pca.n_component=4"], "error: unknown parameter 'pca.n_component'"),
        (
            ["--set", "agglomerative.n_clusters=ten"],
            "error: agglomerative.n_clusters: expected an integer",
        ),
        (["--data", "/no/such/folder"], "error: no such file or folder: /no/such/folder"),
        (["--seed", "x"], "error: --seed: expected an integer, got 'x'"),
    ],
)
@pytest.mark.fresh_store
def test_mistakes_are_one_line_non_zero_and_start_no_run(args, expected, tmp_path):
    out = musiclust("run", *args, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]  # one line
    assert out.stderr.startswith(expected)
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--encoders", "pca,vea"], "error: unknown encoder 'vea'"),
        (["--objective", "silhuette"], "error: unknown objective 'silhuette'"),
        (["--trials", "0"], "error: --trials: expected at least 1, got 0"),
        (["--confirm", "-1"], "error: --confirm: expected at least 0, got -1"),
        (["--workers", "two"], "error: --workers: expected a whole number, got 'two'"),
        (["--resume", "maybe"], "error: --resume: expected true or false"),
        (
            ["--storage", "postgresql://me:secret@localhost/db"],
            "error: --storage postgresql://me:***@localhost/db",
        ),
    ],
)
@pytest.mark.fresh_store
def test_search_mistakes_are_one_line_and_start_nothing(args, expected, tmp_path):
    out = musiclust("search", *args, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith(expected)
    assert "secret" not in out.stderr
    assert not (tmp_path / "optuna.db").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.fresh_store
def test_run_prints_a_summary_and_defaults_to_a_local_sqlite_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    out = musiclust("run", "--set", *SMALL_DEMO, "--experiment", "cli", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "in experiment 'cli'" in out.stdout and "genre: ami" in out.stdout
    assert (tmp_path / "mlflow.db").is_file() and Path(tmp_path / "mlruns").is_dir()
    assert f"mlflow ui --backend-store-uri sqlite:///{tmp_path / 'mlflow.db'}" in out.stdout


def test_a_closed_pipe_ends_quietly():
    # `true` exits without reading, so the first write meets a closed pipe
    command = f"{sys.executable} -m musiclust plugins | true"
    out = subprocess.run(command, shell=True, capture_output=True, text=True)
    assert out.stderr == ""


def test_the_summary_shows_notes_such_as_a_lyrics_encoding_fallback(tmp_path):
    from helpers import write_tone

    for i in range(3):
        write_tone(tmp_path / "songs" / "a" / f"s{i}.wav", freq=200 + 100 * i)
    (tmp_path / "lyrics").mkdir()
    (tmp_path / "lyrics" / "s0.txt").write_bytes("ma ch\xe8re".encode("cp1252"))
    out = musiclust(
        "run",
        "--data",
        str(tmp_path / "songs"),
        "--features",
        "mfcc_stats",
        "--no-model",
        "--set",
        "agglomerative.n_clusters=2",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "note: s0.txt: not UTF-8, read as cp1252" in out.stdout


@pytest.mark.fresh_store
def test_dry_run_prints_the_resolved_spec_or_the_space_and_starts_nothing(tmp_path):
    import yaml

    out = musiclust("run", "--dry-run", "--set", *SMALL_DEMO, "--clusterer", "kmeans", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "# 20 clips; nothing was run (--dry-run)"
    spec = yaml.safe_load("\n".join(line for line in lines if not line.startswith("#")))
    assert spec["clusterer"]["name"] == "kmeans" and spec["source"]["params"]["n_per_style"] == 4
    out = musiclust("search", "--dry-run", "--encoders", "pca", "--set", *SMALL_DEMO, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "encoders: pca" in out.stdout and "pca: n_components in" in out.stdout
    assert "# a new study: trial 0 is the plain run's pipeline" in out.stdout
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "optuna.db").exists()
    assert not (tmp_path / "mlruns").exists()


def test_a_tracking_uri_mlflow_does_not_support_is_one_line(tmp_path):
    import os

    env = {**os.environ, "MLFLOW_TRACKING_URI": "bogus://host"}
    done = subprocess.run(
        [sys.executable, "-m", "musiclust", "run", "--set", SMALL_DEMO[0]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: tracking store bogus://host: ") and "MLFLOW_TRACKING_URI" in line


@pytest.mark.parametrize("verbose", [False, True])
def test_an_unexpected_error_shows_its_traceback_with_v_as_the_hint_says(tmp_path, verbose):
    # a bug injected into the pipeline: the CLI's last-resort handler is what is tested
    script = (
        "import sys, musiclust.pipeline as p, musiclust.cli as c\n"
        "def broken(*a, **k):\n    return {}['missing']\n"
        "p.run = broken\n"
        f"sys.argv = ['musiclust', *{['-v'] * verbose}, 'run', '--set', {SMALL_DEMO[0]!r}]\n"
        "c.main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: unexpected KeyError: 'missing'")
    assert ("Traceback (most recent call last)" in done.stderr) == verbose
    assert ("musiclust -v" in last) != verbose


def test_plugins_lists_what_is_asked_for():
    one = musiclust("plugins", "kmeans", "segments")
    assert one.returncode == 0
    assert "  kmeans " in one.stdout and "minibatch_rows" in one.stdout
    assert "settings (--set segments.PARAM=VALUE):" in one.stdout and "back " in one.stdout
    assert "agglomerative" not in one.stdout and "sources:" not in one.stdout
    family = musiclust("plugins", "clusterers", "--brief").stdout.splitlines()
    names = [line.split()[0] for line in family if line.startswith("  ")]
    assert family[0] == "clusterers:" and {"kmeans", "agglomerative", "hdbscan"} <= set(names)
    assert not any(line.startswith("      ") for line in family)  # no parameter lines
    wrong = musiclust("plugins", "kmeens")
    assert wrong.returncode == 2 and "did you mean 'kmeans'?" in wrong.stderr
