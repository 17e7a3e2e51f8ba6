"""Training speed of every trained encoder on the gtzan-mini features: seconds per epoch and
training rows per second, on the CPU and on CUDA where there is one.

    python benchmarks/encoders.py [--data ../shared/data/gtzan-mini] [--epochs 20]

On a machine without librosa or the data (a GPU box), time the same inputs saved here:

    python benchmarks/encoders.py --save-inputs .device/inputs.pkl     # here
    python benchmarks/encoders.py --inputs .device/inputs.pkl --results DIR   # there

The features are extracted once (cached) with each encoder's default features and default
windows (3 s windows for the 2-D features), fused as a run fuses them, then each encoder trains
for ``--epochs`` epochs with early stopping off. Writes benchmarks/results/encoders.json and
encoders.md.

At a larger size, the issue's GPU target (10,000 rows, CUDA against the CPU's threads):

    python benchmarks/encoders.py --inputs .device/inputs.pkl --rows 10000 --epochs 5 \
        --encoders conv_vae,hybrid_vae --batch-sizes 64,512 --precisions float32,bfloat16 \
        --results DIR

``--rows`` repeats each input's rows, each copy with a little noise and its own clips, up to
that many rows (written to encoders-<rows>.md and .json). ``--batch-sizes`` times each batch
size on every device; ``--precisions`` adds CUDA rows in those precisions (the CPU rows stay
float32: a CPU without bfloat16 units is much slower in it).
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"
ENCODERS = {
    "ae": (),
    "vae": (),
    "conv_vae": (),
    "hybrid_vae": (),
    "hybrid_vae (published)": ("hybrid_vae.preset=published",),
    "cvae": ("cvae.condition=genre",),  # timing only: the condition's values do not matter
    "vade": ("vade.n_clusters=10", "vade.pretrain_epochs=0"),
}


def encoder_input(data: str, encoder: str, sets: tuple[str, ...]) -> tuple:
    """The spec and the fitted fusion's output for the encoder's default features."""
    from quality import prepare

    spec, extraction, prepared = prepare(data, None, encoder, "kmeans", sets)
    chain = prepared.chain
    clips = extraction.dataset.clips
    columns = {"genre": [c.labels.get("genre") for c in clips]}
    return spec, chain.fit_input(extraction.blocks, len(clips), columns)


def grown(X, rows: int, seed: int = 0):
    """``X`` with its rows repeated up to ``rows``: every copy jittered by 1% noise and its
    clips (groups) renumbered, so the validation split still holds out whole clips."""
    from dataclasses import replace

    n = len(X)
    pick = np.arange(rows) % n
    copy = np.arange(rows) // n
    rng = np.random.default_rng(seed)

    def grow(a):
        if a is None:
            return None
        out = a[pick]
        if out.dtype.kind == "f":
            out = out + 0.01 * rng.standard_normal(out.shape).astype(out.dtype)
        return out

    groups = np.arange(n) if X.groups is None else np.asarray(X.groups)
    blocks = {k: grow(v) for k, v in X.blocks.items()}
    vector_blocks = [b for b in blocks.values() if b.ndim == 2]  # fusion's concatenation
    return replace(
        X,
        vectors=np.concatenate(vector_blocks, axis=1) if X.vectors is not None else None,
        blocks=blocks,
        masks={k: v[pick] for k, v in X.masks.items()},
        groups=groups[pick] + copy * (groups.max() + 1),
        columns={k: np.asarray(v)[pick] for k, v in X.columns.items()},
    )


def time_encoder(
    spec, X, epochs: int, device: str, precision: str = "float32", batch_size: int | None = None
) -> dict:
    from musiclust.registry import get_registry
    from musiclust.spec import instantiate

    part = spec.encoder
    part.params.update(epochs=epochs, patience=100_000, device=device, precision=precision)
    if batch_size:
        part.params["batch_size"] = batch_size
    encoder = instantiate(get_registry(), "encoder", part, 0).fit(X)
    seconds = [h["seconds"] for h in encoder.history()[1:]]  # the first epoch warms up
    rows = len(X) * (1 - encoder.val_fraction)
    return {
        "device": device,
        "precision": precision,
        "batch_size": encoder.batch_size,
        "rows": len(X),
        "features": [p.name for p in spec.features],
        "parameters": encoder.n_parameters_,
        "seconds_per_epoch": float(np.median(seconds)),
        "rows_per_second": float(rows / np.median(seconds)),
    }


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--save-inputs", help="write each encoder's (spec, input) here; stop")
    parser.add_argument("--inputs", help="time inputs saved by --save-inputs (no extraction)")
    parser.add_argument("--results", default=str(RESULTS), help="folder for the tables")
    parser.add_argument("--rows", type=int, help="repeat each input's rows up to this many")
    parser.add_argument("--encoders", help="comma-separated labels to time (default: all)")
    parser.add_argument("--batch-sizes", help="comma-separated batch sizes (default: each's own)")
    parser.add_argument("--precisions", default="float32", help="CUDA's, comma-separated")
    args = parser.parse_args()
    wanted = args.encoders.split(",") if args.encoders else list(ENCODERS)
    unknown = set(wanted) - set(ENCODERS)
    if unknown:
        parser.error(f"unknown encoder(s) {sorted(unknown)}; known: {', '.join(ENCODERS)}")
    if args.inputs:
        inputs = pickle.loads(Path(args.inputs).read_bytes())
        inputs = {label: inputs[label] for label in wanted}
    else:
        inputs = {
            label: encoder_input(args.data, label.split()[0], ENCODERS[label]) for label in wanted
        }
    if args.rows:
        inputs = {label: (spec, grown(X, args.rows)) for label, (spec, X) in inputs.items()}
    if args.save_inputs:
        Path(args.save_inputs).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save_inputs).write_bytes(pickle.dumps(inputs))
        return
    runs = [("cpu", "float32")]
    if torch.cuda.is_available():
        runs += [("cuda", precision) for precision in args.precisions.split(",")]
    sizes = [int(b) for b in args.batch_sizes.split(",")] if args.batch_sizes else [None]
    results = []
    for label, (spec, X) in inputs.items():
        for size in sizes:
            for device, precision in runs:
                out = time_encoder(spec, X, args.epochs, device, precision, size)
                results.append({"encoder": label, **out})
                print(
                    f"{label:24s} {device:5s} {precision:8s} batch {out['batch_size']:4d} "
                    f"{out['rows']:6d} rows  {out['parameters']:>9,d} params  "
                    f"{out['seconds_per_epoch'] * 1000:7.1f} ms/epoch  "
                    f"{out['rows_per_second']:8.0f} rows/s",
                    flush=True,
                )
    meta = {
        "data": Path(args.data).name,
        "epochs": args.epochs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.platform(),
    }
    results_dir = Path(args.results)
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = f"encoders-{args.rows}" if args.rows else "encoders"
    (results_dir / f"{stem}.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=1)
    )
    lines = [
        f"# Encoder training speed on {meta['data']} (torch {meta['torch']}, "
        f"{meta['threads']} CPU threads, GPU: {meta['gpu'] or 'none on this machine'})",
        "",
        "Written by `python benchmarks/encoders.py`: median seconds per epoch over "
        f"{args.epochs} epochs (the first left out), rows = clips or 3 s windows"
        + (f", repeated with 1% noise up to {args.rows:,} (--rows)." if args.rows else "."),
        "",
        "| encoder | device | precision | batch | features | rows | parameters | ms/epoch "
        "| rows/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['encoder']} | {r['device']} | {r['precision']} | {r['batch_size']} "
            f"| {','.join(r['features'])} | {r['rows']} "
            f"| {r['parameters']:,} | {r['seconds_per_epoch'] * 1000:.1f} "
            f"| {r['rows_per_second']:.0f} |"
        )
    (results_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
