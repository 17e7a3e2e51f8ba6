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


def test_asking_for_cuda_without_it_is_one_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        make_encoder("vae", device="cuda").fit(synthetic_input(with_matrix=False))
