"""Fusion: blocks balanced (multiple factor analysis, or unit total variance) and weighted;
missing rows stay neutral."""

import numpy as np
import pytest

from musiclust.fusion import Fusion


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


def test_variance_balance_gives_each_block_unit_total_variance_times_its_weight():
    values, masks = blocks()
    fusion = Fusion(
        weights={"lyrics": 2.0}, scaling={"audio": "columns", "lyrics": "block"}, balance="variance"
    )
    fused = fusion.fit_transform(values, masks).vectors
    assert fused.shape == (50, 6)
    assert total_variance(fused[:, :2], masks["audio"]) == pytest.approx(1.0, rel=1e-5)
    assert total_variance(fused[:, 2:], masks["lyrics"]) == pytest.approx(4.0, rel=1e-5)


def test_column_scaling_equalises_block_scaling_keeps_proportions():
    values, masks = blocks()
    columns = Fusion(scaling={"lyrics": "columns"}, balance="variance")
    columns = columns.fit_transform(values, masks).vectors[:, 2:]
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


def _first_variance(z: np.ndarray) -> float:
    z = z - z.mean(axis=0)
    return float(np.linalg.eigvalsh(z.T @ z / len(z))[-1])


def two_views(seed: int = 0):
    """Audio: 20 correlated statistics, one strong direction (5 unrelated styles on a line).
    Lyrics: three languages, well separated in 10 SVD-like dimensions."""
    rng = np.random.default_rng(seed)
    n = 90
    language = rng.integers(3, size=n)
    loud = rng.normal(size=n) * 5
    audio = loud[:, None] * rng.uniform(0.5, 1.5, 20) + rng.normal(size=(n, 20))
    centres = rng.normal(size=(3, 10)) * 2.0
    lyrics = centres[language] + rng.normal(size=(n, 10)) * 0.7
    every = np.ones(n, bool)
    return {"audio": audio, "lyrics": lyrics}, {"audio": every, "lyrics": every}, language


def test_mfa_puts_each_block_first_axis_at_its_weight_and_lets_the_weaker_view_count():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    values, masks, _ = two_views()
    scaling = {"audio": "columns", "lyrics": "block"}
    mfa = Fusion(weights={"lyrics": 2.0}, scaling=scaling, balance="mfa").fit(values, masks)
    fused = mfa.transform(values, masks).vectors
    assert _first_variance(fused[:, :20]) == pytest.approx(1.0, rel=1e-4)
    assert _first_variance(fused[:, 20:]) == pytest.approx(4.0, rel=1e-4)
    assert len(mfa.notes_) == 2 and "first principal standard deviation" in mfa.notes_[0]
    assert "lyrics (90 of 90 rows, 10 columns)" in mfa.notes_[1]

    def recovered(balance: str, seed: int) -> float:
        values, masks, language = two_views(seed)
        X = Fusion(scaling=scaling, balance=balance).fit_transform(values, masks).vectors
        found = KMeans(3, n_init=10, random_state=0).fit_predict(X)
        return adjusted_rand_score(language, found)

    # unit total variance: the audio's one strong direction steers k-means and the languages
    # are mostly lost (mean ARI 0.37 over these draws); balanced by their first axes, the
    # languages count (0.80: a continuous audio axis as strong as theirs still competes)
    variance = np.mean([recovered("variance", seed) for seed in range(5)])
    mfa = np.mean([recovered("mfa", seed) for seed in range(5)])
    assert variance < 0.5 and mfa > 0.75


def test_a_single_block_is_not_rebalanced():
    values, masks, _ = two_views()
    one = {"audio": values["audio"]}, {"audio": masks["audio"]}
    mfa = Fusion(balance="mfa").fit(*one)
    variance = Fusion().fit(*one)
    np.testing.assert_allclose(mfa.transform(*one).vectors, variance.transform(*one).vectors)
    assert mfa.notes_ == []


@pytest.mark.parametrize("balance", ["auto", "mfa", "variance"])
def test_sparse_thin_and_constant_blocks_never_divide_by_zero(balance):
    rng = np.random.default_rng(3)
    n = 50
    few = np.zeros(n, bool)
    few[[4, 20, 33]] = True  # lyrics for 3 clips of 50
    values = {
        "audio": rng.normal(size=(n, 5)),
        "lyrics": np.where(few[:, None], rng.normal(size=(n, 8)), 0.0),
        "thin": np.column_stack([np.ones(n), rng.normal(size=n), np.zeros(n)]),
        "flat": np.full((n, 4), 7.0),
    }
    masks = {
        "audio": np.ones(n, bool),
        "lyrics": few,
        "thin": np.ones(n, bool),
        "flat": np.ones(n, bool),
    }
    fusion = Fusion(balance=balance, scaling={"lyrics": "block"}).fit(values, masks)
    fused = fusion.transform(values, masks).vectors
    assert np.all(np.isfinite(fused)) and fused.shape == (n, 20)
    assert np.all(fused[:, -4:] == 0)  # a constant block stays at zero
    assert np.all(fused[~few, 5:13] == 0)  # missing lyrics sit at the mean
    assert len(fusion.notes_) == 4 and any("(3 of 50 rows" in note for note in fusion.notes_)


def test_a_run_says_how_each_block_was_weighted(tmp_path):
    from conftest import SMALL_DEMO

    from musiclust import pipeline
    from musiclust.registry import get_registry
    from musiclust.spec import build_spec

    registry = get_registry()
    for balance, what in (("variance", "total"), ("mfa", "first principal")):
        spec = build_spec(
            registry,
            features="mfcc_stats,tfidf",
            sets=[*SMALL_DEMO, f"fusion.balance={balance}", "tfidf.weight=0.5"],
        )
        result = pipeline.run(spec, registry, progress=False, log_model=False)
        notes = [n for n in result.notes if n.startswith(f"fusion ({balance})")]
        assert len(notes) == 2
        assert f"mfcc_stats (20 of 20 rows, 40 columns) divided by its {what} standard" in notes[0]
        assert "tfidf (" in notes[1] and notes[1].endswith("then weighted 0.5")
        assert result.spec.flat_params()["fusion.balance"] == balance


def test_auto_keeps_blocks_that_rise_above_noise_and_leaves_out_those_that_do_not():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    values, masks, _ = two_views()
    scaling = {"audio": "columns", "lyrics": "block"}
    auto = Fusion(scaling=scaling).fit(values, masks)  # auto is the default
    mfa = Fusion(scaling=scaling, balance="mfa").fit(values, masks)
    assert auto.left_out_ == []
    np.testing.assert_allclose(
        auto.transform(values, masks).vectors, mfa.transform(values, masks).vectors
    )
    assert "directions above the noise edge" in auto.notes_[1]

    # the audio holds three groups; the lyrics are noise as wide as the corpus (a flat spectrum)
    rng = np.random.default_rng(1)
    groups = rng.integers(3, size=90)
    values = {
        "audio": (rng.normal(size=(3, 20)) * 1.5)[groups] + rng.normal(size=(90, 20)),
        "lyrics": rng.normal(size=(90, 80)),
    }

    def found(balance: str) -> float:
        X = Fusion(scaling=scaling, balance=balance).fit_transform(values, masks).vectors
        return adjusted_rand_score(groups, KMeans(3, n_init=10, random_state=0).fit_predict(X))

    auto = Fusion(scaling=scaling).fit(values, masks)
    assert auto.left_out_ == ["lyrics"]
    assert np.all(auto.transform(values, masks).vectors[:, 20:] == 0)
    assert "lyrics (90 of 90 rows, 80 columns) left out: 0 directions" in auto.notes_[1]
    # balanced by first axes, the noise's 80 flat directions outweigh the audio's groups
    assert found("auto") > 0.95 and found("mfa") < 0.8


def test_auto_keeps_everything_when_no_block_rises_above_noise():
    rng = np.random.default_rng(4)
    values = {"a": rng.normal(size=(60, 30)), "b": rng.normal(size=(60, 40))}
    masks = {"a": np.ones(60, bool), "b": np.ones(60, bool)}
    fusion = Fusion().fit(values, masks)
    assert fusion.left_out_ == []
    assert fusion.notes_[0] == "fusion (auto): no block rises above the noise edge; all are kept"
