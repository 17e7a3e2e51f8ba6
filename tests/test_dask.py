"""Extraction on Dask (`--set audio.scheduler=local` or an address): a real LocalCluster of two
worker processes on real audio files, the same arrays as in-process extraction, workers killed
by a real SIGKILL, and a scheduler that does not answer."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.distributed", reason="the dask extra installs dask.distributed")

from musiclust.audio import AudioSettings
from musiclust.cache import FeatureCache
from musiclust.extraction import extract
from musiclust.registry import get_registry


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    registry = get_registry()
    demo = registry.get("source", "demo").cls(n_per_style=3, duration=2.0)
    demo.root = tmp_path_factory.mktemp("demo")
    return demo.load()


def _features(*names):
    registry = get_registry()
    return [registry.get("feature", n).cls() for n in names]


def _analyse_or_die(task, marks: str, once: str, always: str):
    """The extraction's own work on one clip, in a worker that is SIGKILLed first: once for
    the clip ``once`` (marked by a file), every time for the clip ``always``."""
    from musiclust.extraction import _work_one_thread

    mark = Path(marks) / "killed"
    if task.path.endswith(always) or (task.path.endswith(once) and not mark.exists()):
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return _work_one_thread(task)


def test_extraction_on_a_local_dask_cluster_equals_in_process(clips, tmp_path):
    features = _features("audio_stats", "mfcc_stats")
    here = extract(clips, features, AudioSettings(), cache=FeatureCache(enabled=False), n_jobs=1)
    cache = FeatureCache(tmp_path / "cache")
    there = extract(clips, features, AudioSettings(), cache=cache, scheduler="local")
    assert [c.id for c in there.dataset.clips] == [c.id for c in here.dataset.clips]
    assert list(there.blocks) == ["audio_stats", "mfcc_stats"]
    for name, block in here.blocks.items():  # bit-equal: one thread everywhere
        np.testing.assert_array_equal(there.blocks[name].values, block.values)
    # the arrays came back and were cached here: a second pass needs no worker at all
    again = extract(clips, features, AudioSettings(), cache=cache, scheduler="tcp://nowhere:1")
    np.testing.assert_array_equal(
        again.blocks["mfcc_stats"].values, here.blocks["mfcc_stats"].values
    )


def test_a_worker_killed_mid_way_loses_only_the_clip_that_kills_it(clips, tmp_path):
    import functools

    import cloudpickle
    import dask
    from tqdm import tqdm

    from musiclust.distributed import run_on_dask
    from musiclust.extraction import _one_thread, _Task, _work_one_thread
    from musiclust.segments import Framing

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    features = tuple(_features("audio_stats"))
    tasks = [
        _Task(i, str(c.audio), AudioSettings(), Framing(), features)
        for i, c in enumerate(clips.clips)
    ]
    once, always = Path(tasks[2].path).name, Path(tasks[5].path).name
    work = functools.partial(_analyse_or_die, marks=str(tmp_path), once=once, always=always)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # fail fast
        got = dict(run_on_dask(tasks, "local", work, tqdm(disable=True), setup=_one_thread))
    assert (tmp_path / "killed").exists()  # a worker was killed, and its clip computed again
    assert sorted(t.index for t in got) == list(range(len(tasks)))
    assert got[tasks[5]].startswith("lost on Dask (KilledWorker")  # skipped with the reason
    for task in tasks[:5] + tasks[6:]:
        want = _work_one_thread(task)
        np.testing.assert_array_equal(got[task]["audio_stats"], want["audio_stats"])


def test_a_scheduler_that_does_not_answer_is_one_line_in_seconds(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**os.environ, "MUSICLUST_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "musiclust", "run", "--features", "audio_stats", "--set"]
    command += [f"demo.n_per_style=2 demo.duration=2 audio.scheduler=tcp://127.0.0.1:{port}"]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert time.monotonic() - started < 30  # start-up included; the scheduler's part is 5 s
    assert done.returncode != 0 and "Traceback" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert f"audio.scheduler tcp://127.0.0.1:{port}: no Dask scheduler answers" in line
