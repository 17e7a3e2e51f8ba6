"""Audio + lyrics fusion: does each modality count? Both directions, measured.

    python benchmarks/fusion.py [--seeds 5] [--data-seeds 5] [--audio audio_stats,musicnn]

Dev collections where a label lives in one modality only (made by the demo source), and a real
one:

- lyrics carry it: ``demo.styles=1 demo.n_per_style=60 demo.languages=3``: 60 songs of one
  style, each sung in one of three languages drawn at random: ``language`` (K = 3) lives only
  in the lyrics;
- audio carries it: ``demo.languages=1``: 60 songs in five styles, all sung in one language with
  words drawn independently of the style: ``genre`` (K = 5) lives only in the audio;
- both, competing: ``demo.languages=3``: five styles x three languages, each label in one
  modality and the other modality holding a structure of its own (no single clustering can
  follow both: reported, not a target);
- gtzan-mini with its transcribed lyrics (35 of 50 clips; noisy): ``genre`` (K = 10).

For each label: the audio feature alone, ``tfidf`` alone, and the two fused under each
balance of :class:`musiclust.fusion.Fusion` (``variance``: each block scaled to unit total
variance; ``mfa``: multiple factor analysis, each block divided by its first principal standard
deviation; ``auto``: ``mfa`` over the blocks that rise above the noise edge), through the
identity and PCA encoders and k-means with K the label's number of classes; mean +- std AMI
over seeds 0..n-1 and, for the demo collections, over data seeds 0..m-1 (each a new synthesis).
A fused pipeline passes when it keeps at least 0.9 of the AMI of the modality that carries the
label. Labels are read after fitting, for scoring.
Writes benchmarks/results/fusion.json and fusion.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
GTZAN = ROOT.parent / "shared" / "data" / "gtzan-mini"
BALANCES = ("variance", "mfa", "auto")
ENCODERS = ("identity", "pca")
ONE_STYLE = ("demo.styles=1", "demo.n_per_style=60")
#: (case name, data, extra --set items, label, K)
CASES = [
    ("lyrics carry it: language", None, (*ONE_STYLE, "demo.languages=3"), "language", 3),
    ("audio carries it: genre", None, ("demo.languages=1",), "genre", 5),
    ("both, competing: language", None, ("demo.languages=3",), "language", 3),
    ("both, competing: genre", None, ("demo.languages=3",), "genre", 5),
    ("gtzan-mini with transcribed lyrics: genre", str(GTZAN / "genres_original"), (), "genre", 10),
]


def evaluate(data, features, encoder, sets, label, k, balance, seeds, data_seeds=1) -> list:
    if data is None and data_seeds > 1:  # the demo: each data seed a new synthesis
        return [
            a
            for d in range(data_seeds)
            for a in evaluate(
                data, features, encoder, (*sets, f"demo.data_seed={d}"), label, k, balance, seeds
            )
        ]
    from quality import make_chain, prepare
    from sklearn.metrics import adjusted_mutual_info_score

    sets = (*sets, f"kmeans.n_clusters={k}", f"fusion.balance={balance}")
    spec, ex, prepared = prepare(data, features, encoder, "kmeans", sets)
    truth = [c.labels[label] for c in ex.dataset.clips]
    out = []
    for seed in seeds:
        chain = make_chain(spec, prepared, seed)
        _, clusters = chain.fit_predict(ex.blocks, len(ex.dataset.clips))
        out.append(float(adjusted_mutual_info_score(truth, clusters)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--data-seeds", type=int, default=5, help="syntheses of the demo")
    parser.add_argument("--audio", default="audio_stats,musicnn", help="audio features to try")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    seeds = range(args.seeds)
    rows = []
    for case, data, sets, label, k in CASES:
        if data and not Path(data).is_dir():
            print(f"{case}: skipped ({data} is absent)")
            continue
        for audio in args.audio.split(","):
            for encoder in ENCODERS:
                alone = {
                    feats: evaluate(
                        data, feats, encoder, sets, label, k, "mfa", seeds, args.data_seeds
                    )
                    for feats in (audio, "tfidf")
                }
                fused = {
                    b: evaluate(
                        data, f"{audio},tfidf", encoder, sets, label, k, b, seeds, args.data_seeds
                    )
                    for b in BALANCES
                }
                carrier = max(np.mean(v) for v in alone.values())
                row = {
                    "case": case,
                    "audio": audio,
                    "encoder": encoder,
                    "k": k,
                    "alone": {f: [float(np.mean(v)), float(np.std(v))] for f, v in alone.items()},
                    "fused": {b: [float(np.mean(v)), float(np.std(v))] for b, v in fused.items()},
                    "carrier": float(carrier),
                }
                rows.append(row)
                shown = "  ".join(f"{b} {np.mean(v):.3f}" for b, v in fused.items())
                print(
                    f"{case} | {audio} {encoder}: audio {np.mean(alone[audio]):.3f}  "
                    f"tfidf {np.mean(alone['tfidf']):.3f}  fused: {shown}",
                    flush=True,
                )
    if args.no_write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {
        "seeds": args.seeds,
        "data_seeds": args.data_seeds,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    (RESULTS / "fusion.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Audio + lyrics fusion: does each modality count?",
        "",
        f"Written by `python benchmarks/fusion.py`. AMI against the label, mean +- std over "
        f"{args.seeds} seeds (and, for the demo collections, {args.data_seeds} syntheses), "
        "k-means with K the label's number of classes. "
        "'ratio': fused AMI "
        "over the AMI of the modality that carries the label alone (the better one); the "
        "target is 0.9 or more.",
        "",
        "| case | audio feature | encoder | audio alone | tfidf alone | "
        + " | ".join(f"fused, {b} (ratio)" for b in BALANCES)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(BALANCES),
    ]
    for r in rows:
        cells = [
            f"{r['fused'][b][0]:.3f} +- {r['fused'][b][1]:.3f} "
            f"({r['fused'][b][0] / max(r['carrier'], 1e-9):.2f})"
            for b in BALANCES
        ]
        lines.append(
            f"| {r['case']} | {r['audio']} | {r['encoder']} | "
            f"{r['alone'][r['audio']][0]:.3f} +- {r['alone'][r['audio']][1]:.3f} | "
            f"{r['alone']['tfidf'][0]:.3f} +- {r['alone']['tfidf'][1]:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    (RESULTS / "fusion.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
