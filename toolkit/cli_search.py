"""``musiclust search``: its command line (the work is in :mod:`musiclust.search`, imported
only when a search runs, so other commands start without Optuna and MLflow)."""

from __future__ import annotations

import click

from musiclust import defaults
from musiclust.cli_options import (
    config_option,
    data_options,
    flag,
    given,
    names,
    parse_seed,
    positive,
)
from musiclust.console import print_search
from musiclust.registry import get_registry


@click.command()
@data_options
@click.option(
    "--features",
    metavar="A,B",
    help="Feature plugins a trial may combine (1 to 3 of them that suit its encoder). "
    "Default: each encoder's own default features.",
)
@click.option(
    "--encoders", metavar="A,B", help="Encoder plugins to search over (default: all installed)."
)
@click.option(
    "--clusterers",
    metavar="A,B",
    help="Clusterer plugins to search over (default: all installed).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="PLUGIN.PARAM=VALUE",
    help="Fix a parameter instead of searching it, as kmeans.n_clusters=auto or ae.epochs=100 "
    "(repeatable).",
)
@click.option("--trials", metavar="N", help="Finished trials the study should hold (default: 20).")
@click.option(
    "--storage",
    metavar="URL",
    default=defaults.STORAGE,
    show_default=True,
    help="Optuna storage; a database URL (postgresql://...) shares the study between machines.",
)
@click.option(
    "--study",
    metavar="NAME",
    help="Study name (default: the data's name and the objective); a hash of the search "
    "space is appended, so a changed space starts a new study.",
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="true",
    default="false",
    metavar="[true|false]",
    help="Continue the study (after an interruption, or from another worker or machine).",
)
@click.option(
    "--objective",
    metavar="NAME",
    help="label_free (default: reference-space gap x bootstrap stability), reference_gap, "
    "stability, reference_silhouette, or ami[:COLUMN] (supervised: tags label_tuned=true).",
)
@click.option("--workers", metavar="N", help="Worker processes sharing the study (default: 1).")
@click.option(
    "--reports",
    metavar="A,B",
    default="",
    help="Report plugins for every trial (default: none; the re-fitted best run gets all).",
)
@config_option("A spec file with shared settings, or a shipped spec by name (published-hybrid).")
@click.option(
    "--experiment", metavar="NAME", help="MLflow experiment (default: named after the data)."
)
@click.option(
    "--register",
    metavar="NAME",
    help="Registered model name for the best pipeline (default: musiclust-<experiment>).",
)
@click.option(
    "--pruner",
    type=click.Choice(["median", "none"]),
    default="median",
    show_default=True,
    help="Stop trained encoders whose intermediate objective trails the median.",
)
@click.option(
    "--confirm",
    metavar="N",
    help="Fit the N best trials again with 2 more seeds each and keep the best mean score "
    "(default: 3; 0 keeps the single best score).",
)
@click.option(
    "--start",
    type=click.Choice(["plain", "sampled"]),
    default="plain",
    show_default=True,
    help="A new study's first trial: the plain `musiclust run` pipeline where the space holds "
    "it (plain), or a draw of the sampler like every other (sampled).",
)
@click.option("--seed", metavar="N", help="Seed for every trial and the sampler (default: 0).")
@click.option("--dry-run", is_flag=True, help="Print the search space and exit: no study, no run.")
def search(
    data: str | None,
    source: str | None,
    features: str | None,
    encoders: str | None,
    clusterers: str | None,
    sets: tuple[str, ...],
    trials: str | None,
    storage: str,
    study: str | None,
    resume: str,
    objective: str | None,
    workers: str | None,
    reports: str | None,
    config: str | None,
    experiment: str | None,
    register: str | None,
    pruner: str,
    confirm: str | None,
    start: str,
    seed: str | None,
    dry_run: bool,
) -> None:
    """Search plugin combinations and their parameters with Optuna; track it in MLflow.

    The study is a parent MLflow run, each trial a child run; the best pipeline is re-fitted
    and registered in the MLflow Model Registry. The default objective never reads labels.

    \b
    Examples:
      musiclust search --trials 10
      musiclust search --data ~/gtzan/genres_original --encoders pca,ae,vade \\
          --clusterers kmeans,agglomerative,gmm --trials 40
      musiclust search --data ~/gtzan/genres_original --trials 40 --resume
    """
    from musiclust import tracking
    from musiclust.search import SearchOptions
    from musiclust.search import search as run_search

    options = SearchOptions(
        data=given(data),
        source=given(source),
        config=given(config),
        features=names(features),
        encoders=names(encoders),
        clusterers=names(clusterers),
        sets=[s for s in sets if s.strip()],
        seed=parse_seed(given(seed)) or 0,
        trials=positive(trials, "--trials", defaults.TRIALS),
        storage=given(storage) or defaults.STORAGE,
        study=given(study),
        resume=flag(resume, "--resume"),
        objective=given(objective),
        workers=positive(workers, "--workers", 1),
        experiment=given(experiment),
        register=given(register),
        pruner=pruner,
        reports=names(reports) or [],
        confirm=positive(confirm, "--confirm", defaults.CONFIRM, least=0),
        start=start,
    )
    if dry_run:
        from musiclust.search import prepare
        from musiclust.search.study import start_note

        dataset, space = prepare(get_registry(), options)
        click.echo(f"# {len(dataset.clips)} clips; nothing was run (--dry-run)")
        for note in space.notes:
            click.echo(f"# note: {note}")
        click.echo("\n".join(space.describe()))
        click.echo(f"# a new study: {start_note(space, options)}")
        return
    result = run_search(options)
    print_search(result, tracking.tracking_uri())
