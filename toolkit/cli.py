"""The ``musiclust`` command. Errors print as one line with a hint and exit non-zero."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

import click

from musiclust import __version__, defaults
from musiclust.cli_options import config_option, data_options, given, parse_seed, positive
from musiclust.cli_search import search
from musiclust.console import print_run
from musiclust.errors import MusiclustError, SpecError, Terminated, stop_on_sigterm
from musiclust.logs import VERBOSE as _VERBOSE
from musiclust.logs import configure_logging
from musiclust.registry import get_registry

log = logging.getLogger("musiclust")


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MusiclustError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2 if isinstance(exc, SpecError) else 1)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Terminated as exc:  # the run ended KILLED on the way out
            click.echo(f"error: {exc}", err=True)
            # a thread the signal caught half-way (Optuna's heartbeat) must not keep the
            # process alive: the runs are closed, so leave now
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(128 + 15)
        except BrokenPipeError:  # `musiclust plugins | head`: the reader left, end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(1)
        except Exception as exc:
            if _VERBOSE[0]:
                traceback.print_exc()
            first = " ".join(str(exc).split())[:300]
            hint = "" if _VERBOSE[0] else "run `musiclust -v ...` for the traceback; "
            click.echo(
                f"error: unexpected {type(exc).__name__}: {first} ({hint}please report it)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="musiclust")
@click.option("-v", "--verbose", count=True, help="More output (-v: details, -vv: debug).")
def cli(verbose: int) -> None:
    """Unsupervised music clustering from audio and lyrics.

    Every step is a plugin (see `musiclust plugins`); every run is tracked in MLflow.
    """
    configure_logging(verbose)


cli.add_command(search)


@cli.command()
@data_options
@click.option(
    "--features",
    metavar="A,B",
    help="Feature plugins, comma-separated (default: the encoder's default features).",
)
@click.option("--encoder", metavar="NAME", help=f"Encoder plugin (default: {defaults.ENCODER}).")
@click.option(
    "--clusterer", metavar="NAME", help=f"Clusterer plugin (default: {defaults.CLUSTERER})."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PLUGIN.PARAM=VALUE",
    help="Set a parameter, as kmeans.n_clusters=10 (repeatable; several may be "
    "given in one value, space-separated).",
)
@click.option(
    "--reports",
    metavar="A,B",
    help="Report plugins (default: every installed one "
    "that runs by default; `musiclust plugins` lists them).",
)
@config_option("A spec file, or a shipped spec by name (published-hybrid); options override it.")
@click.option(
    "--experiment", metavar="NAME", help="MLflow experiment (default: named after the data)."
)
@click.option("--seed", metavar="N", help="Seed for every random step (default: 0).")
@click.option(
    "--seeds",
    metavar="0-4",
    help="One run per seed (a range or a list) under a parent run with mean and std.",
)
@click.option("--no-model", is_flag=True, help="Do not log the fitted pyfunc model.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the resolved spec (adapted to the data) and exit: nothing is run or tracked.",
)
def run(
    data: str | None,
    source: str | None,
    features: str | None,
    encoder: str | None,
    clusterer: str | None,
    reports: str | None,
    sets: tuple[str, ...],
    config: str | None,
    experiment: str | None,
    seed: str | None,
    seeds: str | None,
    no_model: bool,
    dry_run: bool,
) -> None:
    """Run one pipeline (data -> features -> encoder -> clusterer) and track it in MLflow.

    \b
    Examples:
      musiclust run
      musiclust run --data ~/gtzan/genres_original --set agglomerative.n_clusters=10
      musiclust run --data songs.csv --features tfidf --encoder pca
      musiclust run --seeds 0-4
    """
    from musiclust.spec import build_spec

    if given(seeds) is not None and given(seed) is not None:
        raise SpecError("give --seed or --seeds, not both")

    registry = get_registry()
    spec = build_spec(
        registry,
        data=given(data),
        source=given(source),
        features=given(features),
        encoder=given(encoder),
        clusterer=given(clusterer),
        reports=given(reports),
        sets=[s for s in sets if s.strip()],
        config=given(config),
        seed=parse_seed(given(seed)),
    )
    if dry_run:
        from musiclust.adapt import load

        _, dataset, notes = load(spec, registry)
        click.echo(f"# {len(dataset.clips)} clips; nothing was run (--dry-run)")
        for note in notes:
            click.echo(f"# note: {note}")
        click.echo(spec.to_yaml().rstrip())
        return
    experiment = given(experiment)
    if experiment and os.environ.get("MLFLOW_RUN_ID"):
        log.warning("--experiment is ignored under `mlflow run`: use mlflow run --experiment-name")

    from musiclust import pipeline, tracking

    if given(seeds) is not None:
        from musiclust.console import print_seeds
        from musiclust.seeds import parse_seeds, run_seeds

        group = run_seeds(
            spec, parse_seeds(seeds), registry, experiment=experiment, log_model=not no_model
        )
        print_seeds(group, tracking.tracking_uri())
        return
    result = pipeline.run(spec, registry, experiment=experiment, log_model=not no_model)
    print_run(result, tracking.tracking_uri())


@cli.command()
@data_options
@click.option(
    "--features",
    metavar="A,B",
    required=True,
    help="Feature plugins to extract, comma-separated (`musiclust plugins` lists them).",
)
@click.option(
    "--out",
    metavar="FILE",
    required=True,
    help="Output .npz; FILE.csv (clip index and labels) and FILE.skipped.csv go beside it.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PLUGIN.PARAM=VALUE",
    help="Set a feature, source or audio parameter, as mfcc_stats.n_mfcc=13 or "
    "segments.length=3 (repeatable).",
)
@config_option("A spec file, or a shipped spec by name (published-hybrid); options override it.")
def features(
    data: str | None,
    source: str | None,
    features: str,
    out: str,
    sets: tuple[str, ...],
    config: str | None,
) -> None:
    """Extract features (cached) and write them for numpy and pandas; no MLflow run.

    \b
    Examples:
      musiclust features --data ~/gtzan/genres_original --features mfcc_stats,mel --out gtzan
      python -c "import numpy as np; f = np.load('gtzan.npz'); print(f['mfcc_stats'].shape)"
    """
    from musiclust.export import export_features

    result = export_features(
        get_registry(),
        out,
        data=given(data),
        source=given(source),
        features=features,
        sets=[s for s in sets if s.strip()],
        config=given(config),
    )
    shapes = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in result.shapes.items())
    click.echo(f"{result.n_clips} clips ({result.n_skipped} skipped): {shapes}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    click.echo(f"written: {result.arrays}, {result.index}, {result.skipped}")


@cli.command()
@data_options
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PLUGIN.PARAM=VALUE",
    help="Set a source or audio parameter, as folder.lyrics=PATH or audio.min_duration=2.",
)
@click.option(
    "--k",
    metavar="K",
    help="The K you plan to cluster with (default: the number of labels): labels with too "
    "few clips for it are reported.",
)
@click.option(
    "--window",
    metavar="SECONDS",
    help="Analysis window; shorter clips are reported (default: segments.length, else 3).",
)
@click.option(
    "--metadata-only",
    is_flag=True,
    help="Read names and headers only: skip hashing and decoding (fast on large collections).",
)
@click.option(
    "--experiment", metavar="NAME", help="MLflow experiment (default: named after the data)."
)
def describe(
    data: str | None,
    source: str | None,
    sets: tuple[str, ...],
    k: str | None,
    window: str | None,
    metadata_only: bool,
    experiment: str | None,
) -> None:
    """Describe a data set (labels, audio, lyrics, data-quality findings) as an MLflow run.

    \b
    Examples:
      musiclust describe --data ~/gtzan/genres_original
      musiclust describe --data songs.csv --k 7
    """
    from musiclust.describe import describe as run_describe

    window_value = None
    if given(window) is not None:
        try:
            window_value = float(window)  # type: ignore[arg-type]
        except ValueError:
            raise SpecError(f"--window: expected seconds, got {window!r}") from None
    overview = run_describe(
        get_registry(),
        data=given(data),
        source=given(source),
        sets=[s for s in sets if s.strip()],
        k=positive(k, "--k", 0) or None,
        window=window_value,
        experiment=given(experiment),
        samples=not metadata_only,
    )
    for line in overview.summary:
        click.echo(line)
    click.echo(f"run {overview.run_id} in experiment '{overview.experiment}'")
    click.echo(f"report: {overview.report}")


@cli.command()
@click.option(
    "--experiment",
    metavar="NAME",
    help="Experiment to compare (default: the one of the latest run).",
)
@click.option(
    "--label",
    metavar="COLUMN",
    help="Label column for ARI/AMI/NMI/purity (default: genre, else the first one).",
)
@click.option(
    "--kind",
    metavar="KINDS",
    help="Only runs of these kinds: run, trial, best, confirm (comma-separated).",
)
@click.option(
    "--pipeline",
    metavar="TEXT",
    help="Only runs whose method holds TEXT ('kmeans', 'pca + gmm', 'musicnn').",
)
@click.option(
    "--out",
    metavar="DIR",
    help="Also write the table as compare-<experiment>.csv and .md into DIR.",
)
def compare(
    experiment: str | None,
    label: str | None,
    kind: str | None,
    pipeline: str | None,
    out: str | None,
) -> None:
    """Print an experiment's finished runs as a table (--out: also as CSV and markdown)."""
    from pathlib import Path

    from musiclust.compare import compare as run_compare

    out, kinds = given(out), given(kind)
    result = run_compare(
        given(experiment),
        given(label),
        Path(out) if out else None,
        kinds=[k.strip() for k in kinds.split(",") if k.strip()] if kinds else None,
        pipeline=given(pipeline),
    )
    click.echo(result.text, nl=False)
    if result.failed:
        click.echo(f"({result.failed} unfinished or failed runs left out)")
    if result.csv:
        click.echo(f"written: {result.csv} and {result.markdown}")


@cli.command()
@click.argument("names", nargs=-1, metavar="[FAMILY|PLUGIN|SETTING]...")
@click.option("--brief", is_flag=True, help="One line per plugin, without parameters.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(names: tuple[str, ...], brief: bool, as_json: bool) -> None:
    """List installed plugins: family, name, origin, parameters; and broken plugins.

    \b
    Examples:
      musiclust plugins                 everything
      musiclust plugins --brief         one line per plugin
      musiclust plugins clusterers      one family
      musiclust plugins kmeans segments one plugin, one settings section
    """
    from musiclust.console import print_plugins

    print_plugins(get_registry(), names, brief, as_json)


def main() -> None:
    stop_on_sigterm()
    cli(prog_name="musiclust")


if __name__ == "__main__":
    main()
