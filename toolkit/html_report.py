"""``report.html``: one page per run with the metrics table, the cluster map and every plot.

The page is self-contained: each plot is embedded (a base64 ``data:`` URI), so it renders the
same opened from disk, mailed, or inside the MLflow UI's artifact view (which serves one file
at a time: relative ``plots/*.png`` links showed as broken images there). Plots are shown at
their own width, up to the page's, so multi-panel figures stay readable."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from musiclust.spec import Spec

INTERNAL = ("silhouette", "calinski_harabasz", "davies_bouldin")
EXTERNAL = ("ami", "ari", "nmi", "v_measure", "homogeneity", "completeness", "purity", "accuracy")
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:.5em;vertical-align:top;max-width:100%}
img{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#555}.muted{color:#777}pre{background:#f6f6f6;padding:1em}
"""


def figure(plot: Path) -> str:
    """A plot as an HTML figure with the image embedded (no file beside the page needed)."""
    data = base64.b64encode(plot.read_bytes()).decode("ascii")
    name = html.escape(plot.stem)
    return (
        f"<figure><img src='data:image/png;base64,{data}' alt='{name}'>"
        f"<figcaption>{name}</figcaption></figure>"
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def write_html(
    path: Path,
    title: str,
    spec: Spec,
    metrics: dict[str, float],
    not_computed: dict[str, str],
    notes: list[str],
    skipped: list,
    plots: list[Path],
    cluster_map: str | None = None,
) -> Path:
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    flow = (
        f"{', '.join(p.name for p in spec.features)} &rarr; {e(spec.encoder.name)} &rarr; "
        f"{e(spec.clusterer.name)}"
    )
    parts.append(
        f"<p>{int(metrics.get('n_clips', 0))} clips, {flow}: "
        f"<b>{int(metrics.get('n_clusters', 0))} clusters</b>, noise "
        f"{metrics.get('noise_share', 0):.0%}, largest cluster "
        f"{metrics.get('largest_cluster_share', 0):.0%} of clips.</p>"
    )

    columns = sorted({k.split(".")[0] for k in metrics if k.endswith(".ami")})
    if columns:
        parts.append(
            "<h2>Against the labels</h2><table><tr><th>label</th>"
            + "".join(f"<th>{m}</th>" for m in EXTERNAL)
            + "</tr>"
        )
        for column in columns:
            for suffix, name in (("", column), (".shuffled", f"{column} (shuffled labels)")):
                cells = "".join(
                    f"<td class=n>{_num(metrics.get(f'{column}{suffix}.{m}'))}</td>"
                    for m in EXTERNAL
                )
                if suffix and not any(f"{column}.shuffled.{m}" in metrics for m in EXTERNAL):
                    continue
                parts.append(f"<tr><td>{e(name)}</td>{cells}</tr>")
        parts.append(
            "</table><p class=muted>Chance-adjusted scores (AMI, ARI) are near 0 for "
            "random clusters; the shuffled rows show what these clusters score by "
            "chance.</p>"
        )

    parts.append(
        "<h2>Without labels</h2><table><tr><th>space</th>"
        + "".join(f"<th>{m}</th>" for m in INTERNAL)
        + "</tr>"
    )
    for prefix, name in (("", "clustered (latent)"), ("reference.", "reference features")):
        cells = "".join(f"<td class=n>{_num(metrics.get(prefix + m))}</td>" for m in INTERNAL)
        parts.append(f"<tr><td>{name}</td>{cells}</tr>")
    parts.append("</table>")

    listed = {f"{c}{s}.{m}" for c in columns for s in ("", ".shuffled") for m in EXTERNAL}
    listed |= {p + m for p in ("", "reference.") for m in INTERNAL}
    rest = {k: v for k, v in sorted(metrics.items()) if k not in listed}
    parts.append(
        "<h2>All other metrics</h2><table>"
        + "".join(f"<tr><td>{e(k)}</td><td class=n>{_num(v)}</td></tr>" for k, v in rest.items())
        + "</table>"
    )
    if not_computed:
        parts.append(
            "<h2>Not computed</h2><ul>"
            + "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in sorted(not_computed.items()))
            + "</ul>"
        )
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    if skipped:
        shown = "".join(f"<li>{e(s.id)}: {e(s.reason)}</li>" for s in skipped[:50])
        more = f"<li>... {len(skipped) - 50} more in skipped.csv</li>" if len(skipped) > 50 else ""
        parts.append(f"<h2>Skipped ({len(skipped)})</h2><ul>{shown}{more}</ul>")

    if cluster_map:
        parts.append(f"<h2 id=map>Cluster map</h2>{cluster_map}")
    parts.append("<h2>Plots</h2>")
    parts += [figure(plot) for plot in sorted(p for p in plots if p.suffix == ".png")]
    parts.append(
        f"<h2>Spec</h2><details><summary>resolved spec (hash {spec.hash()})</summary>"
        f"<pre>{e(spec.to_yaml())}</pre></details></body></html>"
    )
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
