"""The Optuna search: real studies in sqlite storages, real MLflow runs read back."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from musiclust.errors import DataError, MusiclustError, SpecError
from musiclust.objectives import COLLAPSED, Inputs, get_objective
from musiclust.registry import get_registry
from musiclust.search import SearchOptions, refitter, search
from musiclust.space import SearchSpace
from tests.conftest import DEFAULT_AUDIO, SMALL_DEMO

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _storage(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'optuna.db'}"


def _study(result_or_name: str, storage: str) -> optuna.Study:
    return optuna.load_study(study_name=result_or_name, storage=storage)


# -- a real search on the demo data -----------------------------------------------------------
def test_search_on_demo_logs_trials_as_child_runs_and_registers_the_best(tmp_path: Path):
    storage = _storage(tmp_path)
    result = search(
        SearchOptions(
            encoders=["pca", "ae"],
            clusterers=["kmeans", "gmm"],
            sets=[*SMALL_DEMO, "ae.epochs=30", "segments.length=none"],  # framing: its own test
            trials=6,
            storage=storage,
        )
    )
    study = _study(result.study, storage)
    trials = study.get_trials()
    assert len([t for t in trials if t.state in FINISHED]) == 6
    assert result.counts["complete"] >= 1

    client = mlflow.MlflowClient()
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["objective"] == "label_free"
    assert parent.data.tags["label_tuned"] == "false"
    assert parent.data.tags["study.name"] == result.study
    assert result.study.endswith(parent.data.tags["search.space_hash"])

    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{result.parent_run_id}'",
    )
    trial_runs = {r.data.tags["trial.number"]: r for r in children if "trial.number" in r.data.tags}
    own_runs = [t for t in trials if "duplicate_of" not in t.user_attrs]
    assert len(trial_runs) == len(own_runs)
    status = {"complete": "FINISHED", "pruned": "KILLED", "failed": "FAILED"}
    for t in own_runs:
        run = trial_runs[str(t.number)]
        state = run.data.tags["trial.state"]
        assert state == {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}[t.state.name]
        assert run.info.status == status[state]
        encoder = run.data.params["encoder.name"]
        assert encoder == t.params["encoder"]
        assert run.data.params["clusterer.name"] in ("kmeans", "gmm")
        # conditional space: only the chosen plugins' parameters were suggested
        other = {"pca": "ae.", "ae": "pca."}[encoder]
        assert not [k for k in t.params if k.startswith(other)]
        if state == "complete":
            assert run.data.metrics["objective"] == pytest.approx(t.value)
            assert "genre.ami" in run.data.metrics
            if t.value > COLLAPSED:
                assert "objective.stability" in run.data.metrics
        if encoder == "ae" and state == "complete":  # trained encoders report for pruning
            assert t.intermediate_values
            history = client.get_metric_history(run.info.run_id, "objective.intermediate")
            assert sorted(m.step for m in history) == sorted(t.intermediate_values)
        if encoder == "pca":
            assert not t.intermediate_values  # nothing to report: never pruned

    # trials reuse the feature cache: a trial with features extracted before extracts nothing
    seen, repeats = set(), 0
    for number in sorted(trial_runs, key=int):
        run = trial_runs[number]
        key = tuple(
            sorted(
                (k, v)
                for k, v in run.data.params.items()
                if k.startswith(("feature", "seg")) and not k.endswith(".weight")  # fusion only
            )
        )
        if key in seen and "features.cache_misses" in run.data.metrics:
            assert run.data.metrics["features.cache_misses"] == 0
            repeats += 1
        seen.add(key)
    assert repeats >= 1

    # the three best distinct trials were fitted again with two more seeds (child runs), and
    # the best mean score was kept
    artifacts = Path(mlflow.artifacts.download_artifacts(run_id=result.parent_run_id))
    confirmed = pd.read_csv(artifacts / "confirmed.csv")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    distinct = {t.user_attrs["spec.hash"] for t in complete if t.user_attrs["collapsed"] != "true"}
    assert len(confirmed) == min(3, len(distinct)) >= 2
    values = {t.number: t.value for t in complete}
    assert sorted(confirmed["score_seed_0"], reverse=True) == sorted(
        [v for n, v in values.items() if n in set(confirmed["trial"])], reverse=True
    )
    seeds = confirmed[["score_seed_0", "score_seed_1", "score_seed_2"]]
    np.testing.assert_allclose(confirmed["mean"], seeds.mean(axis=1))
    kept = confirmed.loc[confirmed["mean"].idxmax()]
    assert result.best_trial == kept["trial"]
    assert parent.data.tags["best.trial"] == str(kept["trial"])
    assert parent.data.metrics["best.objective_confirmed"] == pytest.approx(kept["mean"])
    reruns = [r for r in children if r.data.tags.get("musiclust.kind") == "confirm"]
    assert len(reruns) == 2 * len(confirmed)
    assert {r.data.tags["confirms_trial"] for r in reruns} == {str(n) for n in confirmed["trial"]}
    for run in reruns:
        assert run.info.status == "FINISHED" and run.data.params["spec.seed"] in ("1", "2")
        number, seed = int(run.data.tags["confirms_trial"]), run.data.params["spec.seed"]
        row = confirmed.set_index("trial").loc[number]
        assert run.data.metrics["objective"] == pytest.approx(row[f"score_seed_{seed}"])
    assert study.user_attrs["confirmed"]  # kept for a resumed study
    assert any(n.startswith("confirmed: trial") for n in result.notes)

    best = study.trials[result.best_trial]
    assert parent.data.metrics["best.objective"] == pytest.approx(best.value)
    best_run = client.get_run(best.user_attrs["mlflow.run_id"])
    assert parent.data.metrics["best.genre.ami"] == pytest.approx(
        best_run.data.metrics["genre.ami"]
    )
    table = pd.read_csv(artifacts / "trials.csv")
    assert len(table) == len(trials)
    assert set(table["state"]) <= {"complete", "pruned", "fail"}
    spec = yaml.safe_load((artifacts / "best_spec.yaml").read_text())
    assert spec["encoder"]["name"] == best.params["encoder"]
    assert (artifacts / "plots" / "optimization_history.png").stat().st_size > 0

    # the best pipeline, re-fitted as a child run and registered
    name, version = result.registered.split("/")
    assert name == "musiclust-demo"
    registered = client.get_model_version(name, version)
    refit = client.get_run(parent.data.tags["best.refit_run_id"])
    assert refit.data.tags["mlflow.parentRunId"] == result.parent_run_id
    assert refit.data.params["encoder.name"] == best.params["encoder"]
    assert registered.tags["objective"] == "label_free"
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    from musiclust.spec import build_spec, instantiate

    registry = get_registry()
    source = build_spec(registry, sets=list(SMALL_DEMO)).source
    clips = instantiate(registry, "source", source, 0).load().clips[:3]
    out = model.predict(pd.DataFrame({"audio": [c.audio for c in clips]}))
    assert (out["cluster"] >= 0).all()

    # musiclust compare marks a trial and its re-fit, and filters by kind and pipeline
    from musiclust.compare import compare

    table = compare(kinds=["trial", "best"]).table
    marked = table.set_index("id")["method"]
    assert marked[refit.info.run_id[:8]].endswith(f"(best: trial {kept['trial']} re-fitted)")
    assert sum(m.endswith(f"(trial {kept['trial']})") for m in marked) == 1
    assert set(compare(kinds=["best"]).table["id"]) == {refit.info.run_id[:8]}
    clusterer = refit.data.params["clusterer.name"]
    kept_methods = compare(pipeline=clusterer.upper()).table["method"]  # any case
    assert len(kept_methods) and all(f"+ {clusterer} [" in m for m in kept_methods)
    with pytest.raises(MusiclustError, match="unknown run kind 'trail'"):
        compare(kinds=["trail"])


def test_supervised_objective_tags_the_study_label_tuned(tmp_path: Path):
    result = search(
        SearchOptions(
            encoders=["pca"],
            clusterers=["kmeans"],
            sets=list(SMALL_DEMO),
            trials=2,
            storage=_storage(tmp_path),
            objective="ami:genre",
            refit=False,
        )
    )
    parent = mlflow.MlflowClient().get_run(result.parent_run_id)
    assert parent.data.tags["label_tuned"] == "true"
    assert parent.data.tags["objective"] == "ami:genre"
    assert "ami-genre" in result.study
    assert parent.data.metrics["best.objective"] == pytest.approx(
        parent.data.metrics["best.genre.ami"]
    )
    # a typo'd label column stops before any work (it used to fail every trial, then exit 0)
    with pytest.raises(SpecError, match=r"no label column 'genr'.*did you mean 'genre'"):
        search(SearchOptions(objective="ami:genr", storage=_storage(tmp_path / "x")))
    assert not (tmp_path / "x").exists()


def test_an_existing_study_needs_resume_and_a_changed_space_is_a_new_study(tmp_path: Path):
    options = SearchOptions(
        encoders=["pca"],
        clusterers=["kmeans"],
        sets=list(SMALL_DEMO),
        trials=1,
        storage=_storage(tmp_path),
        refit=False,
    )
    first = search(options)
    with pytest.raises(SpecError, match="--resume"):
        search(options)
    options.resume = True
    options.trials = 2
    again = search(options)
    assert again.study == first.study and again.parent_run_id == first.parent_run_id
    assert len(_study(first.study, options.storage).trials) == 2
    options.resume = False
    options.encoders = ["pca", "identity"]  # another categorical choice: another study
    wider = search(options)
    assert wider.study != first.study


def test_lyrics_only_data_searches_in_the_tfidf_reference_space(tmp_path: Path):
    words = {
        "rain": "rain cloud storm grey rain falling water river",
        "sun": "sun light summer bright warm beach sun shine",
    }
    rows = [
        {"lyrics": f"{words[topic]} verse {i}", "mood": topic} for topic in words for i in range(8)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "songs.csv", index=False)
    result = search(
        SearchOptions(
            data=str(tmp_path / "songs.csv"),
            encoders=["pca"],  # its default features include mfcc_stats: dropped, no audio
            clusterers=["kmeans"],
            trials=2,
            storage=_storage(tmp_path),
        )
    )
    assert result.counts["complete"] == 2
    assert result.registered  # the best spec, as run (tfidf only), fitted again
    refit = mlflow.MlflowClient().get_run(
        mlflow.MlflowClient().get_run(result.parent_run_id).data.tags["best.refit_run_id"]
    )
    assert refit.data.params["feature.names"] == "tfidf"
    assert "best.mood.ami" in mlflow.MlflowClient().get_run(result.parent_run_id).data.metrics


def test_a_failing_trial_is_recorded_failed_and_the_search_goes_on(
    with_plugins: Path, tmp_path: Path
):
    from musiclust.search import SearchFailed

    storage = _storage(tmp_path)
    # no trial completed: the search fails (exit non-zero, parent FAILED) and says why
    with pytest.raises(SearchFailed, match=r"no trial completed \(3 failed, 0 pruned\); the last"):
        search(
            SearchOptions(
                encoders=["pca"],
                clusterers=["explode"],  # a third-party clusterer that always raises
                sets=list(SMALL_DEMO),
                trials=3,
                storage=storage,
            )
        )
    client = mlflow.MlflowClient()
    (name,) = optuna.study.get_all_study_names(storage)
    for trial in _study(name, storage).trials:
        assert "explode clusterer always fails" in trial.user_attrs["error"]
        run = client.get_run(trial.user_attrs["mlflow.run_id"])
        assert run.info.status == "FAILED" and run.data.tags["trial.state"] == "failed"
        assert "always fails" in run.data.tags["error"]
    ids = [e.experiment_id for e in client.search_experiments()]
    (parent,) = client.search_runs(ids, filter_string="tags.`musiclust.kind` = 'search'")
    assert (
        parent.info.status == "FAILED"
        and "explode clusterer always fails" in parent.data.tags["error"]
    )


# -- the space ---------------------------------------------------------------------------------
def _space(**kw) -> SearchSpace:
    args = {
        "encoders": None,
        "clusterers": None,
        "features": None,
        "sets": list(SMALL_DEMO),
        "modalities": {"audio", "lyrics"},
    }
    args.update(kw)
    return SearchSpace.build(get_registry(), {}, **args)


def test_space_is_conditional_and_errors_name_the_known_plugins():
    space = _space(encoders=["pca", "vade"], clusterers=["kmeans", "from_encoder"])
    assert space.clusterers == {"pca": ["kmeans"], "vade": ["kmeans", "from_encoder"]}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(12):
        trial = study.ask()
        choice = space.suggest(trial)
        prefixes = {p.split(".")[0] for p in trial.params if "." in p}
        chosen = {choice.encoder, choice.clusterer, *space.defaults[choice.encoder]}
        assert prefixes <= chosen | {"segments"}
        assert f"{choice.encoder}.latent_dim" in trial.params or choice.encoder == "pca"
        study.tell(trial, 0.0)
    with pytest.raises(SpecError, match=r"known.*pca"):
        _space(encoders=["pcaa"])
    with pytest.raises(SpecError, match="from_encoder suit none"):  # pca yields no clusters
        _space(encoders=["pca"], clusterers=["kmeans", "from_encoder"])
    with pytest.raises(SpecError, match="condition"):
        _space(encoders=["cvae"])  # needs cvae.condition
    default = _space()
    assert "cvae" not in default.encoders
    assert any("cvae" in note for note in default.notes)
    fixed = _space(encoders=["pca"], clusterers=["kmeans"], sets=["kmeans.n_clusters=auto"])
    assert "kmeans" not in fixed.declarations  # a --set parameter is fixed, not searched
    assert fixed.hash() != _space(encoders=["pca"], clusterers=["kmeans"]).hash()


def test_framing_is_searched_where_it_applies_and_fixed_by_set():
    space = _space(encoders=["pca", "conv_vae"], clusterers=["kmeans"])
    assert space.framing == ("length", "back")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        choice = space.suggest(trial)
        if choice.encoder == "pca":  # vector audio features: whole clips, 2 s or 3 s windows
            length = trial.params["segments.length"]
            seen.add(length)
            assert f"segments.length={'none' if length is None else length}" in choice.sets
            assert ("segments.back" in trial.params) == (length is not None)
        else:  # 2-D features keep their own window (auto), so only the way back is searched
            assert "segments.length" not in trial.params
            assert "segments.back" in trial.params
        study.tell(trial, 0.0)
    assert seen == {None, 2.0, 3.0}

    fixed = _space(encoders=["pca"], clusterers=["kmeans"], sets=["segments.length=3"])
    assert fixed.framing == ("back",)
    trial = optuna.create_study().ask()
    fixed.suggest(trial)
    assert "segments.back" in trial.params and "segments.length" not in trial.params
    whole = _space(encoders=["pca"], clusterers=["kmeans"], sets=["segments.length=none"])
    trial = optuna.create_study().ask()
    assert not [i for i in whole.suggest(trial).sets if i.startswith("segments.back")]
    assert _space(encoders=["pca"], modalities={"lyrics"}).framing == ()
    assert fixed.hash() != _space(encoders=["pca"], clusterers=["kmeans"]).hash()


def test_feature_lists_become_per_encoder_combinations():
    space = _space(
        encoders=["pca", "conv_vae"],
        clusterers=["kmeans"],
        features=["mfcc_stats", "mel", "tfidf"],
    )
    assert "mfcc_stats,mel,tfidf" in space.features["pca"]  # pca flattens 2-D features
    assert all("mel" in combo for combo in space.features["conv_vae"])  # needs its 2-D block
    # a fusion weight is searched only beside another block
    pair = _space(encoders=["pca"], clusterers=["kmeans"], features=["mfcc_stats", "audio_stats"])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sizes = set()
    for _ in range(12):
        trial = study.ask()
        features = pair.suggest(trial).features
        weights = {p.split(".")[0] for p in trial.params if p.endswith(".weight")}
        assert weights == (set(features) if len(features) > 1 else set())
        sizes.add(len(features))
        study.tell(trial, 0.0)
    assert sizes == {1, 2}
    lyrics_only = _space(encoders=["pca"], features=["mfcc_stats", "tfidf"], modalities={"lyrics"})
    assert lyrics_only.features["pca"] == ["tfidf"]


# -- objectives --------------------------------------------------------------------------------
def test_the_plain_run_is_in_the_space_when_its_pipeline_is():
    plain = _space(encoders=["pca", "identity"], clusterers=["kmeans", "agglomerative"])
    params = plain.plain_run()
    assert params is not None
    assert (params["encoder"], params["clusterer"]) == ("pca", "agglomerative")
    assert params["pca.n_components"] == 16 and params["agglomerative.linkage"] == "ward"
    assert "agglomerative.n_clusters" not in params  # 'auto' lies outside the searched 2..20
    assert params["segments.length"] is None  # the plain run's vector features: whole clips
    # --features: those of the plain run's features it lists, as the space names them
    listed = _space(encoders=["pca"], features=["tfidf", "audio_stats", DEFAULT_AUDIO])
    assert listed.plain_run()["pca.features"] == f"tfidf,{DEFAULT_AUDIO}"
    audio = _space(encoders=["pca"], features=[DEFAULT_AUDIO, "mfcc_stats"])
    assert audio.plain_run()["pca.features"] == DEFAULT_AUDIO
    assert _space(encoders=["pca"], features=["mfcc_stats"]).plain_run() is None
    assert _space(encoders=["identity", "ae"]).plain_run() is None
    assert _space(encoders=["pca"], clusterers=["kmeans"]).plain_run() is None
    # a --set value stays fixed in it, as in every trial
    fixed = _space(encoders=["pca"], sets=[*SMALL_DEMO, "agglomerative.linkage=average"])
    assert "agglomerative.linkage" not in fixed.plain_run()


def test_a_new_study_starts_from_the_plain_run_and_a_resumed_one_does_not(tmp_path: Path):
    from musiclust.search import prepare
    from musiclust.spec import build_spec

    storage = _storage(tmp_path)
    options = SearchOptions(
        encoders=["pca", "identity"],
        clusterers=["kmeans", "agglomerative"],
        sets=list(SMALL_DEMO),
        trials=2,
        storage=storage,
        confirm=0,
        refit=False,
    )
    result = search(options)
    study = _study(result.study, storage)
    first = study.trials[0]
    assert first.user_attrs["musiclust.start"] == "plain run"
    assert first.params == prepare(get_registry(), options)[1].plain_run()
    # the very spec `musiclust run` builds (K 'auto' included), not a look-alike
    plain = build_spec(get_registry(), sets=list(SMALL_DEMO), reports=[])
    assert first.user_attrs["spec.hash"] == plain.hash()
    client = mlflow.MlflowClient()
    run = client.get_run(first.user_attrs["mlflow.run_id"])
    assert run.data.tags["trial.start"] == "plain run"
    assert run.data.params["clusterer.n_clusters"] == "auto"
    assert "(the plain run)" in run.data.tags["mlflow.runName"]
    parent = client.get_run(result.parent_run_id)
    assert parent.data.params["search.start"] == "plain"
    assert "musiclust.start" not in study.trials[1].user_attrs  # sampled

    search(replace(options, trials=3, resume=True))
    marked = [t for t in study.get_trials() if "musiclust.start" in t.user_attrs]
    assert len(study.get_trials()) == 3 and [t.number for t in marked] == [0]

    sampled = replace(options, storage=_storage(tmp_path / "sampled"), start="sampled")
    (tmp_path / "sampled").mkdir()
    again = search(replace(sampled, trials=1))
    assert "musiclust.start" not in _study(again.study, sampled.storage).trials[0].user_attrs


def _blobs(k: int = 6, per: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = 6.0 * np.eye(k, 8)  # equally far apart
    X = np.concatenate([c + rng.normal(size=(per, 8)) for c in centres])
    return (X - X.mean(0)) / X.std(0), np.repeat(np.arange(k), per)


def _inputs(X: np.ndarray, clusters: np.ndarray, k: int | None = None) -> Inputs:
    from sklearn.cluster import KMeans

    def refit(idx: np.ndarray, draw: int) -> np.ndarray:
        return KMeans(k or len(set(clusters)), n_init=4, random_state=draw).fit_predict(X[idx])

    return Inputs(clusters, X, np.ones(len(X), bool), refit)


def test_reference_gap_finds_the_planted_k():
    from sklearn.cluster import KMeans

    X, _ = _blobs(k=6)
    gap = get_objective("reference_gap")
    scores = {}
    for k in range(2, 11):
        clusters = KMeans(k, n_init=10, random_state=0).fit_predict(X)
        scores[k] = gap.score(_inputs(X, clusters, k)).value
    assert max(scores, key=scores.get) == 6
    assert scores[6] > 0


def test_label_free_objective_rejects_collapse_and_prefers_real_structure():
    X, truth = _blobs(k=4)
    objective = get_objective("label_free")
    good = objective.score(_inputs(X, truth))
    rng = np.random.default_rng(0)
    noise = objective.score(_inputs(X, rng.integers(0, 4, len(X))))
    giant = np.zeros(len(X), int)
    giant[:5] = 1  # one giant cluster and a sliver: the collapsed-latent trap
    collapsed = objective.score(_inputs(X, giant))
    assert good.value > noise.value
    assert collapsed.value == COLLAPSED and "largest cluster" in collapsed.reason
    assert good.parts["stability"] > 0.9
    collapsed_units = objective.score(Inputs(truth, X, np.ones(len(X), bool), None, 1.0))
    assert collapsed_units.value == COLLAPSED
    with pytest.raises(SpecError, match="known"):
        get_objective("silhuette")
    with pytest.raises(SpecError, match="genre"):
        get_objective("ami:genre").score(Inputs(truth, None, None, None, labels={}))


def test_stability_refits_voting_windows_on_the_drawn_clips_windows():
    from musiclust.segments import mean_by_group, vote

    rng = np.random.default_rng(0)
    n, per = 12, 4  # 12 clips of 4 windows in 3 well-separated groups
    groups = np.repeat(np.arange(n), per)
    truth = np.repeat(np.arange(3), n // 3)
    rows = 8.0 * np.eye(3, 5)[truth[groups]] + rng.normal(size=(n * per, 5))
    latent = mean_by_group(rows, groups, n)
    kmeans = get_registry().get("clusterer", "kmeans").cls

    def fresh(k: int):
        def make(draw: int):
            clusterer = kmeans(n_clusters=k)
            clusterer.random_state = draw
            return clusterer

        return make

    clusters = vote(kmeans(n_clusters=3).fit_predict(rows), groups, n)
    refit = refitter(fresh(3), latent, clusters, "vote", groups, rows)
    stable = get_objective("stability").score(Inputs(clusters, None, None, refit))
    assert stable.value == pytest.approx(1.0)
    # K above the drawn clips but below their windows: only a re-fit on windows can run
    idx = np.arange(5)
    assert len(refitter(fresh(8), latent, clusters, "vote", groups, rows)(idx, 0)) == 5
    with pytest.raises(DataError, match="only 5 points"):
        refitter(fresh(8), latent, clusters, "latent", groups, rows)(idx, 0)


# -- processes: kill and resume, two workers ---------------------------------------------------
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "musiclust.cli", "search", *args]


def _wait_for(storage: str, predicate, timeout: float = 240.0) -> list:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:  # the search may be creating the database right now
            names = optuna.study.get_all_study_names(storage) if Path(storage[10:]).exists() else []
            if names:
                trials = optuna.load_study(study_name=names[0], storage=storage).get_trials()
                if predicate(trials):
                    return trials
        except Exception:
            pass
        time.sleep(0.5)
    raise AssertionError("the search did not get there in time")


@pytest.mark.slow
def test_a_search_killed_with_sigkill_resumes_without_losing_finished_trials(tmp_path: Path):
    storage = _storage(tmp_path)
    args = [
        "--encoders",
        "pca",
        "--clusterers",
        "kmeans,agglomerative",
        "--set",
        SMALL_DEMO[0],
        "--trials",
        "8",
        "--storage",
        storage,
    ]
    process = subprocess.Popen(_cli(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        done = _wait_for(storage, lambda ts: sum(t.state == TrialState.COMPLETE for t in ts) >= 2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    before = {
        t.number: t.value
        for t in optuna.load_study(
            study_name=optuna.study.get_all_study_names(storage)[0], storage=storage
        ).get_trials()
        if t.state == TrialState.COMPLETE
    }
    assert len(before) >= 2 and len(done) < 9

    again = subprocess.run(_cli(*args), capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr

    resumed = subprocess.run(_cli(*args, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # progress after each trial: n/N counted across both processes, the best so far, time
    lines = re.findall(
        r"^  (\d+)/8 trials, best (-?[\d.]+) \(trial \d+\), \d+m\d\ds", resumed.stderr, re.M
    )
    assert lines and int(lines[0][0]) > len(before) - 1 and lines[-1][0] == "8"
    assert "left" in resumed.stderr.split(f"  {lines[0][0]}/8 trials")[1].splitlines()[0]
    name = optuna.study.get_all_study_names(storage)[0]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert sum(t.state in FINISHED for t in trials) >= 8
    after = {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}
    assert {n: after.get(n) for n in before} == before  # no finished trial lost or changed
    client = mlflow.MlflowClient()
    searches = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string="tags.`musiclust.kind` = 'search'",
    )
    assert len(searches) == 1 and searches[0].info.status == "FINISHED"


@pytest.mark.slow
def test_two_worker_processes_share_one_study(tmp_path: Path):
    storage = _storage(tmp_path)
    run = subprocess.run(
        _cli(
            "--encoders",
            "pca",
            "--clusterers",
            "kmeans,gmm",
            "--set",
            SMALL_DEMO[0],
            "--trials",
            "6",
            "--workers",
            "2",
            "--storage",
            storage,
        ),
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    name = optuna.study.get_all_study_names(storage)[0]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    finished = [t for t in trials if t.state in FINISHED and "skipped" not in t.user_attrs]
    # exactly 6: near the end a worker waits for the trials ahead instead of overshooting
    assert len([t for t in finished if "duplicate_of" not in t.user_attrs]) == 6
    workers = {t.user_attrs.get("worker") for t in finished if "worker" in t.user_attrs}
    assert len(workers) == 2
    client = mlflow.MlflowClient()
    parent = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string="tags.`musiclust.kind` = 'search'",
    )[0]
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len([c for c in children if "trial.number" in c.data.tags]) == len(
        [t for t in finished if "duplicate_of" not in t.user_attrs]
    )
