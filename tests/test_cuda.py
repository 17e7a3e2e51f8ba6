"""The encoders' CUDA path. Needs numpy, torch and the installed plugins only (no MLflow), so
it runs as is on a GPU machine: ``python -m pytest tests/test_cuda.py``. Without CUDA, only the
clear error for ``device=cuda`` is checked."""

import numpy as np
import pytest
import torch
from encoder_inputs import ENCODERS, make_encoder, synthetic_input

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


@cuda
@pytest.mark.parametrize("name, params", ENCODERS)
def test_every_encoder_trains_on_cuda_and_comes_back_to_the_cpu(name, params):
    X = synthetic_input()
    encoder = make_encoder(name, device="cuda", epochs=30, patience=30, **params).fit(X)
    assert encoder.device_.startswith("cuda")
    assert {p.device.type for p in encoder.torch_module().parameters()} == {"cpu"}  # pickles
    losses = [row["train.loss"] for row in encoder.history()]
    assert losses[-1] < losses[0]  # it learned on the GPU
    Z = encoder.transform(X)
    assert Z.shape[0] == len(X) and np.isfinite(Z).all()


@cuda
def test_auto_picks_cuda_and_the_latent_separates_what_the_cpu_latent_separates():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    X = synthetic_input(with_matrix=False, missing_lyrics=False)
    truth = np.repeat([0, 1], len(X) // 2)
    scores = {}
    for device in ("auto", "cpu"):
        encoder = make_encoder("ae", device=device, epochs=60, patience=60).fit(X)
        assert encoder.device_.startswith("cuda" if device == "auto" else "cpu")
        clusters = KMeans(2, n_init=10, random_state=0).fit_predict(encoder.transform(X))
        scores[device] = adjusted_rand_score(truth, clusters)
    assert scores["cpu"] > 0.8 and scores["auto"] > 0.8, scores


@cuda
@pytest.mark.parametrize("name", ["conv_vae", "hybrid_vae"])
def test_bfloat16_on_cuda_learns_what_float32_learns(name):
    """Mixed precision (precision=bfloat16, for the GPU's tensor cores) on the two encoders
    the GPU target names: it learns, keeps float32 weights, and the latent separates the two
    groups as the float32 latent does."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    X = synthetic_input()
    truth = np.repeat([0, 1], len(X) // 2)
    scores = {}
    for precision in ("float32", "bfloat16"):
        encoder = make_encoder(name, device="cuda", precision=precision, epochs=30, patience=30)
        Z = encoder.fit_transform(X)
        losses = [row["train.loss"] for row in encoder.history()]
        assert losses[-1] < losses[0] and np.isfinite(Z).all()
        assert {p.dtype for p in encoder.torch_module().parameters()} == {torch.float32}
        clusters = KMeans(2, n_init=10, random_state=0).fit_predict(Z)
        scores[precision] = adjusted_rand_score(truth, clusters)
    assert scores["bfloat16"] >= scores["float32"] - 0.1, scores


def test_asking_for_cuda_without_it_is_one_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        make_encoder("vae", device="cuda").fit(synthetic_input(with_matrix=False))


@cuda
def test_musicnn_on_cuda_equals_the_reference_recorded_on_the_cpu():
    """The port on the GPU, on the recorded input patch of a real clip: the same taggram as
    the reference implementation (the weights travel as the musicnn package or a folder named
    by MUSICNN_WEIGHTS; the recorded values are tests/data/musicnn_reference.npz)."""
    import importlib.util
    import os
    from pathlib import Path

    from musiclust.plugins.features.nets import musicnn as nets

    spec = importlib.util.find_spec("musicnn")
    folder = os.environ.get("MUSICNN_WEIGHTS") or (
        next(iter(spec.submodule_search_locations)) if spec else None
    )
    if not folder or not (Path(folder) / "MSD_musicnn" / ".index").is_file():
        pytest.skip("the musicnn weights are not here")
    reference = np.load(Path(__file__).parent / "data" / "musicnn_reference.npz")
    patch = reference["blues.00000/patch0"][None]
    for model in nets.MODELS:
        out = nets.embed(nets.load(model, folder, "cuda"), patch, "cuda")
        np.testing.assert_allclose(
            out["taggram"][0], reference[f"blues.00000/{model}/taggram"][0], atol=1e-4
        )
