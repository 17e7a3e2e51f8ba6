"""Budgets for large collections: quadratic steps on samples, refusals before work."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from test_clusterers import clusterer

from musiclust import scale
from musiclust.errors import SpecError
from musiclust.objectives import Inputs, LabelFree, Stability


@pytest.fixture(scope="module")
def many():
    Z, truth = make_blobs(n_samples=3000, centers=5, cluster_std=0.6, random_state=1)
    return Z, truth


@pytest.mark.parametrize("name", ["agglomerative", "spectral", "dbscan", "hdbscan"])
def test_a_quadratic_clusterer_fits_a_sample_and_extends_it_to_every_row(many, name):
    Z, truth = many
    k = {"n_clusters": 5} if name in ("agglomerative", "spectral") else {}
    c = clusterer(name, **k, fit_rows=400)
    labels = c.fit_predict(Z)
    assert labels.shape == (3000,)
    assert adjusted_rand_score(truth, labels) > 0.95
    assert any("sample of 400 of 3,000 rows" in note for note in c.notes_)
    whole = clusterer(name, **k, fit_rows=0).fit_predict(Z)
    assert not getattr(clusterer(name, **k, fit_rows=0), "notes_", [])
    # density clusterers read their density off the sample, so their noise differs a little
    assert adjusted_rand_score(whole, labels) > (0.95 if k else 0.9)


def test_k_is_still_chosen_without_labels_when_fitting_a_sample(many):
    Z, truth = many
    c = clusterer("agglomerative", fit_rows=500, criterion="calinski_harabasz")
    labels = c.fit_predict(Z)
    assert c.selection_["chosen"] == 5
    assert adjusted_rand_score(truth, labels) > 0.95


def test_a_quadratic_fit_too_large_for_memory_is_refused_naming_the_way_out():
    c = clusterer("agglomerative", linkage="average", fit_rows=0)
    with pytest.raises(SpecError) as error:
        c.check_rows(10_000_000)  # 400 TB of distances
    text = str(error.value)
    assert "10,000,000 rows" in text and "GiB" in text and "fit_rows" in text
    assert "kmeans" in text
    clusterer("agglomerative").check_rows(10_000_000)  # a sample of 5,000: fine
    with pytest.raises(SpecError, match="spectral"):
        clusterer("spectral", fit_rows=0).check_rows(10_000_000)


def test_kmeans_turns_to_mini_batches_beyond_its_limit(many):
    Z, truth = many
    c = clusterer("kmeans", n_clusters=5, minibatch_rows=1000)
    labels = c.fit_predict(Z)
    assert "mini-batch" in c.notes_[0]
    assert adjusted_rand_score(truth, labels) > 0.95
    assert (c.predict(Z) == labels).mean() > 0.99


def test_a_stratified_sample_keeps_every_cluster_and_the_silhouette():
    from sklearn.metrics import silhouette_score

    Z, truth = make_blobs(n_samples=12000, centers=4, cluster_std=2.5, random_state=0)
    full = silhouette_score(Z[:6000], truth[:6000])
    assert abs(scale.silhouette(Z[:6000], truth[:6000], seed=0) - full) < 0.01
    assert scale.silhouette(Z[:100], truth[:100], seed=0) == silhouette_score(Z[:100], truth[:100])
    truth[:3] = 9  # a cluster of three rows keeps at least two of them
    rows = scale.stratified_sample(truth, 2000, seed=0)
    assert len(rows) <= 2000 + 4
    kept = np.bincount(truth[rows], minlength=10)
    assert kept[9] == 2
    share = np.bincount(truth, minlength=10)[:4] / len(truth)
    assert np.allclose(kept[:4] / len(rows), share, atol=0.01)


def test_stability_refits_a_bounded_subset_of_a_large_collection():
    n = 3 * scale.STABILITY_ROWS
    clusters = np.arange(n) % 4
    sizes = []

    def refit(idx, draw):
        sizes.append(len(idx))
        assert len(set(idx.tolist())) == len(idx)
        return clusters[idx]

    value = Stability(0).score(Inputs(clusters, None, None, refit)).value
    assert value == pytest.approx(1.0)
    assert sizes and set(sizes) == {round(0.8 * scale.STABILITY_ROWS)}


def test_the_objective_null_is_computed_once_per_k_on_bounded_rows():
    rng = np.random.default_rng(0)
    R = rng.standard_normal((6000, 8))
    clusters = (R[:, 0] > 0).astype(int)
    objective = LabelFree(0)
    gap, silhouette = objective.reference_gap(Inputs(clusters, R, np.ones(6000, bool), None))
    assert 2 in objective._null and objective._shape.shape == (8, 8)
    assert -1 < gap < silhouette < 1


def test_a_quadratic_run_on_a_huge_collection_is_refused_before_any_work(tmp_path):
    import subprocess
    import sys

    import mlflow

    rows = 300_000  # 720 GB of distances for average linkage on every row: above any machine
    table = tmp_path / "huge.csv"
    words = (["love", "night", "road", "rain", "fire", "dance", "heart", "city"] * 2)[:9]
    with open(table, "w") as out:
        out.write("id,lyrics\n")
        out.writelines(f"s{i},{' '.join(words[i % 7 : i % 7 + 2])}\n" for i in range(rows))
    args = ["run", "--data", str(table), "--clusterer", "agglomerative"]
    args += ["--set", "agglomerative.linkage=average agglomerative.fit_rows=0"]
    done = subprocess.run(
        [sys.executable, "-m", "musiclust", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()
    assert len(last) == 1, done.stderr[-2000:]
    assert "agglomerative with fit_rows=0 on 300,000 rows needs about" in last[0]
    assert "kmeans" in last[0]
    store = tmp_path / "mlflow.db"
    if store.exists():  # no run was started for it
        client = mlflow.MlflowClient(f"sqlite:///{store}")
        ids = [e.experiment_id for e in client.search_experiments()]
        assert not client.search_runs(ids)


def test_the_scale_benchmark_runs_every_stage(tmp_path):
    """docs/scale.md's benchmark, at one small size (its figures are in benchmarks/results)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "scale.py"
    done = subprocess.run(
        [sys.executable, str(script), "--one", "200"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.split("ROWS ", 1)[1])
    stages = {r["stage"] for r in rows}
    assert {"fusion", "encoder pca", "metrics", "search objective (1 trial)"} <= stages
    assert {"fit agglomerative (K label_free)", "report tsne", "mlflow logging"} <= stages
    assert {"fit hdbscan", "encoder vae, 1 epoch", "encoder conv_vae, 1 epoch"} <= stages
    assert all(r["seconds"] >= 0 and r["peak_mib"] > 0 for r in rows)
    assert next(r for r in rows if r["stage"] == "metrics")["genre.ami"] > 0.9


# -- large arrays on disk ----------------------------------------------------------------------
def test_a_large_array_is_a_memory_mapped_file_that_leaves_nothing_behind(monkeypatch, tmp_path):
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path))
    small = scale.scratch_array((10, 39, 130))
    assert small.base is None and not small.any()  # below the limit: plain memory
    monkeypatch.setattr(scale, "MEMMAP_BYTES", 1000)
    large = scale.scratch_array((10, 39, 130))
    assert isinstance(large.base, np.memmap) and type(large) is np.ndarray
    assert large.shape == (10, 39, 130) and large.dtype == np.float32 and not large.any()
    large[3] = 2.0
    assert large.sum() == 2.0 * 39 * 130
    assert list((tmp_path / "scratch").iterdir()) == []  # unlinked at once: no leftover file


def _fused(monkeypatch, limit: int):
    """A 2-D block and a vector block through fusion, the 2-D block beyond ``limit`` bytes."""
    from musiclust.fusion import Fusion

    monkeypatch.setattr(scale, "MEMMAP_BYTES", limit)
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(60, 39, 130)) * rng.uniform(0.1, 5, size=(1, 39, 1)) + 3
    values = {"stack39": grid.astype(np.float32), "audio_stats": rng.normal(size=(60, 12))}
    masks = {"stack39": rng.random(60) > 0.1, "audio_stats": np.ones(60, bool)}
    return Fusion().fit_transform(values, masks)


@pytest.mark.parametrize("name", ["conv_vae", "hybrid_vae", "vae"])
def test_a_trained_encoder_reads_a_memory_mapped_block_to_the_same_latent(
    monkeypatch, tmp_path, name
):
    """Fusion writes a large 2-D block to a scratch file; the encoder trains from it batch by
    batch (vae from the flattened block, mapped too), and every value (fused input, weights,
    latent) equals the in-memory run's."""
    from encoder_inputs import make_encoder

    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(tmp_path))
    in_memory = _fused(monkeypatch, scale.MEMMAP_BYTES)
    mapped = _fused(monkeypatch, 0)
    assert in_memory.blocks["stack39"].base is None
    assert isinstance(mapped.blocks["stack39"].base, np.memmap)
    assert np.array_equal(in_memory.blocks["stack39"], mapped.blocks["stack39"])
    settings = {"epochs": 3, "batch_size": 16, "latent_dim": 4}
    latents = [make_encoder(name, **settings).fit_transform(X) for X in (in_memory, mapped)]
    assert latents[0].shape == (60, 4)
    assert np.array_equal(latents[0], latents[1])


def test_rows_taken_from_numpy_are_scaled_as_a_scaled_copy_would_be():
    import torch

    from musiclust.plugins.encoders.nn.train import Batch

    rows = np.random.default_rng(1).normal(size=(50, 3, 7)).astype(np.float32)
    factor = 1 / np.sqrt(np.float64(2.7))
    copy = Batch({"audio": torch.as_tensor((rows * factor).astype(np.float32))})
    lazy = Batch({"audio": rows}, scales={"audio": factor})
    index = torch.tensor([4, 0, 49, 4])
    assert torch.equal(lazy.take(index).inputs["audio"], copy.take(index).inputs["audio"])
    assert torch.equal(lazy.to(torch.device("cpu")).inputs["audio"], copy.inputs["audio"])
    assert lazy.nbytes == rows.nbytes and lazy.device.type == "cpu"


def test_a_large_collection_leaves_trained_encoders_out_of_the_default_search_space():
    from musiclust.defaults import SEARCH_TRAINED_CLIPS
    from musiclust.registry import get_registry
    from musiclust.space import SearchSpace

    def space(n: int, encoders=None) -> SearchSpace:
        args = {"clusterers": ["kmeans"], "features": None, "sets": []}
        modalities = {"audio", "lyrics"}
        return SearchSpace.build(
            get_registry(), {}, encoders, **args, modalities=modalities, n_items=n
        )

    small, large = space(SEARCH_TRAINED_CLIPS), space(SEARCH_TRAINED_CLIPS + 1)
    assert {"conv_vae", "vae", "pca"} <= set(small.encoders)
    assert {"identity", "pca"} <= set(large.encoders)
    assert not {"ae", "vae", "vade", "conv_vae", "hybrid_vae"} & set(large.encoders)
    (note,) = [n for n in large.notes if "trained encoders" in n]
    assert "conv_vae" in note and "--encoders" in note and f"{SEARCH_TRAINED_CLIPS + 1:,}" in note
    chosen = space(SEARCH_TRAINED_CLIPS + 1, ["pca", "vae"])  # named: searched all the same
    assert chosen.encoders == ["pca", "vae"]
    assert not any("trained encoders" in n for n in chosen.notes)


def test_a_whole_conv_vae_run_works_with_every_large_array_memory_mapped(monkeypatch):
    """Extraction, fusion and training each map a scratch file (the limit lowered to 0): the
    run finishes, logs and loads its model like any other, and leaves no file behind."""
    import mlflow
    from conftest import SMALL_DEMO

    from musiclust import pipeline
    from musiclust.cache import cache_root
    from musiclust.registry import get_registry
    from musiclust.spec import build_spec

    made, memmap = [], np.memmap

    class Counted(memmap):  # numpy's own memmap, counted
        def __new__(cls, *args, **kwargs):
            made.append(kwargs.get("shape"))
            return memmap.__new__(memmap, *args, **kwargs)

    monkeypatch.setattr(np, "memmap", Counted)
    monkeypatch.setattr(scale, "MEMMAP_BYTES", 0)
    sets = [*SMALL_DEMO, "conv_vae.epochs=2 conv_vae.latent_dim=4"]
    spec = build_spec(get_registry(), encoder="conv_vae", features="stack39", sets=sets)
    result = pipeline.run(spec, get_registry(), progress=False)
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["encoder.epochs_run"] == 2
    assert mlflow.pyfunc.load_model(f"runs:/{result.run_id}/model") is not None
    assert any(shape and shape[1:] == (39, 130) for shape in made)  # the 2-D block was mapped
    assert not list((cache_root() / "scratch").iterdir())  # and no file is left


def test_an_unwritable_scratch_folder_keeps_the_array_in_memory_and_says_so(
    monkeypatch, tmp_path, caplog
):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MUSICLUST_CACHE_DIR", str(blocked))
    monkeypatch.setattr(scale, "MEMMAP_BYTES", 1000)
    with caplog.at_level("WARNING", logger="musiclust"):
        array = scale.scratch_array((10, 39, 130))
    assert array.base is None and array.shape == (10, 39, 130) and not array.any()
    assert "cannot be written" in caplog.text and "in memory" in caplog.text


def test_flattened_blocks_are_built_in_steps_to_the_values_of_one_concatenation(monkeypatch):
    """``EncoderInput.flat`` fills one (memory-mapped) array in blocks of rows; every value and
    the dtype equal scaling each whole block and concatenating, across the row steps."""
    from musiclust.components import _FLAT_ROWS, EncoderInput

    rng = np.random.default_rng(2)
    n = _FLAT_ROWS + 77
    X = EncoderInput(
        vectors=rng.normal(size=(n, 6)),
        blocks={"mel": rng.normal(size=(n, 4, 5)).astype(np.float32)},
        weights={"mel": 0.7},
    )
    X.blocks["vectors"] = X.vectors  # as fusion lays them out: flat() takes them once
    whole = np.concatenate([X.vectors, X.blocks["mel"].reshape(n, -1) * (0.7 / np.sqrt(20))], 1)
    monkeypatch.setattr(scale, "MEMMAP_BYTES", 0)
    flat = X.flat()
    assert isinstance(flat.base, np.memmap)
    assert flat.dtype == whole.dtype and np.array_equal(flat, whole)
    mapped = EncoderInput(vectors=None, blocks={"mel": X.blocks["mel"]}).flat()
    assert mapped.dtype == np.float64  # float32 rows times a float64 scale, as before
    assert np.array_equal(mapped, X.blocks["mel"].reshape(n, -1) * (1.0 / np.sqrt(20)))


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_streams_a_large_input_to_the_latent_of_pca_in_memory(monkeypatch, whiten):
    """Past the scratch limit PCA reads its (memory-mapped) input in blocks of rows and
    never centres a copy of it; on data with a clear spectrum its latent is scikit-learn's."""
    from musiclust.components import EncoderInput
    from musiclust.plugins.encoders import pca

    rng = np.random.default_rng(3)
    n = 2 * pca._ROWS + 300  # three blocks, the last one short
    factors = rng.normal(size=(n, 6)) * np.array([6, 5, 4, 3, 2, 1.5])
    grid = factors @ rng.normal(size=(6, 4 * 50)) + 0.1 * rng.normal(size=(n, 4 * 50)) + 2
    X = EncoderInput(vectors=None, blocks={"mel": grid.reshape(n, 4, 50).astype(np.float32)})

    def fitted() -> pca.PCAEncoder:
        return pca.PCAEncoder(n_components=4, whiten=whiten).fit(X)

    in_memory = fitted()
    monkeypatch.setattr(scale, "MEMMAP_BYTES", 0)
    streamed = fitted()
    assert isinstance(streamed.model_, pca.StreamedPCA) and not in_memory.notes_
    assert "streamed" in streamed.notes_[0]
    expected, got = in_memory.transform(X), streamed.transform(X)
    assert got.shape == (n, 4)
    assert np.allclose(got, expected, atol=1e-6 * np.abs(expected).max())
    assert streamed.diagnostics() == pytest.approx(in_memory.diagnostics(), rel=1e-9)


def test_a_pca_run_on_a_flattened_mapped_block_streams_and_predicts_its_own_songs(monkeypatch):
    """A whole run (stack39 flattened, every large array mapped): PCA streams, says so in the
    run's notes, and the fitted pipeline puts known songs back in their clusters."""
    import mlflow
    from conftest import SMALL_DEMO

    from musiclust import MusicClustering

    monkeypatch.setattr(scale, "MEMMAP_BYTES", 0)
    small = dict(p.split("=") for p in SMALL_DEMO[0].split())
    params = {**small, "kmeans.n_clusters": 4}
    model = MusicClustering("stack39", "pca", "kmeans", params, reports=[])
    model.fit()
    assert mlflow.get_run(model.run_id_).info.status == "FINISHED"
    assert any("pca: randomized PCA streamed" in note for note in model.notes_)
    songs = model.clips_[:5]
    assert model.predict(audio=[s.audio for s in songs]).tolist() == model.labels_[:5].tolist()
