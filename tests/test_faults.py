"""Faults, injected for real: damaged cache entries, a cache that cannot be written, signals,
concurrent first use of a store, resumed searches. Each test reproduces the fault first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from helpers import write_styled_folder
from mlflow import MlflowClient

from musiclust import pipeline
from musiclust.registry import get_registry
from musiclust.spec import build_spec

ROOT = Path(__file__).resolve().parents[1]
LONG = ("--set", "ae.epochs=100000")  # minutes of training: stopped long before
MFCC_OPTIONS = ("--features", "mfcc_stats", "--set", "agglomerative.n_clusters=3")


def run(**kw):
    registry = get_registry()
    return pipeline.run(build_spec(registry, **kw), registry, progress=False)


def _entries(cache: Path, feature: str) -> list[Path]:
    return sorted((cache / "features" / feature).rglob("*.bin"))


@pytest.mark.parametrize("damage", ["nan", "finite"])
def test_a_damaged_cache_entry_is_dropped_recomputed_and_reported(tmp_path, monkeypatch, damage):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(cache))
    songs = write_styled_folder(tmp_path / "songs", n_per_style=3, styles=3)
    options = {"data": str(songs), "features": "mfcc_stats", "sets": ["agglomerative.n_clusters=3"]}
    first = run(**options)
    entries = _entries(cache, "mfcc_stats")
    assert len(entries) == 9
    # keep the header, replace the values: NaN (a run used to fail in PCA) or plausible
    # finite numbers (a run used to finish with silently wrong clusters)
    raw = entries[4].read_bytes()
    values = np.frombuffer(raw[-40 * 4 :], dtype=np.float32)
    bad = np.full_like(values, np.nan) if damage == "nan" else values[::-1] * 50 + 3
    entries[4].write_bytes(raw[: -40 * 4] + bad.astype(np.float32).tobytes())

    second = run(**options)
    assert second.metrics["features.cache_dropped"] == 1
    assert second.metrics["features.cache_misses"] == 1  # recomputed, the others read
    assert second.metrics["genre.ami"] == pytest.approx(first.metrics["genre.ami"])
    (note,) = [n for n in second.notes if n.startswith("feature cache:")]
    assert "fails its checksum; dropped and recomputed" in note and entries[4].name in note
    assert entries[4].read_bytes() == raw  # rewritten from the audio
    assert MlflowClient().get_run(second.run_id).info.status == "FINISHED"


@pytest.fixture
def unwritable_cache(request, tmp_path):
    """A cache folder that cannot be written: a read-only file system (a read-only bind mount,
    as root; chmod, as anyone else), or a file where its folder should be."""
    cache = tmp_path / "cache"
    cache.mkdir()
    if request.param == "file in the way":
        (cache / "features").write_text("not a folder")
        yield cache
        return
    if os.geteuid() != 0:
        cache.chmod(0o555)
        yield cache
        cache.chmod(0o755)
        return
    mounted = subprocess.run(
        f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache}",
        shell=True,
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        subprocess.run(["umount", str(cache)], capture_output=True)
        pytest.skip(f"cannot make a read-only mount here: {mounted.stderr.strip()}")
    try:
        yield cache
    finally:
        subprocess.run(["umount", str(cache)], check=True)


@pytest.mark.parametrize("unwritable_cache", ["read-only", "file in the way"], indirect=True)
def test_a_cache_that_cannot_be_written_degrades_to_no_cache_with_a_warning(
    tmp_path, unwritable_cache
):
    songs = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=3)
    env = {**os.environ, "MUSICLUST_CACHE_DIR": str(unwritable_cache)}
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "run", "--data", str(songs), *MFCC_OPTIONS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cannot be written" in out.stderr and "running without caching" in out.stderr
    assert "genre: ami" in out.stdout
    assert not list(unwritable_cache.rglob("*.bin"))


def _running_run(process: subprocess.Popen, timeout: float = 120.0) -> str:
    """The id of the first RUNNING run in the test's store, once it exists."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            client = MlflowClient()
            ids = [e.experiment_id for e in client.search_experiments()]
            runs = client.search_runs(ids, filter_string="attributes.status = 'RUNNING'")
            if runs:
                return runs[0].info.run_id
        except Exception:  # the store may be being created
            pass
        time.sleep(0.5)
    raise AssertionError("no run started in time")


def test_sigterm_ends_a_run_killed_with_the_reason(tmp_path):
    from conftest import SMALL_DEMO

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "musiclust",
            "run",
            "--encoder",
            "ae",
            "--set",
            SMALL_DEMO[0],
            *LONG,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = _running_run(process)
        time.sleep(3)  # into the training
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143
    assert err.strip().splitlines()[-1] == "error: stopped by SIGTERM"
    run = MlflowClient().get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["error"] == "stopped by SIGTERM"


def test_a_resumed_search_draws_new_pipelines_and_registers_one_version_per_best(tmp_path):
    import optuna
    from conftest import SMALL_DEMO

    from musiclust.search import SearchOptions, search

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    options = SearchOptions(
        encoders=["pca"],
        clusterers=["kmeans", "agglomerative"],
        sets=[*SMALL_DEMO, "segments.length=none"],
        trials=4,
        storage=storage,
        confirm=0,
    )
    first = search(options)
    # the same command again: nothing to run, and the same best is not registered twice
    again = search(replace(options, resume=True))
    assert again.registered == first.registered
    assert any("already registered" in n for n in again.notes)
    # resumed for more: the new process samples its own stream (it used to replay the first
    # process's proposals, each counted as a trial) and replays do not count
    more = search(replace(options, resume=True, trials=10))
    study = optuna.load_study(study_name=more.study, storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    distinct = [t for t in finished if "duplicate_of" not in t.user_attrs]
    assert len(distinct) == 10
    assert len({t.user_attrs["spec.hash"] for t in distinct}) == 10
    client = MlflowClient()
    name = first.registered.split("/")[0]
    versions = [
        v
        for v in client.search_model_versions(f"name='{name}'")
        if v.tags.get("study.name") == more.study
    ]
    assert len({v.tags["best.trial"] for v in versions}) == len(versions)  # no duplicate
    if more.registered != first.registered:  # a better pipeline: the first is superseded
        old = first.registered.split("/")[1]
        (superseded,) = [v for v in versions if str(v.version) == old]
        assert superseded.tags["superseded_by"] == more.registered.split("/")[1]


def test_four_runs_started_at_once_on_a_new_sqlite_store_all_finish(tmp_path):
    songs = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=3)
    store = tmp_path / "new" / "mlflow.db"
    store.parent.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store}"}
    command = [sys.executable, "-m", "musiclust", "run", "--data", str(songs), *MFCC_OPTIONS]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outcomes = [(p.wait(timeout=600), p.communicate()[1]) for p in processes]
    assert [code for code, _ in outcomes] == [0] * 4, [err[-500:] for _, err in outcomes]
    client = MlflowClient(f"sqlite:///{store}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 4
    later = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert later.returncode == 0, later.stderr[-1000:]  # the store is still usable


@pytest.mark.parametrize("command", ["run", "search"])
def test_an_unreachable_tracking_server_fails_in_seconds_naming_it(tmp_path, command):
    import socket

    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", command],
        cwd=tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: tracking server {uri} does not answer within 5 s (ConnectionError) "
        "(start it, or point MLFLOW_TRACKING_URI elsewhere)"
    ]
    assert seconds < 30  # it used to take about 260 s (MLflow's retries)
    assert not (tmp_path / "optuna.db").exists()  # nothing created in Optuna first


@pytest.fixture
def lyrics_csv(tmp_path) -> Path:
    """Lyrics only, in a column with its own name (``--set csv.lyrics_column=text``)."""
    import pandas as pd

    words = {"rock": "guitar loud night fire", "country": "truck road whiskey home"}
    rng = np.random.default_rng(0)
    rows = [
        (genre, " ".join(rng.choice([*w.split(), "the", "and"], 12)))
        for genre, w in words.items()
        for _ in range(8)
    ]
    path = tmp_path / "songs.csv"
    pd.DataFrame(rows, columns=["genre", "text"]).to_csv(path, index=False)
    return path


def test_a_search_on_lyrics_only_offers_what_the_data_can_feed_and_refits_with_its_options(
    tmp_path, lyrics_csv
):
    from musiclust.search import SearchOptions, prepare, search

    options = SearchOptions(
        data=str(lyrics_csv),
        sets=["csv.lyrics_column=text"],
        trials=2,
        storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        confirm=0,
    )
    _, space = prepare(get_registry(), options)
    # every encoder whose default features need audio, and the hybrid VAE (its audio branch
    # needs a 2-D feature), are left out with a note: they used to fail trial after trial
    assert {"ae", "vae", "vade", "conv_vae", "hybrid_vae"}.isdisjoint(space.encoders)
    assert {"identity", "pca"} <= set(space.encoders)
    assert any("hybrid_vae' needs a 2-D feature" in n for n in space.notes)
    _, space = prepare(get_registry(), replace(options, features=["tfidf", "minilm"]))
    assert "hybrid_vae" not in space.encoders
    # the best pipeline's re-fit keeps the source's own options (it used to fail on them)
    result = search(replace(options, encoders=["pca"], clusterers=["kmeans"]))
    assert result.registered and result.model_uri
    parent = MlflowClient().get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"


def test_a_set_value_with_spaces_is_quoted_and_kept_whole(tmp_path):
    lyrics = tmp_path / "my lyrics"
    lyrics.mkdir()
    songs = write_styled_folder(tmp_path / "songs", n_per_style=1, styles=2)
    spec = build_spec(
        get_registry(), data=str(songs), sets=[f"folder.lyrics='{lyrics}' audio.n_jobs=1"]
    )
    assert spec.source.params["lyrics"] == str(lyrics)
    assert spec.audio["n_jobs"] == 1
    from musiclust.errors import SpecError

    with pytest.raises(SpecError, match="No closing quotation"):
        build_spec(get_registry(), data=str(songs), sets=["folder.lyrics='/open"])


def test_a_config_that_is_not_utf8_is_one_line(tmp_path):
    bad = tmp_path / "spec.yaml"
    bad.write_bytes("encoder: pca\n# caf\u00e9\n".encode("latin-1"))
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "run", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: config file {bad} is not UTF-8 text (byte 18: invalid continuation byte) "
        "(save it as UTF-8)"
    ]


def test_a_one_byte_mp3_is_skipped_as_not_audio(tmp_path):
    songs = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=3)
    (songs / "ballad" / "tiny.mp3").write_bytes(b"x")
    result = run(data=str(songs), features="mfcc_stats", sets=["agglomerative.n_clusters=3"])
    (skip,) = [s for s in result.skipped if s.id == "tiny"]
    assert skip.reason == "cannot decode: not a recognised audio format (too small, or not audio)"


def test_a_feature_that_fails_on_every_clip_is_blamed_not_the_data(tmp_path):
    from musiclust import AudioFeature
    from musiclust.audio import AudioSettings
    from musiclust.errors import PluginError
    from musiclust.extraction import extract

    class Broken(AudioFeature):
        name = "broken"

        def extract(self, audio):
            raise RuntimeError("always")

    songs = write_styled_folder(tmp_path / "songs", n_per_style=1, styles=3)
    dataset = build_spec(get_registry(), data=str(songs)).source
    from musiclust.spec import instantiate

    clips = instantiate(get_registry(), "source", dataset, 0).load()
    with pytest.raises(PluginError, match=r"feature 'broken' failed on all 3 clips .*always"):
        extract(clips, [Broken()], AudioSettings(), n_jobs=1, progress=False)


def test_a_search_whose_trials_all_collapse_registers_nothing_and_says_so(tmp_path):
    from conftest import SMALL_DEMO

    from musiclust.search import SearchOptions, search

    result = search(
        SearchOptions(
            encoders=["pca"],
            clusterers=["dbscan"],
            sets=[*SMALL_DEMO, "dbscan.eps=1000", "segments.length=none"],  # one cluster
            trials=2,
            storage=f"sqlite:///{tmp_path / 'optuna.db'}",
        )
    )
    assert result.best_value == -1.0 and result.registered is None
    assert any(n.startswith("every completed trial collapsed") for n in result.notes)
    parent = MlflowClient().get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["best.collapsed"] == "true"


def test_a_plugin_that_fails_every_trial_stops_being_run(with_plugins, tmp_path):
    import optuna
    from conftest import SMALL_DEMO
    from optuna.trial import TrialState

    from musiclust.search import BROKEN_AFTER, SearchOptions, search

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    result = search(
        SearchOptions(
            encoders=["pca"],
            clusterers=["explode", "kmeans"],  # explode: a third-party clusterer that raises
            sets=[*SMALL_DEMO, "segments.length=none"],
            trials=10,
            storage=storage,
            confirm=0,
        )
    )
    trials = optuna.load_study(study_name=result.study, storage=storage).trials
    explode = [t for t in trials if t.params.get("clusterer") == "explode"]
    failed = [t for t in explode if t.state == TrialState.FAIL]
    skipped = [t for t in explode if "skipped" in t.user_attrs]
    assert len(failed) == BROKEN_AFTER and len(failed) + len(skipped) == len(explode)
    assert skipped  # the sampler proposed it again: it was not run
    for t in skipped:  # not run, scored as collapsed, not counted
        assert (
            t.state == TrialState.COMPLETE
            and t.value == -1.0
            and "mlflow.run_id" not in t.user_attrs
        )
        assert "clusterer 'explode' failed all 3 of its trials" in t.user_attrs["skipped"]
        assert t.number > failed[-1].number
    counted = [
        t
        for t in trials
        if t.state.is_finished() and not {"skipped", "duplicate_of"} & set(t.user_attrs)
    ]
    assert len(counted) == 10


@pytest.mark.slow
def test_a_search_stopped_by_sigterm_resumes_in_two_processes_at_once(tmp_path):
    import optuna
    from conftest import SMALL_DEMO
    from optuna.trial import TrialState
    from test_search import _wait_for

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    args = [sys.executable, "-m", "musiclust", "search", "--encoders", "pca"]
    args += ["--clusterers", "kmeans,agglomerative", "--set", SMALL_DEMO[0], "--storage", storage]
    args += ["--confirm", "0"]
    log = tmp_path / "first.log"
    with open(log, "w") as out:  # a file, not a pipe: a full pipe would stall the search
        first = subprocess.Popen([*args, "--trials", "500"], stdout=out, stderr=out)
    try:
        _wait_for(storage, lambda ts: sum(t.state == TrialState.COMPLETE for t in ts) >= 2)
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)
    finally:
        first.kill()
    err = log.read_text()
    assert first.returncode == 143, err[-1500:]
    assert "stopped by SIGTERM" in err
    client = MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(ids, filter_string="tags.`musiclust.kind` = 'search'")
    assert parent.info.status == "KILLED"

    # two processes resume it at once: they share the study, neither replays the other, and
    # exactly one registers the best
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    name = optuna.study.get_all_study_names(storage)[0]

    def counts(trial):  # not a replay, not a trial skipped as not needed
        return trial.state.is_finished() and not {"duplicate_of", "skipped"} & set(trial.user_attrs)

    done = len([t for t in optuna.load_study(study_name=name, storage=storage).trials if counts(t)])
    total = str(done + 6)
    both = [subprocess.Popen([*args, "--trials", total, "--resume"], **pipes) for _ in range(2)]
    errors = [p.communicate(timeout=600)[1] for p in both]
    assert [p.returncode for p in both] == [0, 0], [e[-1500:] for e in errors]
    trials = optuna.load_study(study_name=name, storage=storage).trials
    counted = [t for t in trials if counts(t)]
    assert len(counted) == done + 6  # exactly: near the end one waits for the other's trial
    assert not client.search_runs(ids, filter_string="attributes.status = 'RUNNING'")
    states = {r.data.tags.get("trial.state") for r in client.search_runs(ids)}
    assert "running" not in states  # the trial SIGTERM stopped says so
    versions = [
        v
        for v in client.search_model_versions("name='musiclust-demo'")
        if v.tags.get("study.name") == name
    ]
    assert len({v.tags["best.trial"] for v in versions}) == len(versions) >= 1
