"""The shape of ``core/``: its modules import each other without a cycle (imports inside
functions included), and search and kernels share core.topk instead of importing each other."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every module named by an import anywhere in the file (top level, in functions, under
    ``TYPE_CHECKING``): ``from core import x`` gives ``core.x`` when that is one of
    ``modules``, else ``core`` (a name from the package itself)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or module_name(path)).split(".")
                base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.add(name if name in modules else base)
    return found


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in CORE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path, set(modules)) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_core_imports_have_no_cycle():
    graph = core_graph()
    assert "core.search" in graph and "core.topk" in graph
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"core/ import cycle: {' -> '.join(exc.args[1])}") from None


def test_search_and_kernels_share_topk_not_each_other():
    graph = core_graph()
    assert "core.kernels" not in graph["core.topk"] and "core.search" not in graph["core.topk"]
    assert "core.search" not in graph["core.kernels"]
    assert "core.topk" in graph["core.kernels"] and "core.topk" in graph["core.search"]
