"""``confusion``: clusters against each label column: the count matrix (cluster x label, its
clusters ordered along the diagonal) and each cluster's composition as stacked bars, plus the
counts as CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from musiclust import Evaluation, NotComputed, Report, hookimpl
from musiclust.plugins.reports.plotting import categories, new_figure, save


def crosstab(clusters: np.ndarray, labels: np.ndarray) -> tuple[list[str], list[str], np.ndarray]:
    """Counts of (cluster, class); noise is a row of its own, named 'noise'."""
    rows = [str(c) for c in sorted(set(clusters.tolist()) - {-1})]
    if (clusters == -1).any():
        rows.append("noise")
    cols = categories(labels)
    index_r = {r: i for i, r in enumerate(rows)}
    index_c = {c: i for i, c in enumerate(cols)}
    table = np.zeros((len(rows), len(cols)), dtype=int)
    for cluster, label in zip(clusters, labels):
        table[index_r["noise" if cluster == -1 else str(cluster)], index_c[str(label)]] += 1
    return rows, cols, table


def diagonal(rows: list[str], table: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Clusters reordered along the diagonal: by the label column each holds most of (in the
    columns' order), the fuller first; noise stays last. The clusters' names are kept."""
    noise = rows[-1:] == ["noise"]
    named = len(rows) - noise
    order = sorted(range(named), key=lambda i: (int(table[i].argmax()), -int(table[i].max())))
    order += list(range(named, len(rows)))
    return [rows[i] for i in order], table[order]


class Confusion(Report):
    """Cluster x label counts (heatmap and CSV) and cluster composition bars, per label."""

    name = "confusion"

    def render(self, ev: Evaluation, out_dir: Path) -> list[Path]:
        if not ev.labels:
            raise NotComputed("the data has no label column")
        files = []
        for column, values in ev.labels.items():
            keep = np.array([v is not None for v in values], dtype=bool)
            if not keep.any():
                continue
            rows, cols, table = crosstab(ev.clusters[keep], values[keep].astype(str))
            rows, table = diagonal(rows, table)
            files.append(_heatmap(rows, cols, table, column, out_dir))
            files.append(_composition(rows, cols, table, column, out_dir))
            path = out_dir / f"confusion_{column}.csv"
            with open(path, "w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(["cluster", *cols])
                writer.writerows([r, *t] for r, t in zip(rows, table.tolist()))
            files.append(path)
        return files


def _heatmap(rows: list[str], cols: list[str], table: np.ndarray, column: str, out: Path) -> Path:
    fig = new_figure(max(4.0, 0.5 * len(cols) + 2), max(3.0, 0.35 * len(rows) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(table, cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel(column)
    ax.set_ylabel("cluster")
    if table.size <= 400:
        for (i, j), count in np.ndenumerate(table):
            if count:
                ax.text(
                    j,
                    i,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if count > table.max() / 2 else "black",
                )
    fig.colorbar(image, ax=ax, label="clips")
    ax.set_title(f"clusters x {column}")
    return save(fig, out / f"confusion_{column}.png")


def _composition(
    rows: list[str], cols: list[str], table: np.ndarray, column: str, out: Path
) -> Path:
    from matplotlib import colormaps

    shares = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    cmap = colormaps["tab20" if len(cols) > 10 else "tab10"]
    fig = new_figure(7.0, max(3.0, 0.35 * len(rows) + 1.5))
    ax = fig.add_subplot()
    left = np.zeros(len(rows))
    for j, name in enumerate(cols):
        ax.barh(rows, shares[:, j], left=left, color=cmap(j % cmap.N), label=name)
        left += shares[:, j]
    ax.set_xlabel(f"share of the cluster's clips, by {column}")
    ax.set_ylabel("cluster")
    ax.invert_yaxis()
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(f"cluster composition by {column}")
    return save(fig, out / f"composition_{column}.png")


@hookimpl
def register_reports(register):
    register(Confusion)
