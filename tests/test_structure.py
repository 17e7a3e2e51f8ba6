"""The code's shape: no import circle in the framework, which never imports a plugin."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Folder -> the package it installs as (pyproject.toml's package-dir).
PACKAGES = {"toolkit": "musiclust", "plugins": "musiclust.plugins"}


def _module(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([PACKAGES[folder], *rest]).removesuffix(".__init__")


def _imports(root: Path) -> dict[str, set[str]]:
    """Module -> musiclust modules it imports, at any depth (lazy imports inside
    functions too), leaving out imports under ``if TYPE_CHECKING:`` (they never run)."""
    modules = {_module(path): path for path in sorted((ROOT / root).rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for name in names:
                while name and name not in modules and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in modules and name != module:
                    graph[module].add(name)
                if name.startswith(("musiclust.plugins", "plugins", "toolkit")):
                    graph[module].add(name)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for v in graph:
        if v not in index:
            visit(v)
    return circles


def test_the_framework_has_no_import_circle():
    graph = _imports(Path("toolkit"))
    assert "musiclust.search.study" in graph and "musiclust.cli" in graph  # the walk sees them
    assert "musiclust.logs" in graph["musiclust.search.study"]  # lazy imports are followed
    assert _circles(graph) == []


def test_the_framework_imports_no_plugin():
    """Built-ins are loaded through entry points, exactly like third-party plugins."""
    graph = _imports(Path("toolkit"))
    plugins = ("musiclust.plugins", "plugins")
    assert {m: sorted(d) for m, d in graph.items() if any(x.startswith(plugins) for x in d)} == {}


def test_code_imports_musiclust_never_the_folder_names():
    """The folders install as ``musiclust`` and ``musiclust.plugins``: an ``import toolkit`` or
    ``import plugins`` would only work from the repository root."""
    folders = ("toolkit", "plugins", "tests", "benchmarks", "examples")
    wrong = {}
    for folder in folders:
        for module, found in _imports(Path(folder)).items() if folder in PACKAGES else []:
            bad = sorted(x for x in found if x.split(".")[0] in PACKAGES)
            if bad:
                wrong[module] = bad
    for path in sorted(p for f in folders[2:] for p in (ROOT / f).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            bad = sorted(n for n in names if n.split(".")[0] in PACKAGES)
            if bad:
                wrong[str(path.relative_to(ROOT))] = bad
    assert wrong == {}


def test_every_package_folder_is_installed():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert project["package-dir"] == {v: k for k, v in PACKAGES.items()}
    folders = sorted(_module(p) for f in PACKAGES for p in (ROOT / f).rglob("__init__.py"))
    assert sorted(project["packages"]) == folders


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_public_names_load_on_first_use():
    import musiclust

    assert sorted(musiclust.__all__) == sorted([*musiclust._PUBLIC, "__version__"])
    for name in musiclust.__all__:
        assert getattr(musiclust, name) is not None


#: Attributes the framework reads by name from things that are not plugins (modules, signals,
#: exceptions, entry points, its own objects).
NOT_PLUGIN_MEMBERS = {"__path__", "__name__", "setitimer", "dist", "problem_mark", "orig", "meta"}
NOT_PLUGIN_MEMBERS |= {"left_out_", "chain_"}  # fusion's and the notebook API's own state


def test_the_framework_probes_no_plugin_member_the_base_classes_do_not_declare():
    """getattr/hasattr with a literal name in the framework: each name is declared on a base
    class (musiclust/components.py) or belongs to something that is not a plugin."""
    import re

    from musiclust import components

    declared = {n for cls in vars(components).values() if isinstance(cls, type) for n in dir(cls)}
    probed = {}
    for path in sorted((ROOT / "toolkit").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"(?:getattr|hasattr)\([^,()]+, \"(\w+)\"", text):
            if name not in declared and name not in NOT_PLUGIN_MEMBERS:
                probed.setdefault(name, []).append(path.name)
    assert probed == {}


#: The framework modules a plugin may import from besides ``musiclust`` itself: helpers for
#: audio, lyrics, sources and caching, each with an ``__all__`` naming what is public.
TOOLBOX = ("analysis", "dsp", "data", "text", "cache", "cluster_map", "scale")


def test_plugins_import_only_public_names():
    """Built-in and example plugins use what a third-party author can: the names of
    ``musiclust.__all__``, a toolbox module's ``__all__``, and their own package."""
    import importlib

    import musiclust

    wrong = []
    roots = [ROOT / "plugins", ROOT / "examples", ROOT / "tests" / "plugin_packages"]
    for path in sorted(p for root in roots for p in root.rglob("*.py") if "build" not in p.parts):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and not node.level):
                continue
            names = [a.name for a in node.names]
            where = f"{path.relative_to(ROOT)}: from {node.module} import {', '.join(names)}"
            if node.module == "musiclust":
                if set(names) - set(musiclust.__all__) - set(TOOLBOX):
                    wrong.append(where)
            elif node.module.startswith("musiclust.") and not node.module.startswith(
                "musiclust.plugins"
            ):
                module = node.module.removeprefix("musiclust.")
                public = getattr(importlib.import_module(node.module), "__all__", ())
                if module not in TOOLBOX or set(names) - set(public):
                    wrong.append(where)
    assert wrong == []


def test_one_family_table_names_every_hook():
    from musiclust import hookspecs
    from musiclust.components import FAMILIES

    hooks = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert hooks == {f.hook for f in FAMILIES.values()}
    assert all(f.base.family == f.name for f in FAMILIES.values())
