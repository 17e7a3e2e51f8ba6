"""Which label-free objective picks well? Each candidate scored on a grid of real clusterings.

    python benchmarks/objectives.py [--data ../shared/data/gtzan-mini/genres_original]

Latents from several pipelines (statistics, PCA, trained autoencoders and VAEs, seeds 0-2) are
clustered with k-means and Ward agglomerative clustering for K = 2..16. Every clustering is
scored by each objective of :mod:`toolkit.objectives` (reference space, never the labels) and,
for this report only, by AMI against genre. A good objective's top picks have a high AMI.
Writes benchmarks/results/objectives.json and objectives.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini" / "genres_original"
LATENTS = [
    ("audio_stats", "identity", 0),
    ("audio_stats", "pca", 0),
    ("mfcc_stats", "identity", 0),
    *[("audio_stats", "ae", s) for s in range(3)],
    *[("audio_stats", "vae", s) for s in range(2)],
]
CANDIDATES = ("reference_silhouette", "reference_gap", "stability", "label_free")


def main() -> None:
    from quality import make_chain, prepare
    from scipy.stats import spearmanr
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    from toolkit.fusion import standardise
    from toolkit.objectives import COLLAPSED, Inputs, get_objective

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    _, ex, *_ = prepare(args.data, "audio_stats", "identity", "kmeans", ())
    reference = standardise(ex.blocks["audio_stats"].values, ex.blocks["audio_stats"].mask)
    truth = np.array([c.labels["genre"] for c in ex.dataset.clips])
    objectives = {name: get_objective(name) for name in CANDIDATES}
    rows = []
    for features, encoder, seed in LATENTS:
        spec, ex2, feats, audio, framing = prepare(args.data, features, encoder, "kmeans", ())
        chain = make_chain(spec, feats, audio, framing, seed)
        Z, _ = chain.fit_predict(ex2.blocks, len(ex2.dataset.clips))
        for algo in ("kmeans", "ward"):
            for k in range(2, 17):

                def fit(X: np.ndarray, draw: int = 0, k: int = k, algo: str = algo) -> np.ndarray:
                    if algo == "kmeans":
                        return KMeans(k, n_init=10, random_state=draw).fit_predict(X)
                    return AgglomerativeClustering(k).fit_predict(X)

                clusters = fit(Z)
                x = Inputs(
                    clusters,
                    reference,
                    np.ones(len(Z), bool),
                    lambda idx, draw, fit=fit, Z=Z: fit(Z[idx], draw),
                )
                row = {
                    "pipeline": f"{encoder}[{features}] seed {seed}",
                    "clusterer": algo,
                    "k": k,
                    "ami": float(adjusted_mutual_info_score(truth, clusters)),
                }
                for name, objective in objectives.items():
                    row[name] = objective.score(x).value
                rows.append(row)
        print(f"{encoder}[{features}] seed {seed}: done", flush=True)

    summary = {}
    for name in CANDIDATES:
        ranked = sorted(rows, key=lambda r: r[name], reverse=True)
        valid = [r for r in rows if r[name] > COLLAPSED]
        rng = np.random.default_rng(0)
        picks = []
        for _ in range(500):  # the pick of a 40-trial search drawn from this grid
            sample = [rows[i] for i in rng.choice(len(rows), 40, replace=False)]
            picks.append(max(sample, key=lambda r: r[name])["ami"])
        summary[name] = {
            "top1_ami": ranked[0]["ami"],
            "top1": f"{ranked[0]['pipeline']} {ranked[0]['clusterer']} K={ranked[0]['k']}",
            "top5_mean_ami": float(np.mean([r["ami"] for r in ranked[:5]])),
            "top5_mean_k": float(np.mean([r["k"] for r in ranked[:5]])),
            "pick_of_40_mean_ami": float(np.mean(picks)),
            "pick_of_40_p10_ami": float(np.percentile(picks, 10)),
            "spearman_with_ami": float(
                spearmanr([r[name] for r in valid], [r["ami"] for r in valid]).statistic
            ),
        }
        print(name, json.dumps(summary[name]), flush=True)
    best = max(rows, key=lambda r: r["ami"])
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "objectives.json").write_text(
        json.dumps({"summary": summary, "rows": rows}, indent=1)
    )
    lines = [
        f"# Label-free objectives on {Path(args.data).parent.name}: what do they pick?",
        "",
        "Written by `python benchmarks/objectives.py`. "
        f"{len(rows)} clusterings: latents of {len(LATENTS)} pipelines x k-means / Ward x "
        "K = 2..16, each scored by every objective (no labels) and, for this table only, by "
        "AMI against genre. 'pick of 40': the AMI of the best-scored clustering among 40 drawn "
        "at random (500 draws), a stand-in for a 40-trial search.",
        "",
        "| objective | top pick | its AMI | top-5 mean AMI | top-5 mean K | pick of 40: mean AMI "
        "| p10 | Spearman with AMI |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['top1']} | {s['top1_ami']:.3f} | {s['top5_mean_ami']:.3f} | "
            f"{s['top5_mean_k']:.1f} | {s['pick_of_40_mean_ami']:.3f} | "
            f"{s['pick_of_40_p10_ami']:.3f} | {s['spearman_with_ami']:.2f} |"
        )
    lines += [
        "",
        f"Best AMI anywhere in the grid (what labels would pick): {best['ami']:.3f} "
        f"({best['pipeline']} {best['clusterer']} K={best['k']}).",
    ]
    (RESULTS / "objectives.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
