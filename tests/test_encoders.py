"""The VAE family: shapes, losses, schedules, early stopping, the published architecture, and
whole runs that log training to a real MLflow store."""

import copy
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMALL_DEMO
from encoder_inputs import ENCODERS, make_encoder, synthetic_input
from mlflow.tracking import MlflowClient

from musiclust import EncoderInput, pipeline
from musiclust.errors import DataError, SpecError
from musiclust.plugins.encoders.nn import losses
from musiclust.plugins.encoders.nn.nets import BranchSpec, BranchVAE
from musiclust.plugins.encoders.nn.train import Batch, TrainConfig, beta_at, split_groups, train
from musiclust.registry import get_registry
from musiclust.spec import build_spec
from musiclust.specfile import SHIPPED


@pytest.mark.parametrize("name, params", ENCODERS)
def test_every_encoder_gives_one_finite_latent_row_per_input_row(name, params):
    X = synthetic_input()
    encoder = make_encoder(name, latent_dim=5, **params).fit(X)
    Z = encoder.transform(X)
    assert Z.shape == (len(X), 5)
    assert np.isfinite(Z).all()
    assert len(encoder.history()) >= 1 and "train.loss" in encoder.history()[0]
    diagnostics = encoder.diagnostics()
    assert 0 <= diagnostics["active_units"] <= 5
    assert np.array_equal(encoder.transform(X), Z)  # the posterior mean: no sampling
    if name == "vade":
        clusters = encoder.cluster_latent(Z)
        assert clusters.shape == (len(X),) and set(clusters) <= {0, 1}


def test_the_published_hybrid_architecture_has_1256897_parameters():
    n = 8
    rng = np.random.default_rng(0)
    X = EncoderInput(
        rng.normal(size=(n, 64)).astype(np.float32),
        {
            "tfidf": rng.normal(size=(n, 64)).astype(np.float32),
            "stack39": rng.normal(size=(n, 39, 130)).astype(np.float32),
        },
        {"tfidf": np.ones(n, bool), "stack39": np.ones(n, bool)},
    )
    encoder = make_encoder("hybrid_vae", preset="published", epochs=1, val_fraction=0.0).fit(X)
    assert encoder.n_parameters_ == 1_256_897
    model = encoder.torch_module()
    assert model.trunks["audio"].map_shape == (128, 5, 17)  # 10,880 audio features
    assert model.mu.in_features == 10_912
    audio = model.decode(torch.zeros(2, 32))["audio"]
    assert tuple(audio.shape) == (2, 39, 130)  # 40 x 136, resized


@pytest.mark.parametrize("name", ["vae", "hybrid_vae"])
def test_fit_transform_trains_once_and_gives_what_transform_gives(name):
    """fit_transform reads its training rows once (a scratch file past 256 MiB) and gives
    the latent that transform gives afterwards; hybrid_vae says when it had no lyrics."""
    X = synthetic_input()
    encoder = make_encoder(name)
    built = []  # each call of branches() builds the model's input anew
    branches = encoder.branches
    encoder.branches = lambda X: built.append(1) or branches(X)
    latent = encoder.fit_transform(X)
    assert len(built) == 1
    assert np.allclose(latent, encoder.transform(X), atol=1e-6)
    assert np.allclose(latent, make_encoder(name).fit(X).transform(X), atol=1e-6)
    audio_only = EncoderInput(
        None, {"stack39": X.blocks["stack39"]}, {"stack39": X.masks["stack39"]}
    )
    alone = [n for n in make_encoder(name).fit(audio_only).notes_ if "audio branch alone" in n]
    assert len(alone) == (name == "hybrid_vae")
    assert not [n for n in encoder.notes_ if "audio branch alone" in n]


PRECISIONS = ("float32", "bfloat16")


def test_bfloat16_mixed_precision_trains_and_keeps_float32_weights_and_latent():
    """precision=bfloat16 computes the layers in bfloat16 (autocast): the losses differ from
    float32's in their low digits, training still converges, and what is kept is float32."""
    X = synthetic_input(with_matrix=False)
    runs = {p: make_encoder("vae", precision=p, epochs=12, patience=12) for p in PRECISIONS}
    latents = {p: e.fit_transform(X) for p, e in runs.items()}
    half, full = ([r["train.loss"] for r in runs[p].history()] for p in PRECISIONS[::-1])
    assert half != full and np.allclose(half, full, rtol=0.05)  # autocast ran, same course
    assert half[-1] < 0.7 * half[0]
    # (the latent is float64 whatever the precision: posterior casts it; not asserted here)
    assert latents["bfloat16"].shape == latents["float32"].shape
    assert np.isfinite(latents["bfloat16"]).all()
    assert {p.dtype for p in runs["bfloat16"].torch_module().parameters()} == {torch.float32}


def test_losses_are_summed_per_sample_and_published_mode_averages():
    spec = [BranchSpec("x", "mlp", (4,))]
    x = torch.zeros(2, 4)
    recon = torch.ones(2, 4)
    summed = losses.reconstruction({"x": recon}, {"x": x}, {}, spec, "sum")["x"]
    mean = losses.reconstruction({"x": recon}, {"x": x}, {}, spec, "mean")["x"]
    assert summed.tolist() == [2.0, 2.0]  # half the squared error, summed over 4 inputs
    assert mean.tolist() == [1.0, 1.0]
    mask = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    masked = losses.reconstruction({"x": recon}, {"x": x}, {"x": mask}, spec, "sum")["x"]
    assert masked.tolist() == [1.0, 0.0]  # missing inputs (no lyrics) do not count

    kl = losses.kl_per_dim(torch.zeros(3, 4), torch.zeros(3, 4))
    assert torch.allclose(kl, torch.zeros(3, 4))
    kl = torch.tensor([[0.0, 2.0], [0.0, 4.0]])
    assert losses.kl_term(kl, "sum", 0.0).item() == 3.0  # summed over dimensions
    assert losses.kl_term(kl, "sum", 0.5).item() == 3.5  # the quiet dimension held at 0.5
    assert losses.kl_term(kl, "mean", 0.0).item() == 1.5


def test_beta_schedules():
    linear = TrainConfig(beta=2.0, schedule="linear", warmup_epochs=4, epochs=10)
    assert [beta_at(e, linear) for e in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    cyclical = TrainConfig(beta=1.0, schedule="cyclical", cycles=2, epochs=8)
    values = [beta_at(e, cyclical) for e in range(8)]
    assert values == [0.5, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0]
    assert beta_at(0, TrainConfig(beta=0.3, schedule="constant")) == 0.3


def test_validation_split_keeps_the_windows_of_a_clip_together():
    groups = np.repeat(np.arange(20), 5)  # 20 clips of 5 windows
    train_rows, val_rows = split_groups(groups, 0.2, seed=0)
    assert len(val_rows) == 20
    assert not set(groups[train_rows]) & set(groups[val_rows])
    assert len(split_groups(np.arange(5), 0.2, 0)[1]) == 0  # too few clips: no split


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(1)
    data = Batch({"x": torch.as_tensor(rng.normal(size=(40, 50)).astype(np.float32))})
    model = BranchVAE([BranchSpec("x", "mlp", (50,), (256,), 0.0)], 8, variational=False)
    snapshots = {}

    def loss_fn(net, batch, beta):
        recon, _, _, _ = net(batch.inputs)
        total = losses.reconstruction(recon, batch.inputs, {}, net.branches, "sum")["x"].mean()
        return total, {"loss": float(total.detach())}, None

    def keep(epoch, row):
        snapshots[epoch] = copy.deepcopy(model.state_dict())

    cfg = TrainConfig(epochs=300, lr=3e-3, patience=5, schedule="constant", val_fraction=0.25)
    result = train(model, data, loss_fn, cfg, on_epoch=keep)
    val = [h["val.loss"] for h in result.history]
    assert result.stopped_early  # noise: validation gets worse while training improves
    assert result.best_epoch == int(np.argmin(val)) < len(val) - 1
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[result.best_epoch][key]), key


def test_training_is_reproducible_with_a_seed():
    X = synthetic_input(with_matrix=False)
    first = make_encoder("vae", deterministic=True).fit(X).transform(X)
    second = make_encoder("vae", deterministic=True).fit(X).transform(X)
    assert np.array_equal(first, second)
    other = make_encoder("vae")
    other.random_state = 1
    assert not np.array_equal(first, other.fit(X).transform(X))


@pytest.mark.shared_data
def test_a_short_real_training_on_gtzan_features_lowers_the_loss(gtzan_mini):
    from musiclust.audio import AudioSettings
    from musiclust.chain import Chain
    from musiclust.extraction import extract
    from musiclust.segments import Framing
    from musiclust.spec import instantiate

    registry = get_registry()
    spec = build_spec(
        registry,
        data=str(gtzan_mini),
        encoder="conv_vae",
        sets=["conv_vae.epochs=8 conv_vae.beta_schedule=constant agglomerative.n_clusters=10"],
    )
    dataset = instantiate(registry, "source", spec.source, 0).load()
    features = [instantiate(registry, "feature", p, 0) for p in spec.features]
    framing = Framing.from_params(spec.segments)
    extraction = extract(dataset, features, AudioSettings(), framing=framing, progress=False)
    chain = Chain(
        features,
        instantiate(registry, "encoder", spec.encoder, 0),
        instantiate(registry, "clusterer", spec.clusterer, 0),
        AudioSettings(),
        framing,
    )
    latent, clusters = chain.fit_predict(extraction.blocks, len(extraction.dataset.clips))
    history = chain.encoder.history()
    assert len(history) == 8
    assert history[-1]["train.loss"] < 0.8 * history[0]["train.loss"]
    assert history[-1]["val.loss"] < history[0]["val.loss"]
    assert latent.shape == (len(extraction.dataset.clips), 16)
    assert len(set(clusters)) == 10


# -- whole runs ----------------------------------------------------------------------------
def run(**kw):
    registry = get_registry()
    return pipeline.run(build_spec(registry, **kw), registry, progress=False)


def test_a_vae_run_logs_training_per_epoch_plots_and_a_torch_model(tmp_path):
    result = run(
        encoder="vae",
        features="mfcc_stats",
        sets=[*SMALL_DEMO, "vae.epochs=12 vae.warmup_epochs=4 vae.latent_dim=4"],
    )
    client = MlflowClient()
    logged = client.get_run(result.run_id)
    epochs = int(logged.data.metrics["encoder.epochs_run"])
    for key in ("train.loss", "val.loss", "kl", "train.recon.features", "train.active_units"):
        steps = [m.step for m in client.get_metric_history(result.run_id, key)]
        assert steps == list(range(epochs)), key
    assert 0 <= logged.data.metrics["active_units"] <= 4
    assert logged.data.params["encoder.beta_schedule"] == "linear"
    assert logged.data.tags["collapsed"] in ("true", "false")

    names = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    for plot in ("training_curves.png", "latent_kl.png", "reconstructions_features.png"):
        assert f"plots/{plot}" in names

    import mlflow.pytorch

    logged_models = mlflow.search_logged_models(
        experiment_ids=[logged.info.experiment_id], output_format="list"
    )
    assert {m.name for m in logged_models} >= {"model", "encoder"}
    encoder_uri = next(m.model_uri for m in logged_models if m.name == "encoder")
    module = mlflow.pytorch.load_model(encoder_uri)
    assert isinstance(module, BranchVAE)  # the class is kept, with its methods
    # ... and travels with the model, at its import path (musiclust.plugins, see pyproject.toml)
    for uri in (encoder_uri, result.model_uri):
        code = Path(mlflow.artifacts.download_artifacts(uri)) / "code"
        assert sorted(p.name for p in code.iterdir()) == ["musiclust"]
        assert (code / "musiclust" / "plugins" / "encoders" / "nn" / "nets.py").is_file()
        assert not list(code.rglob("__pycache__"))
    (width,) = module.branches[0].shape
    mu, _ = module.encode({"features": torch.zeros(2, width)})
    assert mu.shape == (2, 4)

    # the whole chain (3 s windows, implied by vae) as a pyfunc model: same clusters again
    assert result.spec.segments["length"] == 3.0
    demo = get_registry().get("source", "demo").cls(n_per_style=4, duration=2.0).load()
    by_id = {c.id: c for c in demo.clips}
    frame = pd.DataFrame({"audio": [str(by_id[i].audio) for i in result.evaluation.ids]})
    predicted = mlflow.pyfunc.load_model(result.model_uri).predict(frame)
    assert predicted["cluster"].tolist() == result.evaluation.clusters.tolist()


def test_a_collapsed_vae_is_tagged_and_noted():
    result = run(
        encoder="vae",
        features="mfcc_stats",
        sets=[*SMALL_DEMO, "vae.epochs=150 vae.beta=200 vae.beta_schedule=constant vae.lr=0.01"],
    )
    assert result.metrics["active_units"] < 2
    assert mlflow.get_run(result.run_id).data.tags["collapsed"] == "true"
    assert any("collapsed: only" in note for note in result.notes)


def test_cvae_conditioned_on_the_evaluated_label_is_tagged_label_informed(caplog):
    result = run(
        encoder="cvae",
        features="mfcc_stats",
        sets=[*SMALL_DEMO, "cvae.condition=genre cvae.epochs=5"],
    )
    tags = mlflow.get_run(result.run_id).data.tags
    assert tags["label_informed"] == "true"
    assert tags["label_informed.columns"] == "genre"
    assert "LABEL-INFORMED" in caplog.text
    assert any("LABEL-INFORMED" in note for note in result.notes)


def test_cvae_needs_a_column_the_data_has():
    with pytest.raises(SpecError, match=r"cvae needs a column"):
        build_spec(get_registry(), encoder="cvae")
    with pytest.raises(DataError, match=r"'genra', which the data does not have.*genre"):
        run(encoder="cvae", features="mfcc_stats", sets=[*SMALL_DEMO, "cvae.condition=genra"])


def test_vade_clusters_through_from_encoder_and_from_encoder_needs_such_an_encoder():
    result = run(
        encoder="vade",
        clusterer="from_encoder",
        features="mfcc_stats",
        sets=[*SMALL_DEMO, "vade.epochs=5 vade.pretrain_epochs=5 vade.n_clusters=3"],
    )
    assert result.metrics["n_clusters"] <= 3
    assert result.metrics["encoder.n_clusters"] == 3
    with pytest.raises(SpecError, match=r"'pca' yields none.*vade"):
        build_spec(get_registry(), encoder="pca", clusterer="from_encoder")


def test_the_published_preset_implies_its_settings_unless_given():
    registry = get_registry()
    spec = build_spec(registry, encoder="hybrid_vae", sets=["hybrid_vae.preset=published"])
    tfidf = next(p for p in spec.features if p.name == "tfidf")
    assert (tfidf.params["max_features"], tfidf.params["stop_words"]) == (500, "english")
    assert (tfidf.params["min_df"], tfidf.params["dims"]) == (2, 64)
    assert spec.encoder.params["lr"] == 5e-4 and spec.encoder.params["epochs"] == 100
    assert spec.segments["length"] is None  # the published model saw the first 3 s only
    assert any("implied" in n for n in spec.notes)
    assert any("first 3.00 s of each clip" in n for n in spec.notes)
    given = build_spec(
        registry, encoder="hybrid_vae", sets=["hybrid_vae.preset=published hybrid_vae.lr=0.002"]
    )
    assert given.encoder.params["lr"] == 0.002
    default = build_spec(registry, encoder="hybrid_vae")
    assert default.segments["length"] == pytest.approx(2.9954, abs=1e-3)  # whole clips
    assert default.encoder.params["lr"] == 1e-3


def test_the_shipped_spec_by_name_is_the_published_model(tmp_path):
    """`--config published-hybrid` (a spec file shipped as data) resolves to exactly what the
    preset implies; a spec file of the user's own works the same way."""
    registry = get_registry()
    preset = build_spec(registry, encoder="hybrid_vae", sets=["hybrid_vae.preset=published"])
    shipped = build_spec(registry, config="published-hybrid")
    assert shipped.to_dict() == preset.to_dict()
    own = tmp_path / "mine.yaml"
    own.write_text((SHIPPED / "published-hybrid.yaml").read_text())
    assert build_spec(registry, config=str(own)).to_dict() == preset.to_dict()
    with pytest.raises(SpecError, match="config file not found: published-hybird") as caught:
        build_spec(registry, config="published-hybird")
    assert "published-hybrid" in caught.value.hint


def test_training_shows_its_epochs_and_losses_on_a_terminal(tmp_path):
    """On a terminal (a pty here), `musiclust run` shows a bar per trained encoder: epochs
    done of all, and the current losses (piped, tqdm shows nothing: `disable=None`)."""
    import fcntl
    import os
    import pty
    import struct
    import subprocess
    import sys
    import termios

    command = [sys.executable, "-m", "musiclust", "run", "--encoder", "ae", "--set"]
    command += [f"{SMALL_DEMO[0]} ae.epochs=4 ae.patience=50"]
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # a size
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the run ended and closed its side
            break
        if not data:
            break
        shown += data
    os.close(leader)
    assert process.wait(timeout=300) == 0, shown[-2000:]
    text = shown.decode(errors="replace")
    assert "ae: training" in text and "/4 [" in text and "train.loss=" in text
