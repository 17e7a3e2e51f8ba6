"""The packaging promises: conda.yaml mirrors pyproject, MLproject maps onto the CLI, every
plugin module is an entry point."""

import ast
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

from musiclust.cli import describe as describe_command
from musiclust.cli import run as run_command
from musiclust.cli import search as search_command

ROOT = Path(__file__).resolve().parents[1]


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_conda_yaml_mirrors_the_pyproject_dependencies():
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    python = [d for d in conda["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == ["python=3.11.7"]  # exact: virtualenv builds need an installed version
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pip[-1] == "."  # musiclust itself
    pinned = {Requirement(r).name.lower(): Requirement(r) for r in pip[:-1]}
    project = pyproject()["project"]
    # the MLproject's environment is complete: the core and the opt-in report's extra
    listed = [*project["dependencies"], *project["optional-dependencies"]["umap"]]
    declared = {Requirement(r).name.lower(): Requirement(r) for r in listed}
    assert set(pinned) == set(declared)
    for name, requirement in pinned.items():
        [spec] = requirement.specifier  # one exact pin each
        assert spec.operator == "=="
        assert declared[name].specifier.contains(spec.version), name


def test_mlproject_parameters_are_run_options():
    mlproject = yaml.safe_load((ROOT / "MLproject").read_text())
    main = mlproject["entry_points"]["main"]
    options = {opt for p in run_command.params for opt in p.opts}
    for name in main["parameters"]:
        assert f"--{name}" in options
        assert f"--{name} {{{name}}}" in main["command"]
    assert mlproject["conda_env"] == "conda.yaml"


def test_mlproject_search_and_describe_parameters_are_command_options():
    entries = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    for entry_name, command in (("search", search_command), ("describe", describe_command)):
        entry = entries[entry_name]
        options = {opt for p in command.params for opt in p.opts}
        for name in entry["parameters"]:
            assert f"--{name}" in options
            assert f"--{name} {{{name}}}" in entry["command"]


def test_every_plugin_module_is_an_entry_point():
    declared = set(pyproject()["project"]["entry-points"]["musiclust"].values())
    with_hooks = set()
    for path in (ROOT / "plugins").rglob("*.py"):
        tree = ast.parse(path.read_text())
        if any(
            isinstance(n, ast.FunctionDef) and n.name.startswith("register_") for n in tree.body
        ):
            with_hooks.add("musiclust." + ".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert with_hooks == declared
