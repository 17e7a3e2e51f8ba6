"""Every shell command in the README and docs/ is executed, so the docs cannot drift.

Commands are read from the ```bash blocks. Each runs on small data a reader could have: a
folder of 15 synthesised songs in five genre folders stands for `~/gtzan/genres_original`
(and the other collection paths), a CSV with lyrics and a `language` column for `songs.csv`.
- `musiclust run` and `musiclust search` run with `--dry-run`: the command line, every plugin
  name and parameter, the data and the resolved spec are checked, nothing is fitted (the
  fitting itself is what the rest of the suite tests);
- `mlflow run . -P ...` is turned into its MLproject entry point's command (every `-P` must be
  one of that entry's parameters), then run the same way;
- `musiclust compare`, `describe`, `features`, `plugins`, `mlflow models predict` and
  `mlflow ui` run for real;
- what installs the project or runs the suite (`pip install`, `python -m pytest`, `ruff`,
  `bash .ci/run`) is checked against `.ci/run` and `pyproject.toml`, which CI executes.
A command none of these rules knows fails the test: a new one needs a rule.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT, free_port, serving

from musiclust.cli import cli
from musiclust.registry import reset_registry

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = "..."  # "and the options you want", written literally in a few commands
#: Guides whose musiclust commands another test runs verbatim, for real.
ELSEWHERE = {"docs/pretrained-embeddings.md": "test_every_command_of_the_pretrained_embeddings"}


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", doc.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words:
                    found.append((doc.relative_to(ROOT).as_posix(), line.split(" #")[0].strip()))
    return found


COMMANDS = _commands()


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A genre-folder collection and a CSV with lyrics, both small."""
    from musiclust.registry import get_registry

    root = tmp_path_factory.mktemp("reader")
    demo = get_registry().get("source", "demo").cls(n_per_style=3, duration=2.0).load()
    folder = root / "gtzan-mini"
    rows = ["audio,lyrics,language"]
    for i, clip in enumerate(demo.clips):
        genre = clip.labels["genre"]
        (folder / genre).mkdir(parents=True, exist_ok=True)
        target = folder / genre / f"{genre}.{i:05d}.wav"
        shutil.copy(clip.audio, target)
        words = (clip.lyrics or "la la la").replace('"', "")
        rows.append(f'{target},"{words}",{("en", "fr", "es")[i % 3]}')
    songs = root / "songs.csv"
    songs.write_text("\n".join(rows) + "\n")
    return {"folder": folder, "csv": songs}


def _substitute(command: str, collection: dict[str, Path]) -> str:
    folder, csv = str(collection["folder"]), str(collection["csv"])
    for path in (
        "~/gtzan/genres_original",
        "$HOME/gtzan/genres_original",
        "path/to/genres_original",
        "/abs/path/to/collection",
        "/shared/gtzan",
        "$DATA",
    ):
        command = command.replace(path, folder)
    return command.replace("songs.csv", csv).replace("$PWD", os.getcwd())


def _musiclust(args: list[str]) -> str:
    reset_registry()
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, f"musiclust {shlex.join(args)}\n{result.output[-3000:]}"
    return result.output


def _mlproject_command(words: list[str]) -> list[str]:
    """`mlflow run . [-e ENTRY] -P k=v ...` as the musiclust command MLflow would run."""
    project = yaml.safe_load((ROOT / "MLproject").read_text())
    entry, given, i = "main", {}, 3
    while i < len(words):
        if words[i] == "-e":
            entry = words[i + 1]
        elif words[i] == "-P":
            key, value = words[i + 1].split("=", 1)
            given[key] = value
        i += 2 if words[i] in ("-e", "-P", "--env-manager", "--experiment-name") else 1
    point = project["entry_points"][entry]
    unknown = set(given) - set(point["parameters"])
    assert not unknown, f"-P {unknown} is not a parameter of the '{entry}' entry point"
    values = {k: str(v.get("default", "")) for k, v in point["parameters"].items()}
    values.update(given)
    text = point["command"].format(**{k: shlex.quote(v) for k, v in values.items()})
    return shlex.split(text)[1:]  # without "musiclust"


def _checked_by_ci(command: str) -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    for part in command.split("&&"):
        words = shlex.split(part)
        if words[:2] == ["pip", "install"]:
            target = words[-1]
            if target.startswith("./examples/"):  # installed for real by tests/test_examples.py
                assert (ROOT / target / "pyproject.toml").is_file()
            elif target.startswith(".["):
                for extra in target[2:-1].split(","):
                    assert re.search(rf"^{extra} = \[", pyproject, re.M), f"no extra '{extra}'"
            else:
                assert target in ci, f"{target} is not installed by .ci/run"
        elif words[:3] == ["python", "-m", "pytest"]:
            assert "python -m pytest" in ci
            if "-m" in words[3:]:
                assert '"slow:' in pyproject or "slow:" in pyproject
        elif words[0] == "ruff":
            assert shlex.join(words) in ci
        elif words[:2] == ["bash", ".ci/run"]:
            assert (ROOT / ".ci" / "run").is_file()
        elif words[:3] == ["mlflow", "run", "."]:  # tests/test_mlproject.py runs it for real
            _musiclust([*_mlproject_command(words), "--dry-run"])
        else:
            raise AssertionError(f"no rule for {part!r}")


def _serves(command: list[str], cwd: Path) -> None:
    port = free_port()
    with serving(
        [*command, "--port", str(port)], f"http://127.0.0.1:{port}/health", cwd / "log", cwd
    ):
        pass


def _one_run(collection: dict[str, Path]) -> str:
    """A real run in the test's own store, for the commands that read runs."""
    out = _musiclust(["run", "--data", str(collection["folder"]), "--features", "audio_stats"])
    return re.search(r"^run (\w+)", out, re.M).group(1)


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_every_documented_command_runs(doc, command, collection, tmp_path, request):
    command = _substitute(command, collection)
    if "<run id>" in command:
        command = command.replace("<run id>", _one_run(collection))
    words = shlex.split(command, comments=True)
    if words and words[-1] == PLACEHOLDER:
        words = words[:-1]
    if words[0].startswith(("DATA=", "export")):  # a variable the next commands use
        assert "=" in command
        return
    if words[0] == "musiclust" and doc in ELSEWHERE:
        tests = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
        assert f"def {ELSEWHERE[doc]}" in tests and Path(doc).name in tests
    elif words[0] == "musiclust" and words[1] in ("run", "search"):
        if any(w.startswith(("onset_stats", "birch")) or ",birch" in w for w in words):
            request.getfixturevalue("with_example")  # the plugin guide's own package
        _musiclust([*words[1:], "--dry-run"])
    elif words[0] == "musiclust":
        if words[1] == "compare":
            _one_run(collection)
            if "--experiment" in words:
                words[words.index("--experiment") + 1] = collection["folder"].name
        if words[1] == "plugins":
            request.getfixturevalue("with_example")
        out = _musiclust(words[1:])
        if words[1] == "features":
            assert list(tmp_path.glob(f"{words[words.index('--out') + 1]}*"))
        if words[1] == "plugins" and "writing-plugins" in doc:
            assert "onset_stats" in out
    elif words[:3] == ["mlflow", "run", "."]:  # tests/test_mlproject.py runs some for real
        args = _mlproject_command(words)
        _musiclust(args if args[0] == "describe" else [*args, "--dry-run"])
    elif words[:2] == ["mlflow", "models"]:
        wav = next(collection["folder"].rglob("*.wav"))
        (tmp_path / "input.csv").write_text(f'audio,lyrics\n{wav},"some words"\n')
        done = subprocess.run(
            [sys.executable, "-m", *words], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "cluster" in done.stdout
    elif words[:2] == ["mlflow", "ui"]:
        _serves([sys.executable, "-m", *words], tmp_path)
    elif words[0] == "printf":
        subprocess.run(["bash", "-c", command], cwd=tmp_path, check=True)
        assert (tmp_path / "input.csv").read_text().startswith("audio,lyrics\n")
    else:
        _checked_by_ci(command)


def test_every_result_in_the_docs_tables_is_one_a_benchmark_wrote():
    """The AMI figures of the results tables (README and docs/results.md) come from
    benchmarks/results/: a figure typed by hand, or left behind by a re-run, fails here."""
    written = " ".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "benchmarks" / "results").iterdir()
        if p.suffix in (".md", ".json", ".txt")
    )
    readme = (ROOT / "README.md").read_text()
    sections = {
        "README.md": readme[readme.index("## Results on real data") :].split("\n## ")[0],
        "docs/results.md": (ROOT / "docs" / "results.md").read_text(),
    }
    found = 0
    for name, text in sections.items():
        rows = [r for r in text.splitlines() if r.startswith("|") and not r.startswith("|---")]
        for row in rows[1:]:
            for figure in re.findall(r"\d\.\d{3}", row.split("|")[-2]):
                found += 1
                assert figure in written, f"{name}: {figure} in '{row[:60]}...'"
    assert found >= 15
