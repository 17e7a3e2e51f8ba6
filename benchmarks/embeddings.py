"""Pretrained embeddings on the dev clips: clustering quality, cost per clip, and what they hear.

    python benchmarks/embeddings.py [--data ../shared/data/gtzan-mini] [--seeds 5]
        [--reference reference.npz] [--only quality,cost,tags]

- quality: every musicnn model x layer (mean over the clip's patches; the default layer also
  with mean+std), standardised (the run's fusion) and clustered by k-means with K = 10, seeds
  0..n-1, beside ``audio_stats`` + k-means: AMI / ARI / NMI against genre (labels read after
  fitting, for this table only). With ``--reference``, the same protocol on the reference
  implementation's own outputs (recorded by ``tests/data/record_musicnn_reference.py
  --all-layers``), so the port's quality is compared with the reference's, not only its values.
- cost: extraction per clip, cold (an empty cache, worker processes as a run starts them) and
  warm (the cache filled), for ``audio_stats``, each musicnn model, and ``audio_model`` with a
  randomly initialised HuBERT-base (95M parameters: the compute of MERT-95M or wav2vec2-base;
  random weights, so its quality means nothing and is not measured).
- tags: the top three MSD_musicnn tags of the first dev clip of each genre.

Writes benchmarks/results/embeddings.json and embeddings.md (each part updates its own section).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"
MODELS = ("MSD_musicnn", "MTT_musicnn", "MSD_vgg", "MTT_vgg")
LAYERS = ("taggram", "penultimate", "max_pool", "mean_pool")


def quality(data: str, seeds: range, reference: str | None) -> list[dict]:
    from quality import evaluate

    k10 = ("kmeans.n_clusters=10",)
    rows = []
    grid = [("audio_stats", "audio_stats", k10)]
    for model in MODELS:
        for layer in LAYERS:
            sets = (*k10, f"musicnn.model={model}", f"musicnn.layer={layer}")
            grid.append((f"musicnn {model} {layer}", "musicnn", sets))
    grid.append(
        ("musicnn MSD_musicnn penultimate mean_std", "musicnn", (*k10, "musicnn.pooling=mean_std"))
    )
    for name, features, sets in grid:
        out = evaluate(data, features, "identity", "kmeans", sets, seeds)
        rows.append({"pipeline": name, "implementation": "port", **_scores(out)})
        print(f"{name:45s} AMI {out['ami'][0]:.3f} +- {out['ami'][1]:.3f}", flush=True)
    if reference:
        rows += reference_quality(data, reference, seeds)
    return rows


def _scores(out: dict) -> dict:
    return {k: out[k] for k in ("ami", "ari", "nmi")}


def reference_quality(data: str, path: str, seeds: range) -> list[dict]:
    """The same protocol on the reference implementation's recorded per-patch outputs."""
    from sklearn import metrics
    from sklearn.cluster import KMeans

    from musiclust.fusion import Fusion

    recorded = np.load(path, allow_pickle=True)
    stems = [str(s) for s in recorded["stems"]]
    truth = [s.split(".")[0] for s in stems]
    rows = []
    for key in sorted(k for k in recorded.files if k.count("/") == 1):
        model, layer = key.split("/")
        values = np.stack([p.mean(axis=0) for p in recorded[key]]).astype(np.float32)
        every = np.ones(len(values), bool)  # the run's own fusion, as for the port's rows
        X = Fusion().fit_transform({"x": values}, {"x": every}).vectors
        runs = [KMeans(10, n_init=10, random_state=s).fit_predict(X) for s in seeds]
        scores = {
            name: [
                float(np.mean([fn(truth, c) for c in runs])),
                float(np.std([fn(truth, c) for c in runs])),
            ]
            for name, fn in (
                ("ami", metrics.adjusted_mutual_info_score),
                ("ari", metrics.adjusted_rand_score),
                ("nmi", metrics.normalized_mutual_info_score),
            )
        }
        rows.append(
            {"pipeline": f"musicnn {model} {layer}", "implementation": "reference", **scores}
        )
        print(f"reference {key:35s} AMI {scores['ami'][0]:.3f}", flush=True)
    return rows


def cost(data: str) -> list[dict]:
    """Seconds per clip, cold (fresh cache) and warm, through the toolkit's extraction."""
    from musiclust.audio import AudioSettings
    from musiclust.cache import FeatureCache
    from musiclust.extraction import extract
    from musiclust.registry import get_registry
    from musiclust.spec import instantiate

    registry = get_registry()
    source = registry.get("source", "folder").cls(path=str(Path(data) / "genres_original"))
    dataset = source.load()
    n = len(dataset.clips)
    seconds = sum(sf_duration(c.audio) for c in dataset.clips)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "hubert-base"
        random_hubert(model_dir)
        cases = [("audio_stats", {})]
        cases += [("musicnn", {"model": m}) for m in MODELS]
        cases += [("audio_model", {"path": str(model_dir)})]
        for name, params in cases:
            from musiclust.spec import Part

            feature = instantiate(registry, "feature", Part(name, params), 0)
            cache = FeatureCache(Path(tmp) / f"cache-{name}-{len(rows)}")
            started = time.perf_counter()
            extract(dataset, [feature], AudioSettings(), cache=cache, progress=False)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            extract(dataset, [feature], AudioSettings(), cache=cache, progress=False)
            warm = time.perf_counter() - started
            label = name + (f" {params['model']}" if "model" in params else "")
            if name == "audio_model":
                label += " (HuBERT-base size, random weights)"
            rows.append(
                {
                    "feature": label,
                    "clips": n,
                    "audio_seconds": seconds,
                    "cold_s_per_clip": cold / n,
                    "warm_s_per_clip": warm / n,
                    "cold_x_realtime": seconds / cold,
                }
            )
            print(f"{label:45s} cold {cold / n * 1000:.0f} ms/clip, warm {warm / n * 1e3:.2f}")
    return rows


def sf_duration(path: Path) -> float:
    import soundfile as sf

    info = sf.info(str(path))
    return info.frames / info.samplerate


def random_hubert(folder: Path) -> None:
    """A HuBERT-base-sized model with random weights (no download), saved like a real one."""
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    HubertModel(HubertConfig()).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)


def tags(data: str) -> list[dict]:
    import librosa
    import soundfile as sf

    from musiclust.plugins.features.musicnn import weights_folder
    from musiclust.plugins.features.nets import musicnn as nets

    net = nets.load("MSD_musicnn", str(weights_folder("", "MSD_musicnn")))
    names = nets.tags("MSD_musicnn")
    rows = []
    for genre_dir in sorted((Path(data) / "genres_original").iterdir()):
        path = sorted(genre_dir.glob("*.wav"))[0]
        y, sr = sf.read(path, dtype="float32")
        y = librosa.resample(y, orig_sr=sr, target_sr=nets.SAMPLE_RATE, res_type="soxr_hq")
        taggram = nets.embed(net, nets.patches(nets.log_mel(y)))["taggram"].mean(axis=0)
        top = np.argsort(taggram)[::-1][:3]
        rows.append({"clip": path.stem, "tags": [f"{names[i]} ({taggram[i]:.2f})" for i in top]})
        print(path.stem, ", ".join(rows[-1]["tags"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--reference", help="the reference's recorded outputs (.npz)")
    parser.add_argument("--only", default="quality,cost,tags")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    parts = args.only.split(",")
    path = RESULTS / "embeddings.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if "quality" in parts:
        saved["quality"] = quality(
            str(Path(args.data) / "genres_original"), range(args.seeds), args.reference
        )
        saved["seeds"] = args.seeds
    if "cost" in parts:
        saved["cost"] = cost(args.data)
    if "tags" in parts:
        saved["tags"] = tags(args.data)
    if args.no_write:
        return
    saved["meta"] = {
        "data": Path(args.data).name,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    (RESULTS / "embeddings.md").write_text(markdown(saved))


def markdown(saved: dict) -> str:
    meta = saved["meta"]
    lines = [f"# Pretrained embeddings on {meta['data']} ({meta['cpus']} CPUs)", ""]
    if "quality" in saved:
        lines += [
            f"## Clustering quality (k-means, K = 10, mean +- std over {saved['seeds']} seeds)",
            "",
            "Written by `python benchmarks/embeddings.py --only quality`. Each layer is "
            "averaged over the clip's 3 s patches (mean_std: mean and standard deviation), "
            "standardised per column (the run's fusion), and clustered by k-means; `reference` "
            "rows apply the same protocol to the reference implementation's recorded outputs "
            "(TensorFlow 2.15). The reference returns its first patch's `penultimate` for every "
            "patch (its batching loop never rebinds it), so its `penultimate` row describes the "
            "first 3 s of each clip; the port's pools every patch. For the vgg models the "
            "reference's `pool5` is the port's `penultimate`.",
            "",
            "| features | implementation | AMI | ARI | NMI |",
            "|---|---|---|---|---|",
        ]
        for r in saved["quality"]:
            lines.append(
                f"| {r['pipeline']} | {r['implementation']} | {r['ami'][0]:.3f} +- "
                f"{r['ami'][1]:.3f} | {r['ari'][0]:.3f} +- {r['ari'][1]:.3f} | "
                f"{r['nmi'][0]:.3f} +- {r['nmi'][1]:.3f} |"
            )
        lines.append("")
    if "cost" in saved:
        lines += [
            "## Extraction cost per clip",
            "",
            "Written by `python benchmarks/embeddings.py --only cost`: the toolkit's extraction "
            "of every dev clip (15-20 s each, decoded at 22050 Hz), cold (empty cache, worker "
            "processes on every core) and warm (from the cache).",
            "",
            "| feature | clips | cold ms/clip | x real time | warm ms/clip |",
            "|---|---|---|---|---|",
        ]
        for r in saved["cost"]:
            lines.append(
                f"| {r['feature']} | {r['clips']} | {r['cold_s_per_clip'] * 1000:.0f} | "
                f"{r['cold_x_realtime']:.0f} | {r['warm_s_per_clip'] * 1000:.2f} |"
            )
        lines.append("")
    if "tags" in saved:
        lines += [
            "## What MSD_musicnn hears (top three tags of the first clip of each genre)",
            "",
            "| clip | top tags (mean probability over its patches) |",
            "|---|---|",
        ]
        lines += [f"| {r['clip']} | {', '.join(r['tags'])} |" for r in saved["tags"]]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
