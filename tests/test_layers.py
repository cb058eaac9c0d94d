"""The packages of ``pipelines/`` import one way, top to bottom (see docs/architecture.md).

Every ``.py`` under ``pipelines/`` is parsed (no import runs): each import, including those inside functions
and ``if TYPE_CHECKING`` blocks, is mapped to its package. A module may import its own package or a lower
layer; never a higher layer, a sibling package of its own layer, or ``pipelines.runtime``. A ``__main__.py``
(a package's command line) counts as the top layer. No two packages may import each other, even through
others. And no module under ``pipelines/`` imports Gradio (the UI's library lives in ``app.py`` and
``components/``), not even inside a function or through ``importlib``.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAYERS = {"runtime": 3, "arena": 2, "evaluation": 2, "training": 2, "feedback": 1, "knowledge": 1, "generation": 1,
          "common": 0}
TOP = max(LAYERS.values())
PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def module_name(path: Path) -> str:
    parts = path.relative_to(PIPELINES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every ``pipelines`` module (or package) the file imports, wherever the import statement is."""
    return {name for name in all_imports(path) if name == "pipelines" or name.startswith("pipelines.")}


def all_imports(path: Path) -> set[str]:
    """Every module the file imports (relative imports resolved), wherever the import statement is, and every
    module named by a constant in ``importlib.import_module(...)`` or ``__import__(...)``."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from ..common import y
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # from pipelines import runtime
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")):
            found.add(node.args[0].value)
    return found


def gradio_imports(paths: list[Path]) -> list[str]:
    """'module → gradio module' for every import of Gradio (or its client) among ``paths``."""
    return [f"{module_name(path)} → {name}" for path in paths for name in sorted(all_imports(path))
            if name.split(".")[0] in ("gradio", "gradio_client")]


def import_graph() -> dict[str, set[str]]:
    """module -> the pipelines modules it imports, for every module under pipelines/."""
    return {module_name(path): imported_modules(path) for path in sorted(PIPELINES.rglob("*.py"))}


def package_of(module: str) -> str | None:
    """``pipelines.arena.rag`` -> ``arena``; ``pipelines.runtime`` -> ``runtime``; ``pipelines`` -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def is_cli(module: str) -> bool:
    return module.endswith(".__main__")


def layer_violations(graph: dict[str, set[str]], layers: dict[str, int] = LAYERS) -> list[str]:
    """'module → imported module (why)' for every import that goes up or sideways."""
    problems = []
    for module, imports in sorted(graph.items()):
        source = package_of(module)
        if source is None:
            continue
        if source not in layers:
            problems.append(f"{module}: package {source!r} has no layer in LAYERS")
            continue
        level = TOP if is_cli(module) else layers[source]
        for imported in sorted(imports):
            target = package_of(imported)
            if target is None or target == source:
                continue
            if target not in layers:
                problems.append(f"{module} → {imported} (package {target!r} has no layer in LAYERS)")
            elif target == "runtime" and not is_cli(module):
                problems.append(f"{module} → {imported} (only a __main__ CLI may import the runtime)")
            elif layers[target] > level:
                problems.append(f"{module} → {imported} (higher layer: {source} {level} imports {target} "
                                f"{layers[target]})")
            elif layers[target] == level and not is_cli(module):
                problems.append(f"{module} → {imported} (sibling package in layer {level}: {source} imports "
                                f"{target})")
    return problems


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of packages that import each other, directly or through others (a CLI is a node of its own)."""

    def node(module: str) -> str | None:
        package = package_of(module)
        return f"{package}.__main__" if package and is_cli(module) else package

    edges: dict[str, set[str]] = {}
    for module, imports in graph.items():
        source = node(module)
        if source is None:
            continue
        edges.setdefault(source, set())
        edges[source] |= {target for target in map(node, imports) if target and target != source}

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {package: reachable(package) for package in edges}
    cycles = {frozenset({p, *(q for q in reach[p] if p in reach.get(q, ()))}) for p in edges if p in reach[p]}
    return sorted(sorted(cycle) for cycle in cycles)


def test_every_import_goes_down_the_layers():
    graph = import_graph()
    assert len(graph) > 40 and {package_of(m) for m in graph} >= set(LAYERS)
    problems = layer_violations(graph)
    assert not problems, "imports against the layers (module → imported module):\n" + "\n".join(problems)
    cycles = package_cycles(graph)
    assert not cycles, "packages that import each other:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_pipelines_never_imports_gradio():
    paths = sorted(PIPELINES.rglob("*.py"))
    assert len(paths) > 40
    found = gradio_imports(paths)
    assert not found, "pipelines/ imports Gradio (keep it in app.py and components/):\n" + "\n".join(found)
    assert gradio_imports([Path(__file__).resolve().parents[1] / "components" / "api.py"])  # the check sees one


def test_the_check_catches_bad_edges():
    fake = {
        "pipelines.common.text": {"pipelines.knowledge.chunking"},  # up
        "pipelines.knowledge.store": {"pipelines.feedback.store"},  # sideways
        "pipelines.feedback.store": {"pipelines.knowledge.store"},  # sideways, and a cycle with the line above
        "pipelines.evaluation.batch": {"pipelines.runtime"},  # the runtime, from below it
        "pipelines.evaluation.__main__": {"pipelines.runtime", "pipelines.arena.arena"},  # a CLI: allowed
        "pipelines.arena.rag": {"pipelines.generation.prompts", "pipelines.arena.pipeline"},  # down, own: allowed
    }
    problems = layer_violations(fake)
    assert [p.split(" (")[0] for p in problems] == [
        "pipelines.common.text → pipelines.knowledge.chunking",
        "pipelines.evaluation.batch → pipelines.runtime",
        "pipelines.feedback.store → pipelines.knowledge.store",
        "pipelines.knowledge.store → pipelines.feedback.store",
    ]
    assert package_cycles(fake) == [["feedback", "knowledge"]]
    assert package_cycles({"pipelines.evaluation.__main__": {"pipelines.runtime"},
                           "pipelines.runtime": {"pipelines.evaluation.scorer"}}) == []


def test_imports_inside_functions_and_type_checking_blocks_are_seen(tmp_path, monkeypatch):
    package = tmp_path / "pipelines" / "common"
    package.mkdir(parents=True)
    source = package / "probe.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pipelines.arena import arena\n"
                      "def f():\n    import pipelines.runtime\n    from ..knowledge.store import KnowledgeStore\n")
    monkeypatch.setitem(globals(), "PIPELINES", tmp_path / "pipelines")
    assert imported_modules(source) >= {"pipelines.arena.arena", "pipelines.runtime", "pipelines.knowledge.store"}


def test_a_gradio_import_anywhere_in_a_module_is_seen(tmp_path, monkeypatch):
    package = tmp_path / "pipelines" / "arena"
    package.mkdir(parents=True)
    sources = {"top.py": "import gradio as gr\n", "inner.py": "def f():\n    from gradio.themes import Soft\n",
               "dynamic.py": "import importlib\nclient = importlib.import_module('gradio_client')\n",
               "clean.py": "import json\nfrom pipelines.common import text\n"}
    for name, text in sources.items():
        (package / name).write_text(text)
    monkeypatch.setitem(globals(), "PIPELINES", tmp_path / "pipelines")
    assert gradio_imports(sorted(package.glob("*.py"))) == [
        "pipelines.arena.dynamic → gradio_client", "pipelines.arena.inner → gradio.themes",
        "pipelines.arena.inner → gradio.themes.Soft", "pipelines.arena.top → gradio"]
