"""Reports write files with real content; report.html shows them with the metrics."""

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from musiclust.errors import NotComputed
from musiclust.evaluation import Evaluation, render_reports
from musiclust.plugins.reports.confusion import crosstab, diagonal
from musiclust.plugins.reports.plotting import scatter_figure
from musiclust.registry import get_registry


def report(name, **params):
    return get_registry().get("report", name).cls(**params)


@pytest.fixture
def evaluation():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0]], dtype=float)
    clusters = np.repeat([0, 1, 2], 15)
    latent = centres[clusters] + rng.normal(0, 0.5, (45, 3))
    clusters[:3] = -1  # three noise points
    genre = np.array(["a"] * 15 + ["b"] * 15 + ["c"] * 10 + ["d"] * 5, dtype=object)
    language = np.array(["en", "fr", None] * 15, dtype=object)
    return Evaluation(
        ids=[f"clip{i}" for i in range(45)],
        latent=latent,
        clusters=clusters,
        labels={"genre": genre, "language": language},
        seed=0,
    )


def test_scatter_figures_hold_one_point_per_clip_and_one_legend_entry_per_class(evaluation):
    fig = scatter_figure(evaluation.latent[:, :2], evaluation.labels["genre"], "genre", "t")
    ax = fig.axes[0]
    assert len(ax.collections[0].get_offsets()) == 45
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c", "d"]
    fig = scatter_figure(evaluation.latent[:, :2], evaluation.clusters.astype(object), "c", "t")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["0", "1", "2"]


def test_tsne_writes_maps_by_cluster_and_label_and_their_points(evaluation, tmp_path):
    files = report("tsne").render(evaluation, tmp_path)
    names = sorted(f.name for f in files)
    assert names == [
        "latent_tsne.csv",
        "latent_tsne_cluster.png",
        "latent_tsne_genre.png",
        "latent_tsne_language.png",
    ]
    points = pd.read_csv(tmp_path / "latent_tsne.csv", keep_default_na=False)
    assert len(points) == 45 and points["id"].tolist() == evaluation.ids
    assert sorted(set(points["genre"])) == ["a", "b", "c", "d"]
    assert (points["cluster"] == -1).sum() == 3
    image = imread(tmp_path / "latent_tsne_genre.png")
    assert image.shape[:2] == (480, 640)
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 20  # not blank


def test_maps_need_enough_clips(tmp_path):
    tiny = Evaluation(ids=list("abcd"), latent=np.eye(4), clusters=np.array([0, 0, 1, 1]))
    with pytest.raises(NotComputed, match="at least 5 clips"):
        report("tsne").render(tiny, tmp_path)
    files, failed = render_reports(tiny, [report("tsne"), report("cluster_sizes")], tmp_path)
    assert [f.name for f in files] == ["cluster_sizes.png"]
    assert failed == {"tsne": "not applicable: tsne needs at least 5 clips, got 4"}


def test_confusion_counts_match_a_hand_count(evaluation, tmp_path):
    rows, cols, table = crosstab(np.array([0, 0, 1, -1, 1]), np.array(["x", "y", "y", "x", "y"]))
    assert rows == ["0", "1", "noise"] and cols == ["x", "y"]
    assert table.tolist() == [[1, 1], [0, 2], [1, 0]]
    # clusters 0..3 hold mostly c, a, b, a: reordered 1 (4 a), 3 (2 a), 2 (b), 0 (c), noise
    counts = np.array([[0, 1, 5], [4, 0, 0], [0, 3, 1], [2, 1, 0], [1, 1, 1]])
    rows, table = diagonal(["0", "1", "2", "3", "noise"], counts)
    assert rows == ["1", "3", "2", "0", "noise"] and table[0].tolist() == [4, 0, 0]
    files = report("confusion").render(evaluation, tmp_path)
    assert {f.name for f in files} >= {
        "confusion_genre.png",
        "composition_genre.png",
        "confusion_language.png",
    }
    counts = pd.read_csv(tmp_path / "confusion_genre.csv", dtype={"cluster": str})
    dominant = counts.drop(columns="cluster").to_numpy()[:-1].argmax(axis=1)
    assert (np.diff(dominant) >= 0).all()  # clusters along the diagonal, noise last
    counts = counts.set_index("cluster")
    assert counts.index[-1] == "noise"
    assert counts.loc["noise"].sum() == 3 and counts.to_numpy().sum() == 45
    assert counts.loc["1", "b"] == 15
    with pytest.raises(NotComputed, match="no label column"):
        report("confusion").render(
            Evaluation(ids=["a"], latent=np.zeros((1, 2)), clusters=np.array([0])), tmp_path
        )


def test_report_html_shows_every_plot_and_the_metrics(tmp_path):
    from helpers import write_styled_folder

    from musiclust import pipeline
    from musiclust.spec import build_spec

    root = write_styled_folder(tmp_path / "songs", n_per_style=4, styles=3)
    registry = get_registry()
    result = pipeline.run(
        build_spec(registry, data=str(root), sets=["agglomerative.n_clusters=3"]),
        registry,
        progress=False,
        log_model=False,
    )
    import mlflow

    folder = mlflow.artifacts.download_artifacts(run_id=result.run_id, dst_path=str(tmp_path / "a"))
    from pathlib import Path

    page = (Path(folder) / "report.html").read_text()
    pngs = sorted(p.name for p in (Path(folder) / "plots").glob("*.png"))
    assert {"latent_tsne_cluster.png", "confusion_genre.png", "cluster_sizes.png"} <= set(pngs)
    # self-contained: every plot embedded, byte for byte (the MLflow UI serves one file)
    embedded = dict(re.findall(r"src='data:image/png;base64,([^']+)' alt='([^']+)'", page))
    import base64

    shown = {alt: base64.b64decode(data) for data, alt in embedded.items()}
    assert sorted(f"{alt}.png" for alt in shown) == pngs
    for name in pngs:
        assert shown[name[:-4]] == (Path(folder) / "plots" / name).read_bytes()
    assert "src='plots/" not in page
    assert f"{result.metrics['genre.ami']:.4g}" in page
    assert "genre (shuffled labels)" in page and "reference features" in page
    # the cluster map: a circle per song, hovering it names the song, its labels, its cluster
    tips = re.findall(r"<circle [^>]*><title>([^<]+)</title></circle>", page)
    assert len(tips) == result.metrics["n_clips"] == 12
    assignments = pd.read_csv(Path(folder) / "assignments.csv")
    first = assignments.iloc[0]
    assert f"{first['id']} | genre: {first['genre']} | cluster {first['cluster']}" in tips


def test_the_cluster_map_samples_large_collections_and_names_songs_by_title():
    from types import SimpleNamespace

    from musiclust import cluster_map

    n = cluster_map.POINTS + 500
    rng = np.random.default_rng(0)
    clusters = rng.integers(-1, 25, n)  # noise, and more clusters than colours
    clips = [SimpleNamespace(meta={"title": f"Song {i}", "artist": "Band"}) for i in range(n)]
    html = cluster_map.render(
        rng.normal(size=(n, 7)), clusters, [f"c{i}" for i in range(n)], {"genre": ["x"] * n}, clips
    )
    tips = re.findall(r"<title>([^<]+)</title>", html)
    assert len(tips) == cluster_map.POINTS
    assert f"{cluster_map.POINTS:,} of {n:,} songs drawn at random" in html
    number = int(tips[0].split(" | ")[0][1:])
    expected = "noise" if clusters[number] == -1 else f"cluster {clusters[number]}"
    assert tips[0] == f"c{number} | Song {number} | Band | genre: x | {expected}"
    assert len(html) < 400_000  # the page stays small at any size
    one = cluster_map.render(np.zeros((3, 1)), np.zeros(3, dtype=int), ["a", "b", "c"], {})
    assert one.count("<circle") == 3  # a single constant column still draws


def test_umap_is_opt_in_and_works(evaluation, tmp_path):
    from musiclust.spec import build_spec

    assert "umap" not in [p.name for p in build_spec(get_registry()).reports]
    spec = build_spec(get_registry(), reports="umap,tsne")
    assert [p.name for p in spec.reports] == ["umap", "tsne"]
    files = report("umap", n_neighbors=10).render(evaluation, tmp_path)
    points = pd.read_csv(tmp_path / "latent_umap.csv")
    assert len(points) == 45 and len(files) == 4
