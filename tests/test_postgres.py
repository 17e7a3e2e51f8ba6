"""A real PostgreSQL server on loopback (its binaries from the `pgserver` wheel, the `dev`
extra): two `musiclust search` processes share one study on it, with MLflow's tracking store
on the same server (docs/search.md's "Running on more than one machine")."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import SMALL_DEMO

pgserver = pytest.importorskip("pgserver", reason="the dev extra installs pgserver")


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server listening on 127.0.0.1 (as a user a root test run makes, since
    PostgreSQL refuses to run as root); yields a function that makes a database and gives
    its URL, with a password as a user on another machine would write it.

    Its data folder is outside pytest's own temporary tree: that user must traverse the
    folders above it, and another pytest session starting meanwhile closes pytest's tree
    (0700) again, which left the server unable to stop. For the same reason a root run
    uses a copy of the wheel's binaries (34 MB) in that folder: the wheel may lie under
    /root (0700), where CI's Python lives, and that user could not run them from there
    (pgserver's own cure opens every folder above the wheel to everyone)."""
    import psycopg

    top = Path(tempfile.mkdtemp(prefix="musiclust-postgres-"))
    data = top / "data"
    try:  # a setup that fails half-way leaves nothing behind either
        data.mkdir()
        install = Path(pgserver.__file__).parent / "pginstall"
        as_user = {}
        if os.geteuid() == 0:
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            entry = ensure_user_exists("pgserver")
            ensure_prefix_permissions(data)
            os.chown(data, entry.pw_uid, entry.pw_gid)
            as_user = {"user": "pgserver"}
            # the wheel's layout is kept: postgres finds its share folder beside its bin, and
            # the binaries their libraries at $ORIGIN/../../../pgserver.libs
            site = Path(pgserver.__file__).parent.parent
            for part in (
                "pgserver/pginstall/bin",
                "pgserver/pginstall/lib",
                "pgserver/pginstall/share",
                "pgserver.libs",
            ):
                shutil.copytree(site / part, top / "site" / part)
            install = top / "site" / "pgserver" / "pginstall"
            for path in [top, *(top / "site").rglob("*")]:
                path.chmod(path.stat().st_mode | 0o055)

        def pg(tool: str, *args: str) -> None:
            with open(top / f"{tool}.out", "w") as out:  # a file, not a pipe: the server that
                done = subprocess.run(  # pg_ctl starts would hold a pipe open
                    [str(install / "bin" / tool), "-D", str(data), *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    **as_user,
                )
            assert done.returncode == 0, (top / f"{tool}.out").read_text()

        pg("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres")
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        options = f"-h 127.0.0.1 -p {port} -k {data}"
        pg("pg_ctl", "-w", "-l", str(data / "log"), "-o", options, "start")

        def database(name: str) -> str:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", autocommit=True
            ) as connection:
                connection.execute(f"CREATE DATABASE {name}")
            return f"postgresql://postgres:secret@127.0.0.1:{port}/{name}"

        yield database
    finally:
        try:
            if (data / "postmaster.pid").exists():  # the server is running
                pg("pg_ctl", "-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(top, ignore_errors=True)


@pytest.mark.slow
def test_two_searches_share_one_study_and_tracking_store_on_postgresql(postgres, tmp_path):
    import mlflow
    import optuna

    storage, store = postgres("optuna"), postgres("mlflow")
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    args = [sys.executable, "-m", "musiclust", "search", "--encoders", "pca"]
    args += ["--clusterers", "kmeans,agglomerative,gmm", "--set", SMALL_DEMO[0]]
    args += ["--storage", storage, "--study", "shared", "--trials", "6", "--resume"]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    workers = []
    for log in logs:  # both at once on a new study, as two machines would start
        with open(log, "w") as out:
            workers.append(subprocess.Popen(args, env=env, stdout=out, stderr=out))
    for worker in workers:
        worker.wait(timeout=600)
    texts = [log.read_text() for log in logs]
    assert [w.returncode for w in workers] == [0, 0], [t[-2000:] for t in texts]
    assert all("secret" not in t for t in texts)  # the password is never printed

    (name,) = optuna.study.get_all_study_names(storage)
    trials = optuna.load_study(study_name=name, storage=storage).trials
    counted = [
        t
        for t in trials
        if t.state.is_finished() and not {"skipped", "duplicate_of"} & set(t.user_attrs)
    ]
    assert len(counted) == 6, [(t.number, t.state, t.user_attrs.get("skipped")) for t in trials]
    assert len({t.user_attrs["spec.hash"] for t in counted}) == 6  # no spec run twice
    assert len({t.user_attrs["worker"] for t in counted}) == 2  # both machines worked

    mlflow.set_tracking_uri(store)
    client = mlflow.MlflowClient()
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    (parent,) = [r for r in runs if r.data.tags["musiclust.kind"] == "search"]
    trial_runs = [r for r in runs if r.data.tags["musiclust.kind"] == "trial"]
    assert {r.info.run_id for r in trial_runs} == {t.user_attrs["mlflow.run_id"] for t in counted}
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {parent.info.run_id}
    assert not [r for r in runs if r.info.status == "RUNNING"]
    versions = client.search_model_versions("name='musiclust-demo'")
    assert len(versions) == 1  # one best model version for the study
    assert versions[0].tags["study.name"] == name


def test_an_unreachable_postgresql_fails_in_seconds_and_creates_nothing(tmp_path):
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    url = f"postgresql://me:secret@127.0.0.1:{port}/optuna"
    musiclust = [sys.executable, "-m", "musiclust"]
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    studies = f"sqlite:///{tmp_path / 'optuna.db'}"
    search = [*musiclust, "search", "--trials", "2", "--set", SMALL_DEMO[0], "--storage"]
    cases = [
        ([*search, url], {"MLFLOW_TRACKING_URI": store}),  # the study's storage
        ([*musiclust, "run", "--set", SMALL_DEMO[0]], {"MLFLOW_TRACKING_URI": url}),
        ([*search, studies], {"MLFLOW_TRACKING_URI": url}),  # the tracking store
    ]
    for command, env in cases:
        started = time.monotonic()
        done = subprocess.run(
            command, env={**os.environ, **env}, capture_output=True, text=True, cwd=tmp_path
        )
        assert time.monotonic() - started < 30  # start-up included; the server's part is 5 s
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "me:***@127.0.0.1" in lines[0], done.stderr[-1500:]
        assert "secret" not in done.stderr and "Traceback" not in done.stderr
    import optuna

    assert not optuna.study.get_all_study_names(studies)  # no empty study left behind
