"""``musiclust compare``: an experiment's finished runs side by side, as the published results
tables show them (method, silhouette, CH, DB, ARI, AMI, NMI, purity), printed and written as
CSV and markdown. Every pipeline logs the same keys, so any runs line up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from musiclust import defaults
from musiclust.errors import MusiclustError, did_you_mean

INTERNAL = [
    ("silhouette", "silhouette"),
    ("CH", "calinski_harabasz"),
    ("DB", "davies_bouldin"),
    ("ref. silhouette", "reference.silhouette"),
]
EXTERNAL = [("ARI", "ari"), ("AMI", "ami"), ("NMI", "nmi"), ("purity", "purity")]


@dataclass
class Comparison:
    experiment: str
    label: str | None
    table: pd.DataFrame
    text: str  # the table as markdown
    csv: Path | None  # None unless an output folder was given
    markdown: Path | None
    failed: int


def compare(
    experiment: str | None = None,
    label: str | None = None,
    out_dir: Path | None = None,
    kinds: list[str] | None = None,
    pipeline: str | None = None,
) -> Comparison:
    """An experiment's finished clusterings as a table, best first. ``kinds`` keeps runs of
    those kinds (``run``, ``trial``, ``best``, ``confirm``); ``pipeline`` keeps runs whose
    method (``pca + kmeans [musicnn]``) holds that text."""
    import mlflow

    from musiclust import tracking

    if not mlflow.is_tracking_uri_set():
        mlflow.set_tracking_uri(tracking.tracking_uri())
    uri = mlflow.get_tracking_uri()
    if experiment is None:
        latest = mlflow.search_runs(
            search_all_experiments=True, max_results=1, order_by=["attributes.start_time DESC"]
        )
        if latest.empty:
            raise MusiclustError(f"no runs yet in {uri}", "start one with `musiclust run`")
        found = mlflow.get_experiment(latest["experiment_id"].iloc[0])
    else:
        found = mlflow.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in mlflow.search_experiments()]
            raise MusiclustError(
                f"no experiment '{experiment}' in {uri}; experiments: {', '.join(names)}",
                did_you_mean(experiment, names),
            )
    runs = mlflow.search_runs([found.experiment_id], order_by=["attributes.start_time DESC"])
    kind = runs.get("tags.musiclust.kind", pd.Series([None] * len(runs), index=runs.index))
    groups = set(runs.loc[kind == "seeds", "run_id"])  # `run --seeds` parents
    runs = runs[~kind.isin(NOT_CLUSTERINGS)]  # search parents and data overviews
    if kinds:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise MusiclustError(
                f"unknown run kind '{unknown[0]}'; kinds: {', '.join(KINDS)}",
                did_you_mean(unknown[0], KINDS),
            )
        runs = runs[kind.reindex(runs.index).fillna("run").isin(kinds)]
    if pipeline:
        runs = runs[[pipeline.lower() in _method(row).lower() for _, row in runs.iterrows()]]
    status = runs["status"] if "status" in runs else pd.Series(dtype=str)
    finished = runs[status == "FINISHED"]
    if finished.empty:
        chosen = [f"of kind {','.join(kinds)}"] * bool(kinds)
        chosen += [f"matching '{pipeline}'"] * bool(pipeline)
        raise MusiclustError(" ".join(["no finished runs", *chosen, f"in '{found.name}'"]))

    labels = sorted(
        {m.group(1) for c in finished.columns if (m := re.fullmatch(r"metrics\.(\w+)\.ami", c))}
    )
    if label is None:
        label = defaults.LABEL if defaults.LABEL in labels else (labels[0] if labels else None)
    elif label not in labels:
        raise MusiclustError(
            f"no '{label}' scores in experiment '{found.name}'; "
            f"label columns: {', '.join(labels) or 'none'}"
        )
    table = pd.DataFrame(
        {
            "id": finished["run_id"].str[:8],
            "method": [_method(row) + _kind(row) for _, row in finished.iterrows()],
            "K": _column(finished, "metrics.n_clusters"),
            **{name: _column(finished, f"metrics.{key}") for name, key in INTERNAL},
            **{
                name: _column(finished, f"metrics.{label}.{key}") for name, key in EXTERNAL if label
            },
        }
    )
    parent = finished.get("tags.mlflow.parentRunId", pd.Series([None] * len(finished)))
    group = parent.where(parent.isin(groups), None).to_numpy()
    if any(g is not None for g in group):
        table = _by_seeds(table, group)
    key = "AMI" if label else "ref. silhouette"
    table = table.sort_values(key, ascending=False, na_position="last").reset_index(drop=True)

    text = markdown(table, found.name, label)
    left_out = int(len(runs) - len(finished))
    if out_dir is None:  # printed only
        return Comparison(found.name, label, table, text, None, None, left_out)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", found.name)
    csv_path, md_path = out_dir / f"compare-{stem}.csv", out_dir / f"compare-{stem}.md"
    table.to_csv(csv_path, index=False)
    md_path.write_text(text, encoding="utf-8")
    return Comparison(found.name, label, table, text, csv_path, md_path, left_out)


#: Runs that hold no clustering of their own (``musiclust.kind``): left out of the table.
NOT_CLUSTERINGS = ("search", "overview", "seeds")
#: The kinds of run that hold a clustering: plain runs, a search's trials, its re-fitted best
#: and the runs that confirm a top trial with other seeds.
KINDS = ("run", "trial", "best", "confirm")


def _kind(row: pd.Series) -> str:
    """How a search's run is marked in the method column, so a trial and its re-fit are not
    mistaken for two pipelines: `` (trial 7)``, `` (best: trial 7 re-fitted)``."""
    kind = row.get("tags.musiclust.kind")
    if kind == "trial":
        return f" (trial {row.get('tags.trial.number')})"
    if kind == "best":
        return f" (best: trial {row.get('tags.best_of_trial')} re-fitted)"
    if kind == "confirm":
        return f" (confirms trial {row.get('tags.confirms_trial')})"
    return ""


def _by_seeds(table: pd.DataFrame, group: Any) -> pd.DataFrame:
    """The runs of one ``run --seeds`` as one row: the parent's id, the number of seeds, the
    mean of each score and, in a ``<score> std`` column, its sample standard deviation."""
    scores = [c for c in table.columns if c not in ("id", "method")]
    rows = []
    for key, part in table.groupby(pd.Series(group, index=table.index).fillna(table["id"])):
        row = {"id": str(key)[:8], "method": part["method"].iloc[0], "seeds": len(part)}
        for column in scores:
            values = pd.to_numeric(part[column], errors="coerce")
            row[column] = values.mean()
            row[f"{column} std"] = values.std(ddof=1) if len(part) > 1 else None
        rows.append(row)
    return pd.DataFrame(rows)


def _column(frame: pd.DataFrame, name: str) -> Any:
    return frame[name].to_numpy() if name in frame else [None] * len(frame)


def _method(row: pd.Series) -> str:
    def get(key: str) -> str:
        value = row.get(f"params.{key}")
        return "" if value is None or value != value else str(value)

    features = get("feature.names").replace(",", "+")
    method = f"{get('encoder.name')} + {get('clusterer.name')}"
    return f"{method} [{features}]" if features else method


def markdown(table: pd.DataFrame, experiment: str, label: str | None) -> str:
    def blank(value: Any) -> bool:
        return value is None or (isinstance(value, float) and value != value)

    def cell(column: str, row: dict) -> str:
        value = row[column]
        if blank(value):
            return ""
        spread = row.get(f"{column} std")
        if column == "K" and blank(spread) and float(value).is_integer():
            return str(int(value))
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        return text if blank(spread) else f"{text} ± {spread:.3f}"

    columns = [c for c in table.columns if not c.endswith(" std")]
    scores = f"; ARI/AMI/NMI/purity against '{label}'" if label else ""
    seeds = "; rows of `run --seeds`: mean ± std over the seeds" if "seeds" in columns else ""
    lines = [
        f"Runs of experiment '{experiment}'{scores}{seeds}, best first.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if c in ("id", "method") else "---:" for c in columns) + "|",
    ]
    lines += [
        "| " + " | ".join(cell(c, row) for c in columns) + " |"
        for row in table.to_dict(orient="records")
    ]
    return "\n".join(lines) + "\n"
