"""What a plain ``musiclust run`` gives, and the candidates the defaults were chosen from.

    python benchmarks/defaults.py [--data ../shared/data/gtzan-mini/genres_original] [--seeds 5]

Every row is fitted as a run fits it (the toolkit's extraction with the reference space,
fusion, encoder, clusterer; K chosen without labels where the row says so), over seeds
0..n-1; the labels are read afterwards, for this table only. The first row is exactly
``musiclust run --data DATA --seed N``; the second what it gives where the musicnn weights are
not installed (the statistics, scored in the statistics alone); the third the defaults before
this benchmark (``mfcc_stats,tfidf`` -> PCA -> k-means, K by silhouette in the latent). Writes
benchmarks/results/defaults.json and defaults.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini" / "genres_original"
STATS_ONLY = "reference.features=audio_stats"
#: name -> (features or None for the defaults, encoder, clusterer, --set items)
ROWS: dict[str, tuple[str | None, str, str, tuple[str, ...]]] = {
    "musiclust run (the defaults)": (None, "pca", "agglomerative", ()),
    "the defaults without the musicnn weights": (
        "audio_stats,tfidf",
        "pca",
        "agglomerative",
        (STATS_ONLY,),
    ),
    "the defaults before: mfcc_stats,tfidf, k-means, K by silhouette": (
        "mfcc_stats,tfidf",
        "pca",
        "kmeans",
        ("kmeans.criterion=silhouette", STATS_ONLY),
    ),
    "musicnn -> pca -> k-means": ("musicnn", "pca", "kmeans", ()),
    "musicnn -> identity -> k-means": ("musicnn", "identity", "kmeans", ()),
    "musicnn -> identity -> Ward": ("musicnn", "identity", "agglomerative", ()),
    "musicnn -> pca -> Ward, K by silhouette in the latent": (
        "musicnn",
        "pca",
        "agglomerative",
        ("agglomerative.criterion=silhouette",),
    ),
    "musicnn,tfidf -> pca -> Ward (with the lyrics)": ("musicnn,tfidf", "pca", "agglomerative", ()),
    "musicnn,tfidf -> pca -> k-means (with the lyrics)": ("musicnn,tfidf", "pca", "kmeans", ()),
    "audio_stats -> pca -> k-means": ("audio_stats", "pca", "kmeans", ()),
    "audio_stats of 2 s windows (features) -> pca -> Ward": (
        "audio_stats",
        "pca",
        "agglomerative",
        ("segments.length=2", "segments.back=features"),
    ),
    "audio_stats of 2 s windows (features) -> identity -> Ward": (
        "audio_stats",
        "identity",
        "agglomerative",
        ("segments.length=2", "segments.back=features"),
    ),
}


def main() -> None:
    from quality import evaluate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, (features, encoder, clusterer, sets) in ROWS.items():
        out = evaluate(args.data, features, encoder, clusterer, sets, range(args.seeds))
        rows.append({"pipeline": name, **out})
        print(
            f"{name:60s} AMI {out['ami'][0]:.3f} +- {out['ami'][1]:.3f}  K {out['k'][0]:.1f}",
            flush=True,
        )
    if args.no_write:
        return
    meta = {"data": Path(args.data).parent.name, "seeds": args.seeds, "cpus": os.cpu_count()}
    meta["machine"] = platform.platform()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "defaults.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# What a plain `musiclust run` gives on {meta['data']}",
        "",
        "Written by `python benchmarks/defaults.py`: mean +- std over seeds 0.."
        f"{args.seeds - 1}; K chosen without labels in every row (by the search's label-free "
        "rule, reference gap x stability, unless the row says silhouette); AMI, ARI and NMI "
        "against genre, read after fitting.",
        "",
        "| pipeline | features | K chosen | AMI | ARI | NMI |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pipeline']} | {','.join(r['features'])} | {r['k'][0]:.1f} +- {r['k'][1]:.1f} "
            f"| {r['ami'][0]:.3f} +- {r['ami'][1]:.3f} | {r['ari'][0]:.3f} | {r['nmi'][0]:.3f} |"
        )
    (RESULTS / "defaults.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
