"""The tables every run writes: spec, cluster assignments, metrics, skipped files, notes."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from musiclust.cache import digest
from musiclust.data import Clip, Dataset, Skip
from musiclust.evaluation import Evaluation
from musiclust.spec import Spec

#: Metrics shown first in summaries (when present).
HEADLINE = ("n_clusters", "silhouette", "reference.silhouette", "largest_cluster_share")


def manifest(dataset: Dataset) -> tuple[pd.DataFrame, str, str, str]:
    """The clip list as a table, with the name, source and digest MLflow shows for it."""
    frame = pd.DataFrame(
        {
            "id": [c.id for c in dataset.clips],
            "audio": [str(c.audio) if c.audio else "" for c in dataset.clips],
            "has_lyrics": [c.lyrics is not None for c in dataset.clips],
            **{
                col: [c.labels.get(col, "") for c in dataset.clips] for col in dataset.label_columns
            },
        }
    )
    content = digest(frame.to_dict(orient="list"))
    return frame, dataset.name, str(dataset.root or dataset.name), content


def write_tables(
    out: Path,
    spec: Spec,
    ev: Evaluation,
    clips: list[Clip],
    metrics: dict[str, float],
    not_computed: dict[str, str],
    skipped: list[Skip],
    notes: list[str],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "spec.yaml").write_text(spec.to_yaml(), encoding="utf-8")

    assignments = pd.DataFrame(
        {
            "id": ev.ids,
            "cluster": ev.clusters,
            "audio": [str(c.audio) if c.audio else "" for c in clips],
            "has_lyrics": [c.lyrics is not None for c in clips],
        }
    )
    for column, values in ev.labels.items():
        assignments[column] = ["" if v is None else v for v in values]
    # the data's other columns (artist, title ...), so the table reads without a join
    extra = dict.fromkeys(k for c in clips for k in c.meta if k not in assignments)
    for column in extra:
        assignments[column] = [str(c.meta.get(column, "")) for c in clips]
    assignments.to_csv(out / "assignments.csv", index=False)

    with open(out / "metrics.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["metric", "value", "note"])
        for key in sorted(metrics):
            writer.writerow([key, repr(metrics[key]), ""])
        for key in sorted(not_computed):
            writer.writerow([key, "", f"not computed: {not_computed[key]}"])

    with open(out / "skipped.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "path", "reason"])
        writer.writerows([s.id, s.path, s.reason] for s in skipped)

    if notes:
        (out / "notes.txt").write_text("\n".join(notes) + "\n", encoding="utf-8")


def summary_tags(
    spec: Spec, metrics: dict[str, float], not_computed: dict[str, str]
) -> dict[str, str]:
    """The run's description in the MLflow UI, and which metrics were not computed."""
    external = sorted(k for k in metrics if k.endswith((".ami", ".ari", ".nmi")))
    shown = [k for k in (*HEADLINE, *external) if k in metrics]
    lines = [
        f"**{spec.encoder.name} + {spec.clusterer.name}** on "
        f"{', '.join(p.name for p in spec.features)} ({int(metrics.get('n_clips', 0))} clips)",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {k} | {metrics[k]:.4g} |" for k in shown],
    ]
    tags = {"mlflow.note.content": "\n".join(lines)}
    if not_computed:
        tags["not_computed"] = ",".join(sorted(not_computed))[:5000]
    return tags
