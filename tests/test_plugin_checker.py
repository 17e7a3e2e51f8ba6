"""musiclust.testing.check_plugin: every built-in passes; broken plugins are named, not passed."""

import numpy as np
import pytest

from musiclust import AudioFeature, Clusterer, Int, PluginError
from musiclust.registry import get_registry
from musiclust.testing import check_plugin

FAST = {"epochs": 6, "patience": 3, "batch_size": 16}
EXTRA = {"cvae": {"condition": "language"}, "vade": {"n_clusters": 2, "pretrain_epochs": 3}}
#: Checked elsewhere: audio_model needs a local model folder (tests/test_audio_model.py makes
#: one); umap's numba compilation takes 20 s (tests/test_reports.py runs it).
ELSEWHERE = {"audio_model", "umap"}
BUILT_IN = [i for i in get_registry().infos() if i.dist == "musiclust" and i.name not in ELSEWHERE]


@pytest.mark.parametrize("info", BUILT_IN, ids=[f"{i.family}-{i.name}" for i in BUILT_IN])
def test_every_built_in_plugin_keeps_its_contract(info):
    params = {}
    if info.family == "encoder" and "epochs" in info.cls.declared_params():
        params = {**FAST, **EXTRA.get(info.name, {})}
    passed = check_plugin(info.cls, **params)
    assert {"construct", "params round trip", "pickle"} <= set(passed)
    if info.family != "source":
        assert any(p.startswith(f"{info.family}:") for p in passed)


class Constant(AudioFeature):
    """Ignores the music."""

    name = "constant"

    def extract(self, audio):
        return np.ones(4)


class Unseeded(Clusterer):
    """Random labels that ignore random_state, and one label short."""

    name = "unseeded"
    params = (Int("k", 3, low=2, help="clusters"),)

    def cluster(self, Z):
        return np.random.default_rng().integers(0, self.k, len(Z) - 1)


def test_a_broken_plugin_is_named_with_each_failure():
    with pytest.raises(PluginError, match="a 220 Hz and a 1760 Hz tone give the same values"):
        check_plugin(Constant)
    with pytest.raises(PluginError, match=r"'unseeded' fails 1 check.*returned labels of shape"):
        check_plugin(Unseeded)


def test_a_declaration_problem_stops_before_running_anything():
    class Nameless(Clusterer):
        name = "Bad Name"

    with pytest.raises(PluginError, match=r"declaration: name 'Bad Name'.*cluster\(\) is not"):
        check_plugin(Nameless)


def test_the_guides_first_plugin_runs_as_written(monkeypatch):
    """docs/writing-plugins.md's first example, verbatim, as the module a user would write:
    under ten lines of code, it registers a feature that keeps the contract."""
    import re
    import sys
    import types
    from pathlib import Path

    guide = (Path(__file__).parents[1] / "docs" / "writing-plugins.md").read_text()
    section = guide.split("## A first plugin", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) < 10
    module = types.ModuleType("first_plugin")
    monkeypatch.setitem(sys.modules, "first_plugin", module)  # importable, so picklable
    exec(compile(code, "writing-plugins.md", "exec"), module.__dict__)
    registered: list = []
    module.register_features(registered.append)
    assert registered == [module.Loudness]
    check_plugin(module.Loudness)
