"""The registry: built-ins through entry points, third-party plugins, broken ones skipped."""

import json
import subprocess
import sys

import pytest

import musiclust
from musiclust import hookimpl
from musiclust.errors import SpecError
from musiclust.registry import Registry, get_registry

CONTRACT = {
    "source": {"folder", "csv", "demo"},
    "feature": {"mfcc_stats", "audio_stats", "tfidf"},
    "encoder": {"identity", "pca"},
    "clusterer": {"kmeans"},
    "metric": {"internal", "external", "sizes"},
    "report": {"pca_scatter", "cluster_sizes", "k_selection"},
}


def test_builtins_load_through_entry_points_of_the_musiclust_distribution():
    registry = get_registry()
    for family, names in CONTRACT.items():
        assert names <= set(registry.names(family)), family
        for name in names:
            info = registry.get(family, name)
            assert (info.dist, info.version) == ("musiclust", musiclust.__version__)
    assert registry.problems == []


def test_third_party_plugin_is_discovered_with_its_distribution(with_plugins):
    registry = get_registry()
    feature = registry.get("feature", "rms_stats")
    clusterer = registry.get("clusterer", "ward_test")
    assert (feature.dist, feature.version) == ("musiclust-testplugin", "1.2.3")
    assert clusterer.cls.declared_params()["n_clusters"].default == 3


def test_broken_plugins_are_reported_and_the_rest_still_load(with_plugins):
    registry = get_registry()
    errors = {p.plugin: p.error for p in registry.problems}
    assert "ModuleNotFoundError" in errors["import_error"]
    assert "a_dependency_that_is_not_installed" in errors["import_error"]
    assert "clusterer 'kmeans' not registered: the name is taken" in errors["clash"]
    assert "default of 'latent_dim' is invalid" in errors["bad_decl"]
    assert all(p.dist == "musiclust-misbehaving" for p in registry.problems)
    # the clash did not replace the built-in, and the clashing module's other encoder loaded
    assert registry.get("clusterer", "kmeans").dist == "musiclust"
    assert registry.get("encoder", "negate").dist == "musiclust-misbehaving"
    assert "no_extract" not in registry.names("feature")
    assert any("extract() is not implemented" in p.error for p in registry.problems)
    assert "explode" in registry.names("clusterer")


def test_environment_variable_restricts_third_party_plugins(with_plugins, monkeypatch):
    monkeypatch.setenv("MUSICLUST_LOAD_PLUGINS", "musiclust-testplugin")
    registry = Registry.from_entry_points()
    assert "rms_stats" in registry.names("feature")
    assert "negate" not in registry.names("encoder")
    assert registry.problems == []
    assert "pca" in registry.names("encoder")  # built-ins always load

    monkeypatch.setenv("MUSICLUST_LOAD_PLUGINS", "")
    registry = Registry.from_entry_points()
    assert "rms_stats" not in registry.names("feature")
    assert "kmeans" in registry.names("clusterer")


def test_unknown_names_list_the_choices_and_suggest():
    registry = get_registry()
    with pytest.raises(SpecError) as err:
        registry.get("encoder", "pcaa")
    assert "known encoders: ae, conv_vae, cvae, hybrid_vae, identity, pca, vade, vae" in str(
        err.value
    )
    assert "did you mean 'pca'" in str(err.value)
    with pytest.raises(SpecError, match="'kmeans' is a clusterer"):
        registry.get("encoder", "kmeans")


def test_a_skipped_plugin_is_named_when_asked_for(with_plugins):
    with pytest.raises(SpecError, match="'bad_default' is installed but was skipped"):
        get_registry().get("encoder", "bad_default")


class _UnknownHook:
    @hookimpl
    def register_widgets(self, register):  # not a musiclust hook
        pass


def test_a_plugin_with_an_unknown_hook_is_refused():
    registry = Registry()
    assert registry.register_plugin(_UnknownHook(), name="widgets") == []
    assert "unknown hook register_widgets" in registry.problems[0].error


def test_plugins_command_lists_everything_with_versions(with_plugins):
    out = subprocess.run(
        [sys.executable, "-m", "musiclust", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["rms_stats"]["dist"] == "musiclust-testplugin"
    assert by_name["rms_stats"]["version"] == "1.2.3"
    assert by_name["kmeans"]["dist"] == "musiclust"
    n_clusters = {p["name"]: p for p in by_name["kmeans"]["params"]}["n_clusters"]
    assert n_clusters["default"] == "auto" and n_clusters["also"] == ["auto"]
    assert {p["plugin"] for p in data["problems"]} >= {"import_error", "clash", "bad_decl"}

    text = subprocess.run(
        [sys.executable, "-m", "musiclust", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    assert "problems (skipped):" in text
    assert "import_error (musiclust-misbehaving 0.0.1): failed to import" in text
    assert "ward_test" in text and "musiclust-testplugin 1.2.3" in text
