"""The files of ``musiclust describe``'s overview run: tables (CSV), plots (PNG) and
``overview.html``, written from what :mod:`musiclust.describe` found."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musiclust.describe import Finding


def write_tables(
    out: Path, counts: dict, headers: Any, lyrics: dict, findings: list[Finding]
) -> dict[str, Any]:
    import pandas as pd

    folder = out / "tables"
    folder.mkdir(parents=True)
    tables: dict[str, Any] = {}
    for col, per_label in counts.items():
        frame = pd.DataFrame({"label": list(per_label), "clips": list(per_label.values())})
        tables[f"counts per {col}"] = frame
        frame.to_csv(folder / f"counts_{col}.csv", index=False)
        coverage = pd.DataFrame(lyrics["coverage"][col])
        if len(coverage):
            tables[f"lyrics coverage per {col}"] = coverage
            coverage.to_csv(folder / f"lyrics_coverage_{col}.csv", index=False)
        terms = lyrics["top_terms"].get(col, {})
        if terms:
            frame = pd.DataFrame(
                {"label": list(terms), "top terms": [", ".join(t) for t in terms.values()]}
            )
            tables[f"top terms per {col}"] = frame
            frame.to_csv(folder / f"top_terms_{col}.csv", index=False)
    if len(headers):
        headers.to_csv(folder / "audio.csv", index=False)
        ok = headers[headers["error"].isna()] if "error" in headers else headers
        if len(ok):
            summary = []
            for column in ("format", "subtype", "sample_rate", "channels"):
                for value, n in ok[column].value_counts().items():
                    summary.append({"property": column, "value": str(value), "clips": int(n)})
            tables["audio properties"] = pd.DataFrame(summary)
    if lyrics["scripts"]:
        scripts = pd.DataFrame(lyrics["scripts"])
        scripts.to_csv(folder / "lyrics_scripts.csv", index=False)
        tables["scripts of the lyrics"] = (
            scripts["scripts"].value_counts().rename_axis("scripts").reset_index(name="clips")
        )
        tables["languages of the lyrics (guessed from common words)"] = (
            scripts["language"].value_counts().rename_axis("language").reset_index(name="clips")
        )
    frame = pd.DataFrame([f.__dict__ for f in findings], columns=["kind", "ids", "detail"])
    frame.to_csv(out / "findings.csv", index=False)
    return tables


def write_plots(out: Path, counts: dict, headers: Any, lyrics: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True)
    plots = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=90)
        plt.close(fig)
        plots.append(out / f"{name}.png")

    for col, per_label in counts.items():
        fig, ax = plt.subplots(figsize=(max(5, 0.4 * len(per_label)), 3.5))
        ax.bar(list(map(str, per_label)), list(per_label.values()), color="#4c72b0")
        ax.set_title(f"clips per {col}")
        ax.tick_params(axis="x", rotation=60)
        save(fig, f"counts_{col}")
        rows = lyrics["coverage"].get(col, [])
        if rows and any(r["with_lyrics"] for r in rows):
            fig, ax = plt.subplots(figsize=(max(5, 0.4 * len(rows)), 3.5))
            ax.bar([str(r["label"]) for r in rows], [r["share"] for r in rows], color="#55a868")
            ax.set_ylim(0, 1)
            ax.set_title(f"share of clips with lyrics per {col}")
            ax.tick_params(axis="x", rotation=60)
            save(fig, f"lyrics_coverage_{col}")
    if len(headers) and "duration" in headers and headers["duration"].notna().any():
        ok = headers[headers["error"].isna()]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
        axes[0].hist(ok["duration"], bins=30, color="#4c72b0")
        axes[0].set_title("duration (s)")
        for ax, column in zip(axes[1:], ("sample_rate", "channels")):
            values = ok[column].astype(int).value_counts().sort_index()
            ax.bar(values.index.astype(str), values.values, color="#8172b2")
            ax.set_title(column.replace("_", " "))
        save(fig, "audio_properties")
    if lyrics["lengths"]:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.hist(lyrics["lengths"], bins=30, color="#55a868")
        ax.set_title("lyrics length (words)")
        save(fig, "lyrics_lengths")
    return plots


def write_html(
    path: Path, name: str, metrics: dict, tables: dict, plots: list[Path], findings: list[Finding]
) -> None:
    from musiclust.html_report import STYLE, figure

    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>overview of {e(name)}</title>",
        f"<style>{STYLE}</style></head><body><h1>Overview of {e(name)}</h1>",
        "<h2>Data-quality findings</h2>",
    ]
    if findings:
        parts.append("<table><tr><th>kind</th><th>clips</th><th>detail</th></tr>")
        parts += [
            f"<tr><td>{e(f.kind)}</td><td>{e(f.ids)}</td><td>{e(f.detail)}</td></tr>"
            for f in findings
        ]
        parts.append("</table>")
    else:
        parts.append("<p>None found.</p>")
    parts.append("<h2>Numbers</h2><table>")
    parts += [f"<tr><td>{e(k)}</td><td class='n'>{v:.4g}</td></tr>" for k, v in metrics.items()]
    parts.append("</table>")
    for title, frame in tables.items():
        parts.append(f"<h2>{e(title)}</h2>" + frame.to_html(index=False, escape=True))
    parts.append("<h2>Plots</h2>")
    parts += [figure(p) for p in plots if p.suffix == ".png"]  # embedded: see html_report
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
