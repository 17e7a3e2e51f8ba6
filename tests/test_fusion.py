"""Fusion: every block gets unit total variance (times its weight), missing rows stay neutral."""

import numpy as np
import pytest

from toolkit.fusion import Fusion


def blocks(seed=0):
    rng = np.random.default_rng(seed)
    audio = np.column_stack([rng.normal(120, 30, 50), rng.normal(0.01, 0.002, 50)])
    svd = rng.normal(size=(50, 4)) * np.array([10.0, 3.0, 1.0, 0.1])  # decreasing variances
    mask = np.ones(50, dtype=bool)
    mask[::5] = False  # a fifth of the clips have no lyrics
    svd[~mask] = 0.0
    return {"audio": audio, "lyrics": svd}, {"audio": np.ones(50, dtype=bool), "lyrics": mask}


def total_variance(z, mask):
    return z[mask].var(axis=0).sum()


def test_each_block_gets_unit_total_variance_times_its_weight():
    values, masks = blocks()
    fusion = Fusion(weights={"lyrics": 2.0}, scaling={"audio": "columns", "lyrics": "block"})
    fused = fusion.fit_transform(values, masks).vectors
    assert fused.shape == (50, 6)
    assert total_variance(fused[:, :2], masks["audio"]) == pytest.approx(1.0, rel=1e-5)
    assert total_variance(fused[:, 2:], masks["lyrics"]) == pytest.approx(4.0, rel=1e-5)


def test_column_scaling_equalises_block_scaling_keeps_proportions():
    values, masks = blocks()
    columns = Fusion(scaling={"lyrics": "columns"}).fit_transform(values, masks).vectors[:, 2:]
    block = Fusion(scaling={"lyrics": "block"}).fit_transform(values, masks).vectors[:, 2:]
    m = masks["lyrics"]
    assert np.allclose(columns[m].var(axis=0), 0.25, rtol=1e-4)
    ratios = block[m].var(axis=0) / values["lyrics"][m].var(axis=0)
    assert np.allclose(ratios, ratios[0], rtol=1e-4)


def test_missing_rows_sit_at_the_mean_and_do_not_move_the_statistics():
    values, masks = blocks()
    fusion = Fusion(scaling={"lyrics": "block"}).fit(values, masks)
    assert np.allclose(fusion.mean_["lyrics"], values["lyrics"][masks["lyrics"]].mean(axis=0))
    fused = fusion.transform(values, masks).vectors
    assert np.all(fused[~masks["lyrics"], 2:] == 0.0)


def test_constant_columns_do_not_explode():
    values = {"a": np.column_stack([np.ones(10), np.arange(10.0)])}
    fused = Fusion().fit_transform(values, {"a": np.ones(10, dtype=bool)}).vectors
    assert np.all(np.isfinite(fused)) and np.all(fused[:, 0] == 0)


def test_2d_blocks_are_standardised_per_row_and_flatten_with_unit_total_variance():
    rng = np.random.default_rng(2)
    spectra = rng.normal(size=(30, 4, 10)) * np.array([1.0, 10.0, 100.0, 0.1])[None, :, None]
    spectra += np.array([5.0, -3.0, 40.0, 0.0])[None, :, None]
    values, masks = blocks()
    values["stack"] = spectra.astype(np.float32)[:50]
    values = {k: v[:30] for k, v in values.items()}
    masks = {"audio": np.ones(30, bool), "lyrics": masks["lyrics"][:30], "stack": np.ones(30, bool)}
    X = Fusion(weights={"stack": 3.0}).fit_transform(values, masks)
    z = X.blocks["stack"]
    assert z.shape == (30, 4, 10)
    assert np.allclose(z.mean(axis=(0, 2)), 0, atol=1e-5)
    assert np.allclose(z.std(axis=(0, 2)), 1, atol=1e-4)
    assert X.vectors.shape == (30, 6)  # 2-D blocks stay out of the vector fusion
    flat = X.flat()
    assert flat.shape == (30, 6 + 40)
    # mean squared norm about the row means: weight 3, squared
    assert (flat[:, 6:] ** 2).sum(axis=1).mean() == pytest.approx(9.0, rel=1e-3)
