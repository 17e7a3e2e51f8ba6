"""Every stage after extraction at growing clip counts: seconds, peak memory, growth exponent.

    python benchmarks/scale.py [SIZES ...]          (default: 1000 10000 100000)
    python benchmarks/scale.py --runs [SIZES ...]   (default: 1000 10000)
    python benchmarks/scale.py --search [N TRIALS LIMIT_S]  (default: 10000 40 1800)

The stages start from generated feature arrays shaped like the default run's (a 200-d
embedding block beside a 91-d statistics block, ten Gaussian clusters with unequal spreads;
the reference space is the two blocks standardised, as :mod:`musiclust.reference` builds it),
and run the framework's own code: fusion, PCA, one epoch of each trained encoder (the
convolutional ones on a generated 39 x 130 block, up to 10,000 clips), each clusterer (K chosen
by the default ``label_free`` criterion where it has one), the default metrics, the search
objective of one trial, each default report, the run's tables and HTML report, and MLflow
logging into a sqlite store. Each size runs in its own process; "peak MiB" is that process's
peak resident memory after the stage (it includes the ~300 MiB of imported libraries). The
growth exponent of a stage is the slope of log(seconds) against log(clips) between the two
largest sizes it ran at.

With ``--runs``, the whole ``musiclust run`` on synthesised demo clips instead, with
``audio_stats`` and with the default features, each cold and warm.

Writes benchmarks/results/scale.md and scale.json (scale-runs.md and .json with --runs).
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CLUSTERERS = ("agglomerative", "kmeans", "gmm", "spectral", "dbscan", "hdbscan")
#: Trained encoders timed for one epoch (and the latent of every row) on the fused vectors.
VECTOR_ENCODERS = ("ae", "vae", "vade")
#: The convolutional ones, on a generated 39 x 130 block: up to this many clips (an epoch is
#: rows / rate: at 450 rows/s on 2 CPUs, 100,000 clips would take about 4 minutes each).
MATRIX_ENCODERS, MATRIX_CLIPS = ("conv_vae", "hybrid_vae"), 10_000


def fit_stage(name: str) -> str:
    """A clusterer's stage name: K is chosen by the default criterion where it has one."""
    from musiclust.registry import get_registry

    declared = get_registry().get("clusterer", name).cls.declared_params()
    return f"fit {name} (K label_free)" if "n_clusters" in declared else f"fit {name}"


def generated(n: int, seed: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """Blocks {name: FeatureBlock}, the reference space and the true cluster of each clip."""
    from musiclust.extraction import FeatureBlock
    from musiclust.reference import space

    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 10, n)
    blocks = {}
    for name, dim in (("musicnn", 200), ("audio_stats", 91)):
        centres = rng.standard_normal((10, dim)) * 1.5
        spread = rng.uniform(0.6, 1.4, 10)[truth, None]
        values = (centres[truth] + spread * rng.standard_normal((n, dim))).astype(np.float32)
        blocks[name] = FeatureBlock(name, "audio", "vector", values, np.ones(n, dtype=bool))
    reference = space([(b.values, b.mask) for b in blocks.values()])
    return blocks, reference, truth


def measure(n: int) -> list[dict]:
    """All stages at one size, in this process."""
    from musiclust import scale
    from musiclust.audio import AudioSettings
    from musiclust.chain import Chain
    from musiclust.data import Clip
    from musiclust.evaluation import Evaluation, compute_metrics, render_reports
    from musiclust.registry import get_registry
    from musiclust.segments import Framing
    from musiclust.spec import build_spec, instantiate

    registry = get_registry()
    rows: list[dict] = []

    def timed(stage: str, work, **extra):
        started = time.perf_counter()
        out = work()
        rows.append(
            {
                "clips": n,
                "stage": stage,
                "seconds": time.perf_counter() - started,
                "peak_mib": scale.peak_memory_mb(),
                **extra,
            }
        )
        print(f"{n:>7} {stage:<28} {rows[-1]['seconds']:8.2f} s", flush=True)
        return out

    blocks, reference, truth = timed("generate features", lambda: generated(n))
    spec = build_spec(registry, features="musicnn,audio_stats", encoder="pca", seed=0)

    def chain_for(clusterer: str) -> Chain:
        spec_c = build_spec(
            registry, features="musicnn,audio_stats", encoder="pca", clusterer=clusterer, seed=0
        )
        return Chain(
            [instantiate(registry, "feature", p, 0) for p in spec_c.features],
            instantiate(registry, "encoder", spec_c.encoder, 0),
            instantiate(registry, "clusterer", spec_c.clusterer, 0),
            AudioSettings.from_params(spec_c.audio),
            Framing.from_params(spec_c.segments),
            spec_c.segments["back"],
            spec_c.fusion["balance"],
        )

    chain = chain_for("kmeans")
    X = timed("fusion", lambda: chain.fit_input(blocks, n))
    timed("encoder pca", lambda: chain.encoder.fit_transform(X))
    import torch  # noqa: F401  (imported here: its second of import is no encoder's)

    one_epoch = {"epochs": 1, "pretrain_epochs": 1}
    for name in VECTOR_ENCODERS:
        cls = registry.get("encoder", name).cls
        kw = {k: v for k, v in one_epoch.items() if k in cls.declared_params()}
        timed(f"encoder {name}, 1 epoch", lambda cls=cls, kw=kw: cls(**kw).fit_transform(X))
    if n <= MATRIX_CLIPS:
        grid = scale.scratch_array((n, 39, 130), np.float32)
        rng = np.random.default_rng(1)
        for first in range(0, n, 4096):
            count = min(4096, n - first)
            grid[first : first + count] = rng.standard_normal((count, 39, 130), dtype=np.float32)
        from musiclust.fusion import Fusion

        values = {"stack39": grid, "audio_stats": blocks["audio_stats"].values}
        masks = {name: np.ones(n, dtype=bool) for name in values}
        X2 = Fusion().fit_transform(values, masks)
        for name in MATRIX_ENCODERS:
            cls = registry.get("encoder", name).cls
            timed(f"encoder {name}, 1 epoch", lambda cls=cls: cls(epochs=1).fit_transform(X2))
        del grid, values, X2
    results, fitted = {}, {}
    for name in CLUSTERERS:
        c = fitted[name] = chain_for(name)
        results[name] = timed(
            fit_stage(name), lambda c=c: c.fit_predict(blocks, n, None, reference)
        )
        found = results[name][1]
        rows[-1]["K"] = len(set(found.tolist()) - {-1})
        if (found == -1).any():
            rows[-1]["noise"] = float((found == -1).mean())
        rows[-1]["notes"] = [*getattr(c.clusterer, "notes_", [])]
    latent, clusters = results["agglomerative"]
    ev = Evaluation(
        ids=[f"clip{i}" for i in range(n)],
        latent=latent,
        clusters=clusters,
        labels={"genre": np.array([f"g{t}" for t in truth], dtype=object)},
        reference=reference,
        reference_name="musicnn+audio_stats",
        encoder=fitted["agglomerative"].encoder,
        clusterer=fitted["agglomerative"].clusterer,
        seed=0,
    )
    metric_plugins = [instantiate(registry, "metric", p, 0) for p in spec.metrics]
    metrics, _ = timed("metrics", lambda: compute_metrics(ev, metric_plugins))
    rows[-1]["genre.ami"] = metrics.get("genre.ami")

    from musiclust.objectives import Inputs, LabelFree, refitter

    c = chain_for("agglomerative")
    c.fit_predict(blocks, n, None, None)
    fresh = c.clusterer

    def objective() -> float:
        def twin(draw: int):
            t = type(fresh)(**fresh.get_params())
            t.random_state = draw
            return t

        refit = refitter(twin, latent, clusters, "features", None, None)
        present = np.ones(n, dtype=bool)
        return LabelFree(0).score(Inputs(clusters, reference, present, refit)).value

    timed("search objective (1 trial)", objective)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for part in spec.reports:
            report = instantiate(registry, "report", part, 0)
            timed(f"report {part.name}", lambda r=report: render_reports(ev, [r], out / "plots"))
        from musiclust import artifacts
        from musiclust.html_report import write_html

        clips = [Clip(id=f"clip{i}", audio=None, lyrics=None) for i in range(n)]

        def tables() -> None:
            artifacts.write_tables(out, spec, ev, clips, metrics, {}, [], [])
            plots = sorted((out / "plots").glob("*.png"))
            write_html(out / "report.html", "scale", spec, metrics, {}, [], [], plots)

        timed("tables + report.html", tables)
        rows[-1]["assignments_kib"] = (out / "assignments.csv").stat().st_size / 1024
        rows[-1]["report_html_kib"] = (out / "report.html").stat().st_size / 1024
        rows[-1]["plots_kib"] = sum(p.stat().st_size for p in (out / "plots").iterdir()) / 1024

        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")

        def logging() -> None:
            from musiclust import tracking

            with mlflow.start_run():
                tracking.log_params(spec.flat_params())
                tracking.log_metrics({k: v for k, v in metrics.items() if isinstance(v, float)})
                tracking.log_artifacts(out)

        timed("mlflow logging", logging)
    return rows


def whole_run(n: int, cache: Path, features: str | None) -> dict:
    """`musiclust run` on n synthesised demo clips of 3 s, in a fresh process; the stage
    seconds and peak memory it logged."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MUSICLUST_CACHE_DIR": str(cache)}
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        args = [sys.executable, "-m", "musiclust", "run"]
        args += ["--set", f"demo.n_per_style={n // 5} demo.duration=3"]
        args += ["--features", features] if features else []
        started = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            return {"clips": n, "error": done.stderr[-500:]}
        client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
        ids = [e.experiment_id for e in client.search_experiments()]
        (run,) = client.search_runs(ids)
        m = run.data.metrics
        keys = ("features.seconds", "fit_seconds", "metrics.seconds", "reports.seconds")
        return {
            "clips": n,
            "features": features or "default",
            "seconds": seconds,
            **{k: m.get(k) for k in (*keys, "peak_memory_mb", "genre.ami", "n_clusters")},
        }


def runs(sizes: list[int]) -> None:
    """The whole run, cold (features extracted) then warm (read from the cache)."""
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for n in sizes:
            for features in (None, "audio_stats"):  # the default first: truly cold
                for state in ("cold", "warm"):
                    row = {"state": state, **whole_run(n, Path(cache), features)}
                    print(row, flush=True)
                    rows.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"cpus": os.cpu_count(), "machine": platform.platform(), "sizes": sizes}
    (RESULTS / "scale-runs.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Scale: the whole `musiclust run` on synthesised demo clips (3 s each)",
        "",
        f"Written by `python benchmarks/scale.py --runs {' '.join(map(str, sizes))}` "
        f"({meta['cpus']} CPUs). Cold: features extracted; warm: read from the cache.",
        "",
        "| clips | features | cache | run s | features s | fit s | metrics s | reports s "
        "| peak MiB | K | genre AMI |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['clips']:,} | FAILED: {' '.join(r['error'].split())[:200]} |")
            continue
        cells = [
            f"{r[k]:.1f}" if r.get(k) is not None else "-"
            for k in (
                "seconds",
                "features.seconds",
                "fit_seconds",
                "metrics.seconds",
                "reports.seconds",
                "peak_memory_mb",
            )
        ]
        lines.append(
            f"| {r['clips']:,} | {r['features']} | {r['state']} | {' | '.join(cells)} "
            f"| {r['n_clusters']:.0f} | {r['genre.ami']:.3f} |"
        )
    (RESULTS / "scale-runs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def search_at(n: int, trials: int, limit: float) -> None:
    """A label-free search (the default space) on n demo clips with the features cached: how
    many of ``trials`` finish within ``limit`` seconds, and the time per trial.

    The cache is warmed first with every feature the default space uses at this size (the
    encoders' default features, at each searched framing: whole clips, 2 s and 3 s windows).
    ``MUSICLUST_CACHE_DIR``, when set, keeps that cache between invocations."""
    import optuna

    with tempfile.TemporaryDirectory() as tmp:
        cache = os.environ.get("MUSICLUST_CACHE_DIR") or f"{tmp}/cache"
        env = {**os.environ, "MUSICLUST_CACHE_DIR": cache}
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        data = ["--set", f"demo.n_per_style={n // 5} demo.duration=3"]
        space = subprocess.run(
            [sys.executable, "-m", "musiclust", "search", *data, "--dry-run"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
        )
        assert space.returncode == 0, space.stderr[-2000:]
        warming = {}
        for step, args in (
            ("default run", ["run", "--no-model"]),
            *(
                (
                    f"features, {length} s windows",
                    [
                        "features",
                        "--out",
                        f"{tmp}/w{length}",
                        "--features",
                        "audio_stats,musicnn",
                        "--set",
                        f"segments.length={length}",
                    ],
                )
                for length in (2, 3)
            ),
        ):
            started = time.perf_counter()
            warm = subprocess.run(
                [sys.executable, "-m", "musiclust", *args, *data],
                env=env,
                cwd=tmp,
                capture_output=True,
                text=True,
            )
            warming[step] = time.perf_counter() - started
            assert warm.returncode == 0, warm.stderr[-2000:]
        storage = f"sqlite:///{tmp}/optuna.db"
        args = [sys.executable, "-m", "musiclust", "search", *data, "--trials", str(trials)]
        args += ["--confirm", "0", "--storage", storage]
        started = time.perf_counter()
        with open(f"{tmp}/search.log", "w") as log:
            process = subprocess.Popen(args, env=env, cwd=tmp, stdout=log, stderr=log)
            try:
                process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=300)
        seconds = time.perf_counter() - started
        (name,) = optuna.study.get_all_study_names(storage)
        done = [
            t
            for t in optuna.load_study(study_name=name, storage=storage).trials
            if t.state.is_finished()
        ]
        states = {s: sum(t.state.name == s for t in done) for s in ("COMPLETE", "PRUNED", "FAIL")}
        per = sorted(
            (t.datetime_complete - t.datetime_start).total_seconds()
            for t in done
            if t.datetime_complete and t.datetime_start
        )
        picks = {}
        for t in done:
            key = t.user_attrs.get("pipeline", "?").split(" ")[0]
            picks[key] = picks.get(key, 0) + 1
    lines = [
        f"# Scale: a label-free search on {n:,} demo clips, features cached",
        "",
        f"Written by `python benchmarks/scale.py --search {n} {trials} {limit:g}` "
        f"({os.cpu_count()} CPUs): the default search space, --confirm 0.",
        "",
        "- the default space at this size: "
        + " ".join(line for line in space.stdout.splitlines() if line.startswith("# note")),
        *(f"- warming the cache, {step}: {sec / 60:.1f} min" for step, sec in warming.items()),
        f"- search: {len(done)} of {trials} trials finished in {seconds / 60:.1f} min "
        f"(limit {limit / 60:.0f} min): {states}",
        f"- seconds per trial: median {per[len(per) // 2]:.0f}, longest {per[-1]:.0f}"
        if per
        else "- no trial finished",
        f"- trials per pipeline: {dict(sorted(picks.items()))}",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale-search.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print("ROWS " + json.dumps(measure(int(sys.argv[2]))), flush=True)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--search":
        n, trials, limit = (sys.argv[2:] + ["10000", "40", "1800"][len(sys.argv) - 2 :])[:3]
        search_at(int(n), int(trials), float(limit))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--runs":
        runs([int(a) for a in sys.argv[2:]] or [1000, 10000])
        return
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]
    rows: list[dict] = []
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True
        )
        sys.stdout.write(done.stdout.split("ROWS ")[0])
        if done.returncode != 0:
            print(done.stderr[-3000:])
            rows.append({"clips": n, "stage": "FAILED", "error": done.stderr[-500:]})
            continue
        rows += json.loads(done.stdout.split("ROWS ", 1)[1])
    write(rows, sizes)


def write(rows: list[dict], sizes: list[int]) -> None:
    meta = {"cpus": os.cpu_count(), "machine": platform.platform(), "sizes": sizes}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    stages = list(dict.fromkeys(r["stage"] for r in rows if r["stage"] != "FAILED"))
    by = {(r["clips"], r["stage"]): r for r in rows}
    head = " | ".join(f"{n:,} clips s (peak MiB)" for n in sizes)
    lines = [
        "# Scale: every stage after extraction, from generated features",
        "",
        f"Written by `python benchmarks/scale.py {' '.join(map(str, sizes))}` "
        f"({meta['cpus']} CPUs). Peak MiB is the process's peak so far.",
        "",
        f"| stage | {head} | growth exponent |",
        "|---|" + "---|" * (len(sizes) + 1),
    ]
    for stage in stages:
        cells = []
        for n in sizes:
            r = by.get((n, stage))
            cells.append("-" if r is None else f"{r['seconds']:.2f} ({r['peak_mib']:.0f})")
        measured = [n for n in sizes if (n, stage) in by][-2:]  # the two largest sizes run
        pair = [by[(n, stage)] for n in measured]
        exponent = "-"
        if len(pair) == 2 and min(p["seconds"] for p in pair) > 0.05:
            ratio = math.log(pair[1]["seconds"] / pair[0]["seconds"])
            exponent = f"{ratio / math.log(measured[1] / measured[0]):.2f}"
        lines.append(f"| {stage} | {' | '.join(cells)} | {exponent} |")
    lines += [
        "",
        f"The convolutional encoders ({', '.join(MATRIX_ENCODERS)}) run up to "
        f"{MATRIX_CLIPS:,} clips; an epoch costs rows / rate beyond.",
        "",
        "Per size: K found and genre AMI of the generated clusters, artifact sizes.",
    ]
    for n in sizes:
        fit = [by.get((n, fit_stage(c))) for c in CLUSTERERS]
        m = by.get((n, "metrics")) or {}
        t = by.get((n, "tables + report.html")) or {}
        ks = ", ".join(f"{c} K={f['K']}" for c, f in zip(CLUSTERERS, fit, strict=True) if f)
        ks += "; " + ", ".join(
            f"{c} noise {f['noise']:.1%}"
            for c, f in zip(CLUSTERERS, fit, strict=True)
            if f and "noise" in f
        )
        lines.append(
            f"- {n:,} clips: {ks}; agglomerative genre AMI {m.get('genre.ami', float('nan')):.3f}; "
            f"assignments.csv {t.get('assignments_kib', 0):.0f} KiB, report.html "
            f"{t.get('report_html_kib', 0):.0f} KiB, plots {t.get('plots_kib', 0):.0f} KiB"
        )
        for f in fit:
            for note in (f or {}).get("notes", []):
                lines.append(f"  - {note}")
    (RESULTS / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
