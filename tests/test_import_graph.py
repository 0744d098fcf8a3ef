"""The product's import graph, built from the source (ast, every import statement, function-level ones too):
no circle anywhere, `mae_backbone` imports no task, and no task imports another (DESIGN.md: data flows one way,
mae_backbone <- tasks <- tools)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mae_backbone", "dataformats", "classification", "detection", "segmentation", "tools")
TASKS = ("classification", "detection", "segmentation")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The product modules `name` imports: `from X import Y` counts as X.Y where that is a module, else X."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where only a.b is ours
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_imports_it_should():
    """The checker itself: relative, absolute and function-level imports all become edges."""
    graph = _graph()
    assert "mae_backbone.runtime.cost" in graph["mae_backbone.runtime.engine"]  # `from . import cost`
    assert "mae_backbone.checkpoint" in graph["classification.model"]  # inside load_classifier
    assert "classification.imagenet" in graph["classification.robustness"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circle_in_the_product():
    assert _cycles(_graph()) == []


def test_mae_backbone_imports_no_task_and_no_task_imports_another():
    wrong = sorted(
        f"{src} -> {dst}"
        for src, dsts in _graph().items()
        for dst in dsts
        if (src.split(".")[0] == "mae_backbone" and dst.split(".")[0] in (*TASKS, "tools"))
        or (src.split(".")[0] in TASKS and dst.split(".")[0] in TASKS and dst.split(".")[0] != src.split(".")[0])
    )
    assert wrong == []
