"""The search on gtzan-mini: what a label-free search picks, and how fast trials run.

    python benchmarks/search.py --quality [--seeds 0,1,2]   # 40-trial label-free searches
    python benchmarks/search.py --speed [--trials 16]       # trials/min, 1 and 2 workers

Quality: the search command of docs/search.md (encoders identity, pca, ae, vae, vade;
clusterers k-means, agglomerative, GMM; audio_stats features; the default label-free
objective), 40 trials per seed; the AMI against genre of the trial the objective picks is
read afterwards, for this
report only. Speed: a fresh study per setting over a smaller space after one warm-up search
has filled the feature cache, so the figures measure trials, not feature extraction; no
pruning, no re-fit. Every study runs in a temporary folder (sqlite storage and MLflow store).
Writes benchmarks/results/search.json and search.md (each mode updates its own part).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "gtzan-mini"
SPACE = {
    "encoders": ["pca", "ae"],
    "clusterers": ["kmeans", "agglomerative", "gmm"],
    "features": ["audio_stats"],
    "sets": ["ae.epochs=100"],
}
#: The key suffix of a table whose searches sampled every trial (no plain run first).
SAMPLED = " / sampled"
QUALITY_SPACE: dict = {
    "encoders": ["identity", "pca", "ae", "vae", "vade"],
    "clusterers": ["kmeans", "agglomerative", "gmm"],
    "features": ["audio_stats"],
}


def one_search(
    data: str,
    trials: int,
    workers: int,
    folder: Path,
    space: dict | None = None,
    seed: int = 0,
    speed: bool = True,
) -> dict:
    import mlflow
    import optuna

    from musiclust.search import SearchOptions, search
    from musiclust.space import PLAIN_RUN, START_ATTR

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    storage = f"sqlite:///{folder / 'optuna.db'}"
    started = time.perf_counter()
    result = search(
        SearchOptions(
            data=data,
            trials=trials,
            workers=workers,
            storage=storage,
            refit=False,
            pruner="none" if speed else "median",
            confirm=0 if speed else 3,  # speed: trials alone
            seed=seed,
            **(space or SPACE),
        )
    )
    seconds = time.perf_counter() - started
    study = optuna.load_study(study_name=result.study, storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    picked = study.trials[result.best_trial] if result.best_trial is not None else None
    single = study.best_trial if picked is not None else None  # the single best score
    durations = [t.duration.total_seconds() for t in finished if t.duration]
    return {
        "workers": workers,
        "trials": len(finished),
        "repeats": sum("duplicate_of" in t.user_attrs for t in finished),  # score reused
        "seconds": seconds,
        "trials_per_minute": 60 * len(finished) / seconds,
        "mean_trial_seconds": sum(durations) / max(len(durations), 1),
        "counts": result.counts,
        "seed": seed,
        "best": result.best_label,
        "best_framing": _framing(picked.params) if picked is not None else "",
        "best_k": result.best_metrics.get("n_clusters"),
        "best_ami": result.best_metrics.get("genre.ami"),
        "best_objective": result.best_value,
        "confirmed": picked is not None and picked.number != single.number,
        # a new study's trial 0 is the plain run's pipeline when the space holds it
        "plain_run_ami": next(
            (
                t.user_attrs.get("metrics", {}).get("genre.ami")
                for t in finished
                if t.user_attrs.get(START_ATTR) == PLAIN_RUN
            ),
            None,
        ),
        "picked_plain_run": picked is not None and picked.user_attrs.get(START_ATTR) == PLAIN_RUN,
        "single_best": single.user_attrs.get("pipeline") if single is not None else None,
        "single_best_ami": (
            single.user_attrs.get("metrics", {}).get("genre.ami") if single is not None else None
        ),
        "max_ami_in_study": max(
            (t.user_attrs.get("metrics", {}).get("genre.ami", float("-inf")) for t in finished),
            default=None,
        ),
    }


def reference_features() -> str:
    """The reference space the trials were scored in (audio data, default setting)."""
    from musiclust import reference
    from musiclust.registry import get_registry

    return ",".join(reference.resolve(get_registry(), "auto", True, True))


def _framing(params: dict) -> str:
    """The picked trial's framing: whole clips, or the window length and the way back."""
    length = params.get("segments.length", "")
    if length is None:
        return "whole clips"
    back = params.get("segments.back")
    return f"{length:g} s windows, {back}" if length != "" else (back or "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA / "genres_original"))
    parser.add_argument("--quality", action="store_true", help="40-trial label-free searches")
    parser.add_argument("--speed", action="store_true", help="trials/min with 1 and 2 workers")
    parser.add_argument("--trials", type=int, default=16, help="trials per speed setting")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the quality searches")
    parser.add_argument("--encoders", help="the quality searches' encoders (comma-separated)")
    parser.add_argument("--features", help="the quality searches' features (comma-separated)")
    parser.add_argument(
        "--sampled",
        action="store_true",
        help="every trial sampled (--start sampled): the table before the plain run",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.encoders:
        QUALITY_SPACE["encoders"] = args.encoders.split(",")
    if args.features:
        QUALITY_SPACE["features"] = args.features.split(",")
    if args.sampled:
        QUALITY_SPACE["start"] = "sampled"
    path = RESULTS / "search.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        if args.quality:
            rows = []
            for seed in [int(s) for s in args.seeds.split(",")]:
                folder = Path(tmp) / f"q{seed}"
                folder.mkdir()
                row = one_search(args.data, 40, 1, folder, QUALITY_SPACE, seed, speed=False)
                rows.append(row)
                print(
                    f"seed {seed}: picked {row['best']} ({row['best_framing']}) "
                    f"K={row['best_k']:.0f} "
                    f"AMI {row['best_ami']:.3f} "
                    f"(single best score's pick: {row['single_best_ami']:.3f}; "
                    f"best AMI in the study {row['max_ami_in_study']:.3f}) "
                    f"in {row['seconds']:.0f} s",
                    flush=True,
                )
            # one table per space (the README compares them); the features key the table
            # unless they are the historical audio_stats alone
            key = ",".join(QUALITY_SPACE["encoders"])
            if QUALITY_SPACE["features"] != ["audio_stats"]:
                key += " / " + ",".join(QUALITY_SPACE["features"])
            if args.sampled:
                key += SAMPLED
            for row in rows:
                row["features"] = QUALITY_SPACE["features"]
                row["reference"] = reference_features()
            saved.setdefault("quality", {})[key] = rows
        if args.speed:
            warm = Path(tmp) / "warm"
            warm.mkdir()
            one_search(args.data, 2, 1, warm)  # fills the feature cache
            rows = []
            for workers in (1, 2):
                folder = Path(tmp) / f"w{workers}"
                folder.mkdir()
                row = one_search(args.data, args.trials, workers, folder)
                rows.append(row)
                print(
                    f"{workers} worker(s): {row['trials']} trials ({row['repeats']} repeats) "
                    f"in {row['seconds']:.0f} s = "
                    f"{row['trials_per_minute']:.2f} trials/min "
                    f"(mean trial {row['mean_trial_seconds']:.1f} s)",
                    flush=True,
                )
            saved["speed"] = rows
    if args.no_write:
        return
    saved["meta"] = {
        "data": Path(args.data).parent.name,
        "space": SPACE,
        "quality_space": {"clusterers": QUALITY_SPACE["clusterers"]},
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved, indent=1))
    (RESULTS / "search.md").write_text(_markdown(saved))


def _markdown(saved: dict) -> str:
    meta = saved["meta"]
    q = meta["quality_space"]
    lines = [f"# The search on {meta['data']} ({meta['cpus']} CPUs)", ""]
    for key, rows in saved.get("quality", {}).items():
        encoders = key.split(" / ")[0]
        features = ",".join(rows[0].get("features", ["audio_stats"]))
        sampled = key.endswith(SAMPLED)
        plain = any(r.get("plain_run_ami") is not None for r in rows)
        # tables written before the reference space took musicnn carry no reference field
        scored_in = rows[0].get("reference", "audio_stats (2 s texture windows)")
        lines += [
            f"## What a 40-trial label-free search picks: encoders {encoders}, features {features}"
            + (", every trial sampled" if sampled else ""),
            "",
            "Written by `python benchmarks/search.py --quality --encoders ... --features ..."
            + (" --sampled" if sampled else "")
            + "`: "
            f"`musiclust search --trials 40 --encoders {encoders} "
            f"--clusterers {','.join(q['clusterers'])} --features {features} --seed N`, "
            f"default objective (label_free) scored in the reference space of {scored_in}, "
            "median pruning. AMI against genre is read after the search, for this table only. "
            "'single best score': the trial with the best objective, which the search kept "
            "before the three best were confirmed with two more seeds each; '-' where the "
            "table predates confirmation."
            + (
                " Trial 0 of each study is the plain run's pipeline (enqueued; PCA, Ward, the "
                "default features that --features lists, K auto); 'plain run' is its AMI."
                if plain
                else " Every trial sampled (`--start sampled`, or before the plain "
                "run started each study)."
                if sampled
                else ""
            ),
            "",
            "| seed | picked pipeline | framing | K | objective | AMI of the pick | AMI of the "
            "single best score | best AMI among its trials | plain run | wall s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            single = r.get("single_best_ami")
            lines.append(
                f"| {r['seed']} | {r['best']} | {r.get('best_framing', '')} | {r['best_k']:.0f} | "
                f"{r['best_objective']:.4f} | {r['best_ami']:.3f} | "
                f"{'-' if single is None else f'{single:.3f}'} | "
                f"{r['max_ami_in_study']:.3f} | {_plain_cell(r)} | {r['seconds']:.0f} |"
            )
        amis = [r["best_ami"] for r in rows]
        lines += ["", f"Mean AMI of the picks: {sum(amis) / len(amis):.3f}."]
        singles = [r["single_best_ami"] for r in rows if r.get("single_best_ami") is not None]
        if len(singles) == len(rows):
            lines += [f"Mean AMI of the single best scores: {sum(singles) / len(singles):.3f}."]
        lines += [""]
    if "speed" in saved:
        s = meta["space"]
        lines += [
            "## Throughput (warm feature cache)",
            "",
            "Written by `python benchmarks/search.py --speed`. A fresh study per row over the "
            f"encoders {', '.join(s['encoders'])} x clusterers {', '.join(s['clusterers'])} on "
            f"{', '.join(s['features'])} ({' '.join(s['sets'])}), no pruning, no re-fit; each "
            "trial is a full tracked run (child run, metrics, tables) scored by the default "
            "objective.",
            "",
            "| workers | trials | of them repeats (score reused) | wall s | trials/min | "
            "mean trial s |",
            "|---|---|---|---|---|---|",
        ]
        for r in saved["speed"]:
            lines.append(
                f"| {r['workers']} | {r['trials']} | {r.get('repeats', '')} | {r['seconds']:.0f} | "
                f"{r['trials_per_minute']:.2f} | {r['mean_trial_seconds']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def _plain_cell(row: dict) -> str:
    """The plain run's trial: its AMI, and whether the search kept it ('-': none ran)."""
    ami = row.get("plain_run_ami")
    if ami is None:
        return "-"
    return f"{ami:.3f}{' (kept)' if row.get('picked_plain_run') else ''}"


if __name__ == "__main__":
    main()
