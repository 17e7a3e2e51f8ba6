"""Clustering quality of pipelines over several seeds: AMI (and ARI, NMI) against a label column.

    python benchmarks/quality.py [--data ../shared/data/gtzan-mini] [--seeds 5] [--only NAME]

Each pipeline is run with the toolkit's own pieces (the data source, cached extraction, the
fitted chain: fusion -> encoder -> clusterer), without MLflow, once per seed; the features are
extracted once. Labels are read after fitting, for scoring only. Writes
benchmarks/results/quality.json and quality.md (mean +- std over the seeds).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"

#: name -> (features or None for the encoder's defaults, encoder, clusterer, --set items)
PIPELINES: dict[str, tuple[str | None, str, str, tuple[str, ...]]] = {
    "stats + kmeans (baseline)": ("audio_stats", "identity", "kmeans", ("kmeans.n_clusters=10",)),
    "stats + pca + kmeans": ("audio_stats", "pca", "kmeans", ("kmeans.n_clusters=10",)),
    "stats of 3 s windows + kmeans": (
        "audio_stats",
        "identity",
        "kmeans",
        ("kmeans.n_clusters=10", "segments.length=3"),
    ),
    "ae (defaults)": (None, "ae", "kmeans", ("kmeans.n_clusters=10",)),
    "vae (defaults)": (None, "vae", "kmeans", ("kmeans.n_clusters=10",)),
    "conv_vae (defaults)": (None, "conv_vae", "kmeans", ("kmeans.n_clusters=10",)),
    "hybrid_vae (defaults)": (None, "hybrid_vae", "kmeans", ("kmeans.n_clusters=10",)),
    "hybrid_vae preset=published": (
        None,
        "hybrid_vae",
        "kmeans",
        ("hybrid_vae.preset=published", "kmeans.n_clusters=10"),
    ),
    "vade + from_encoder (defaults, K=10)": (
        None,
        "vade",
        "from_encoder",
        ("vade.n_clusters=10",),
    ),
}


def prepare(
    data: str, features: str | None, encoder: str, clusterer: str, sets: tuple[str, ...]
) -> tuple:
    """Resolve the spec, load the clips and extract (cached) their features and the reference
    space's, once, with the run's own core (musiclust.core).

    Returns (spec, extraction, prepared run)."""
    from musiclust import core
    from musiclust.registry import get_registry
    from musiclust.spec import build_spec

    registry = get_registry()
    spec = build_spec(
        registry, data=data, features=features, encoder=encoder, clusterer=clusterer, sets=sets
    )
    prepared = core.prepare(spec, registry, progress=False, quiet=True)
    extraction, _ = core.extract_features(prepared, registry, progress=False)
    return spec, extraction, prepared


def make_chain(spec, prepared, seed: int):
    """The chain a run would fit for ``spec``, its encoder and clusterer seeded."""
    from musiclust import core
    from musiclust.registry import get_registry

    return core.build_chain(spec, get_registry(), seed, prepared.chain.features)


def evaluate(
    data: str, features: str | None, encoder: str, clusterer: str, sets: tuple[str, ...], seeds
) -> dict:
    from sklearn import metrics

    spec, extraction, prepared = prepare(data, features, encoder, clusterer, sets)
    truth = [c.labels["genre"] for c in extraction.dataset.clips]
    reference = extraction.reference_space()  # what a run's label_free K choice scores in
    rows = []
    for seed in seeds:
        chain = make_chain(spec, prepared, seed)
        started = time.perf_counter()
        _, clusters = chain.fit_predict(
            extraction.blocks, len(extraction.dataset.clips), reference=reference
        )
        seconds = time.perf_counter() - started
        rows.append(
            {
                "seed": seed,
                "ami": metrics.adjusted_mutual_info_score(truth, clusters),
                "ari": metrics.adjusted_rand_score(truth, clusters),
                "nmi": metrics.normalized_mutual_info_score(truth, clusters),
                "k": float(len(set(clusters.tolist()) - {-1})),
                "seconds": seconds,
                **{k: float(v) for k, v in chain.encoder.diagnostics().items()},
            }
        )
    summary = {
        key: [float(np.mean([r[key] for r in rows])), float(np.std([r[key] for r in rows]))]
        for key in ("ami", "ari", "nmi", "k", "seconds")
    }
    return {
        "features": [p.name for p in spec.features],
        "encoder": encoder,
        "clusterer": clusterer,
        "sets": list(sets),
        "runs": rows,
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", action="append", help="run only pipelines containing this")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--try",
        dest="extra",
        action="append",
        default=[],
        help="an extra pipeline: 'features|encoder|clusterer|set1 set2' (features may be empty)",
    )
    args = parser.parse_args()
    results = {}
    pipelines = dict(PIPELINES)
    for text in args.extra:
        features, encoder, clusterer, sets = ([*text.split("|"), "", "", "", ""])[:4]
        pipelines[text] = (features or None, encoder, clusterer, tuple(sets.split()))
        args.only = [*(args.only or []), text]
    for name, (features, encoder, clusterer, sets) in pipelines.items():
        if args.only and not any(o in name for o in args.only):
            continue
        started = time.perf_counter()
        out = evaluate(args.data, features, encoder, clusterer, sets, range(args.seeds))
        results[name] = out
        print(
            f"{name:40s} AMI {out['ami'][0]:.3f} +- {out['ami'][1]:.3f}  "
            f"ARI {out['ari'][0]:.3f}  NMI {out['nmi'][0]:.3f}  K {out['k'][0]:.1f}  "
            f"fit {out['seconds'][0]:.1f} s  ({time.perf_counter() - started:.0f} s total)",
            flush=True,
        )
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"data": Path(args.data).name, "seeds": args.seeds, "machine": platform.platform()}
    (RESULTS / "quality.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = [
        f"# Clustering quality on {meta['data']} ({args.seeds} seeds, K=10, genre labels)",
        "",
        "Written by `python benchmarks/quality.py`. Mean +- std over seeds 0..n-1; the",
        "features are each pipeline's own (the encoder's defaults where none are named).",
        "",
        "| pipeline | features | AMI | ARI | NMI | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {','.join(r['features'])} | {r['ami'][0]:.3f} +- {r['ami'][1]:.3f} "
            f"| {r['ari'][0]:.3f} +- {r['ari'][1]:.3f} | {r['nmi'][0]:.3f} +- {r['nmi'][1]:.3f} "
            f"| {r['seconds'][0]:.1f} |"
        )
    (RESULTS / "quality.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
