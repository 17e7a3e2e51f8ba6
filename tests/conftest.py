"""Shared fixtures: an isolated MLflow store per test, real plugin packages, generated audio."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from pathlib import Path

import pytest

from musiclust.registry import reset_registry

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PLUGIN_PACKAGES = Path(__file__).parent / "plugin_packages"
#: A small demo for fast runs: 4 songs x 5 styles x 2 s.
SMALL_DEMO = ("demo.n_per_style=4 demo.duration=2",)
#: The default run's audio feature: the pretrained embedding where its weights are installed.
DEFAULT_AUDIO = "musicnn" if importlib.util.find_spec("musicnn") else "audio_stats"
#: The default run's features on audio with lyrics: the lyrics beside it, fused.
DEFAULT_FEATURES = f"{DEFAULT_AUDIO},tfidf"


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the session (content-addressed, so tests cannot disturb each
    other); tests about caching use their own."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite store as MLflow creates it, made once for the session.

    Creating a store runs MLflow's migrations: 1,084 fdatasync calls (counted with strace),
    1 s on this machine's disk and more on a slower one. A CI simulation of the suite took
    34 minutes while each test made its own, 19.5 minutes since. Each test gets a copy
    (`copy_store`, 40 ms); the tests about creating a store are marked `fresh_store`."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("store-template")
    with chdir(folder):  # in its own folder, whichever test asks first
        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


def copy_store(template: Path, target: Path) -> None:
    """Put a copy of the empty store at ``target``, its Default experiment's artifacts in
    ``mlruns/0`` beside it as when MLflow creates the store there (an absolute path that
    MLflow writes at creation, from the working folder: ``target``'s here)."""
    import sqlite3

    shutil.copyfile(template, target)
    with sqlite3.connect(target) as db:
        db.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (str(target.parent / "mlruns" / "0"),),
        )
    db.close()


@pytest.fixture(autouse=True)
def isolated(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shared_cache: Path,
):
    """Each test runs in its own folder with its own sqlite MLflow store and a fresh registry.

    The store is a copy of an empty one (`store_template`) unless the test is marked
    `fresh_store`: then it is not there until what the test runs creates it."""
    monkeypatch.chdir(tmp_path)
    try:
        import mlflow
    except ImportError:  # a GPU machine with torch alone runs tests/test_cuda.py only
        yield
        return

    if request.node.get_closest_marker("fresh_store") is None:
        copy_store(request.getfixturevalue("store_template"), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # process-global in MLflow: pin it for this test
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in (
        "MLFLOW_RUN_ID",
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "MUSICLUST_LOAD_PLUGINS",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_registry()
    # A command run in-process (CliRunner) points the musiclust logger at its own stderr handler
    # and stops propagation, which would hide later tests' records from caplog: put it back.
    logger = logging.getLogger("musiclust")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
    reset_registry()
    while mlflow.active_run():  # a test that failed mid-run must not leak it to the next
        mlflow.end_run("FAILED")


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test plugin distributions, pip-installed (with their entry points) into a folder."""
    target = tmp_path_factory.mktemp("site-packages")
    sources = tmp_path_factory.mktemp("plugin-src")
    for name in ("good", "misbehaving"):
        pip_install(PLUGIN_PACKAGES / name, sources / name, target)
    return target


def pip_install(package: Path, copy: Path, target: Path) -> None:
    """pip-install a package folder (copied first: builds write into the source tree) into
    ``target``, offline, with its entry points."""
    shutil.copytree(package, copy)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        capture_output=True,
    )


def visible(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make packages installed in ``site`` visible, in this process and in subprocesses."""
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p),
    )
    importlib.invalidate_caches()
    reset_registry()
    return site


@pytest.fixture
def with_plugins(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the installed test plugins visible, in this process and in subprocesses."""
    return visible(plugin_site, monkeypatch)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin guide's example package (examples/musiclust-rhythm), pip-installed."""
    target = tmp_path_factory.mktemp("example-site")
    example = ROOT / "examples" / "musiclust-rhythm"
    pip_install(example, tmp_path_factory.mktemp("example-src") / "musiclust-rhythm", target)
    return target


@pytest.fixture
def with_example(example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the example package visible, in this process and in subprocesses."""
    return visible(example_site, monkeypatch)


@pytest.fixture(scope="session")
def gtzan_mini() -> Path:
    path = SHARED_DATA / "gtzan-mini"
    if not (path / "genres_original").is_dir():
        pytest.skip("../shared/data/gtzan-mini is absent")
    return path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on (now)."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return free.getsockname()[1]


@contextmanager
def serving(command: list[str], health: str, log: Path, cwd: Path | None = None) -> Iterator[None]:
    """Run a server (in its own session) until the block ends, once ``health`` answers."""
    import requests

    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=cwd, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(health, timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        else:
            pytest.fail(f"{shlex.join(command)} did not start: {log.read_text()[-2000:]}")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its workers
        process.wait(timeout=30)


@pytest.fixture
def mlflow_server(tmp_path: Path):
    """A real `mlflow server` on a free loopback port (sqlite backend, artifacts proxied to a
    local folder): yields its URI and its folder."""
    port = free_port()
    store = tmp_path / "server"
    store.mkdir()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(store / "artifacts")]
    uri = f"http://127.0.0.1:{port}"
    with serving(command, f"{uri}/health", store / "server.log"):
        yield uri, store
