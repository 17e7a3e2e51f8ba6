"""Which label-free objective, in which reference space, picks well? Scored on real clusterings.

    python benchmarks/objectives.py [--data ../shared/data/gtzan-mini/genres_original]

Latents of several pipelines (the statistics as they are, PCA, trained autoencoders and VAEs;
the same on the pretrained ``musicnn`` embedding), each framed as a search may frame it (whole
clips; 2 s or 3 s windows returned to the clip by their mean latent, their mean features or a
vote), are clustered with k-means, Ward and a diagonal Gaussian mixture for K = 2..20, the
search's range. Every clustering is scored by each objective of :mod:`musiclust.objectives`
(never the labels) in candidate reference spaces (:mod:`musiclust.reference`): ``audio_stats``
of whole clips, ``audio_stats`` over 2 s texture windows, ``musicnn``, and the texture
statistics beside ``musicnn`` (the default where its weights are installed). For this report
only, each is also scored by AMI against genre: a good objective's top picks have a high AMI.
Summaries are given over the whole grid and over the statistics' pipelines alone (what a
search without musicnn sees). The stability re-fit redoes the clustering's own way to the clip
(windows re-clustered and voting for vote). Writes benchmarks/results/objectives.json and
objectives.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini" / "genres_original"
WINDOWED = [
    (2, "latent"),
    (2, "features"),
    (2, "vote"),
    (3, "latent"),
    (3, "features"),
    (3, "vote"),
]
#: (feature, encoder, seed, framings): trained encoders only with windows (50 clips are too
#: few rows); musicnn's 3 s windows are one patch each
MUSICNN_WINDOWED = [(3, "latent"), (3, "vote")]
LATENTS = [
    ("audio_stats", "identity", 0, [(None, "latent"), *WINDOWED]),
    ("audio_stats", "pca", 0, [(None, "latent"), *WINDOWED]),
    ("audio_stats", "ae", 0, [f for f in WINDOWED if f[1] != "features"]),
    ("audio_stats", "vae", 0, [f for f in WINDOWED if f[1] != "features"]),
    ("musicnn", "identity", 0, [(None, "latent"), *MUSICNN_WINDOWED]),
    ("musicnn", "pca", 0, [(None, "latent"), *MUSICNN_WINDOWED]),
    ("musicnn", "ae", 0, MUSICNN_WINDOWED),
]
CLUSTERERS = ("kmeans", "ward", "gmm")
KS = range(2, 21)
CANDIDATES = ("reference_silhouette", "reference_gap", "stability", "label_free")
#: name -> [(feature, texture window or None)]
REFERENCES = {
    "audio_stats, whole clips": [("audio_stats", None)],
    "audio_stats, 2 s texture windows": [("audio_stats", 2.0)],
    "musicnn": [("musicnn", None)],
    "audio_stats (2 s) + musicnn": [("audio_stats", 2.0), ("musicnn", None)],
}


def fitter(algo: str, k: int):
    from sklearn.cluster import AgglomerativeClustering, KMeans
    from sklearn.mixture import GaussianMixture

    def fit(X: np.ndarray, draw: int = 0) -> np.ndarray:
        if algo == "kmeans":
            return KMeans(k, n_init=10, random_state=draw).fit_predict(X)
        if algo == "ward":
            return AgglomerativeClustering(k).fit_predict(X)
        model = GaussianMixture(k, covariance_type="diag", n_init=2, random_state=draw)
        return model.fit(X).predict(X)

    return fit


class Seeded:
    """The clusterer of one clustering, seeded for a re-fit draw (what refitter expects)."""

    def __init__(self, fit, draw: int) -> None:
        self.fit, self.draw = fit, draw

    def fit_predict(self, Z: np.ndarray) -> np.ndarray:
        return self.fit(Z, self.draw)


def references(data: str) -> dict[str, np.ndarray]:
    """Each candidate reference space, as :func:`musiclust.reference.space` builds it."""
    from quality import prepare

    from musiclust.reference import space
    from musiclust.segments import mean_by_group

    out = {}
    for name, parts in REFERENCES.items():
        blocks = []
        for feature, window in parts:
            sets = () if window is None else (f"segments.length={window}",)
            _, ex, *_ = prepare(data, feature, "identity", "kmeans", sets)
            block = ex.blocks[feature]
            values = block.values
            if block.groups is not None:
                values = mean_by_group(values, block.groups, len(ex.dataset.clips))
            blocks.append((values, np.ones(len(values), bool)))
        out[name] = space(blocks)
    return out


def clusterings(data: str):
    """Yield (description, clusters, refit) over the grid."""
    from quality import make_chain, prepare

    from musiclust.search import refitter
    from musiclust.segments import mean_by_group, vote

    for feature, encoder, seed, framings in LATENTS:
        for length, back in framings:
            sets = () if length is None else (f"segments.length={length}", f"segments.back={back}")
            spec, ex, prepared = prepare(data, feature, encoder, "kmeans", sets)
            n = len(ex.dataset.clips)
            chain = make_chain(spec, prepared, seed)
            X = chain.fit_input(ex.blocks, n)
            rows = np.asarray(chain.encoder.fit_transform(X), dtype=np.float64)
            groups = X.groups
            latent = rows if groups is None else mean_by_group(rows, groups, n)
            for algo in CLUSTERERS:
                for k in KS:
                    fit = fitter(algo, k)
                    if groups is not None and back == "vote":
                        clusters = vote(fit(rows), groups, n)
                    else:
                        clusters = fit(latent)
                    refit = refitter(partial(Seeded, fit), latent, clusters, back, groups, rows)
                    frame = "whole clips" if length is None else f"{length} s {back}"
                    yield (
                        {
                            "pipeline": f"{feature} {encoder} [{frame}]",
                            "feature": feature,
                            "clusterer": algo,
                            "k": k,
                        },
                        clusters,
                        refit,
                    )
            print(f"{feature} {encoder} {length} {back}: done", flush=True)


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per (reference|objective): top picks, pick of 40 (1000 draws), Spearman with AMI."""
    from scipy.stats import spearmanr

    from musiclust.objectives import COLLAPSED

    summary = {}
    rng = np.random.default_rng(0)
    draws = [rng.choice(len(rows), 40, replace=False) for _ in range(1000)]
    for key in [k for k in rows[0] if "|" in k]:
        ranked = sorted(rows, key=lambda r: r[key], reverse=True)
        valid = [r for r in rows if r[key] > COLLAPSED]
        picks = [max((rows[i] for i in d), key=lambda r: r[key])["ami"] for d in draws]
        summary[key] = {
            "top1": f"{ranked[0]['pipeline']} {ranked[0]['clusterer']} K={ranked[0]['k']}",
            "top1_ami": ranked[0]["ami"],
            "top5_mean_ami": float(np.mean([r["ami"] for r in ranked[:5]])),
            "top5_mean_k": float(np.mean([r["k"] for r in ranked[:5]])),
            "pick_of_40_mean_ami": float(np.mean(picks)),
            "pick_of_40_p10_ami": float(np.percentile(picks, 10)),
            "spearman_with_ami": float(
                spearmanr([r[key] for r in valid], [r["ami"] for r in valid]).statistic
            ),
        }
        print(key, json.dumps(summary[key]), flush=True)
    return summary


def main() -> None:
    from quality import prepare
    from sklearn.metrics import adjusted_mutual_info_score

    from musiclust.objectives import Inputs, get_objective

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    refs = references(args.data)
    _, ex, *_ = prepare(args.data, "audio_stats", "identity", "kmeans", ())
    truth = np.array([c.labels["genre"] for c in ex.dataset.clips])
    everywhere = np.ones(len(truth), bool)
    # one objective per (reference, name), so the null silhouettes are computed once per K
    objectives = {(r, n): get_objective(n) for r in refs for n in CANDIDATES}
    stable = get_objective("stability")
    rows = []
    for row, clusters, refit in clusterings(args.data):
        row["ami"] = float(adjusted_mutual_info_score(truth, clusters))
        x = Inputs(clusters, None, everywhere, refit)
        stability = stable.score(x).value  # once a row (COLLAPSED when collapsed)
        for (ref_name, name), objective in objectives.items():
            objective.stability = lambda _x, s=stability: s  # the same draws for every space
            scored = objective.score(Inputs(clusters, refs[ref_name], everywhere, refit))
            row[f"{ref_name}|{name}"] = scored.value
        rows.append(row)

    grids = {
        "every pipeline": rows,
        "the statistics' pipelines alone": [r for r in rows if r["feature"] == "audio_stats"],
    }
    summary = {grid: summarise(subset) for grid, subset in grids.items()}
    print(f"{len(rows)} clusterings in {time.perf_counter() - started:.0f} s")
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "objectives.json").write_text(  # compact: a row per clustering, 1000s of them
        json.dumps({"summary": summary, "rows": rows}, separators=(",", ":"))
    )
    pipelines = sorted({r["pipeline"] for r in rows})
    lines = [
        f"# Label-free objectives on {Path(args.data).parent.name}: what do they pick?",
        "",
        f"Written by `python benchmarks/objectives.py`. {len(rows)} clusterings: "
        f"{len(pipelines)} framed latents ({', '.join(pipelines)}) x k-means / Ward / "
        "diagonal GMM x K = 2..20, each scored by every objective in each candidate reference "
        "space (no labels) and, for this table only, by AMI against genre. 'pick of 40': the "
        "AMI of the best-scored clustering among 40 drawn at random (1000 draws), a stand-in "
        "for a 40-trial search.",
    ]
    for grid, table in summary.items():
        subset = grids[grid]
        lines += [
            "",
            f"## {grid[0].upper()}{grid[1:]} ({len(subset)} clusterings, mean AMI "
            f"{np.mean([r['ami'] for r in subset]):.3f})",
            "",
            "| reference space | objective | top pick | its AMI | top-5 mean AMI | top-5 mean K "
            "| pick of 40: mean AMI | p10 | Spearman with AMI |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for key, s in table.items():
            ref_name, name = key.split("|")
            lines.append(
                f"| {ref_name} | {name} | {s['top1']} | {s['top1_ami']:.3f} | "
                f"{s['top5_mean_ami']:.3f} | {s['top5_mean_k']:.1f} | "
                f"{s['pick_of_40_mean_ami']:.3f} | {s['pick_of_40_p10_ami']:.3f} | "
                f"{s['spearman_with_ami']:.2f} |"
            )
        best = max(subset, key=lambda r: r["ami"])
        lines += [
            "",
            f"Best AMI in this grid (what labels would pick): {best['ami']:.3f} "
            f"({best['pipeline']} {best['clusterer']} K={best['k']}).",
        ]
    (RESULTS / "objectives.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
