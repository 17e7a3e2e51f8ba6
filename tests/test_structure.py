"""The code's shape: no import circle in the framework, which never imports a plugin."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(root: Path) -> dict[str, set[str]]:
    """Module -> toolkit/plugins modules it imports, at any depth (lazy imports inside
    functions too), leaving out imports under ``if TYPE_CHECKING:`` (they never run)."""
    modules = {}
    for path in sorted((ROOT / root).rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
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
                if name.split(".")[0] == "plugins":
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
    assert "toolkit.search.study" in graph and "toolkit.cli" in graph  # the walk sees them
    assert "toolkit.logs" in graph["toolkit.search.study"]  # lazy imports are followed
    assert _circles(graph) == []


def test_the_framework_imports_no_plugin():
    """Built-ins are loaded through entry points, exactly like third-party plugins."""
    graph = _imports(Path("toolkit"))
    assert {m: sorted(d) for m, d in graph.items() if any(x.startswith("plugins") for x in d)} == {}


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
