"""The integration's modules import one another without cycles, and the coordinator stays low.

Every module-level import counts, those under TYPE_CHECKING too: a cycle that only type checking
sees is still two modules that cannot be understood one without the other. Imports inside a
function body run on demand and are left out.
"""

import ast
from pathlib import Path

import custom_components.battery_steward as package

ROOT = Path(package.__file__).parent
NAME = package.__name__


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([NAME, *parts])


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in ROOT.rglob("*.py")}


def module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements run at import: the body, and inside if/try blocks, not functions or classes."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If):
            found += module_level(node.body) + module_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += module_level(node.body) + module_level(node.orelse) + module_level(node.finalbody)
            for handler in node.handlers:
                found += module_level(handler.body)
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The integration's modules that `name` imports explicitly."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in module_level(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target in known:
                found.add(target)
            for alias in node.names:
                if f"{target}.{alias.name}" in known:
                    found.add(f"{target}.{alias.name}")
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    names = set(known)
    return {name: imports(name, path, names) for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle, as the path around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle() -> None:
    edges = graph()
    assert f"{NAME}.controller.loop" in edges  # the graph is the real one
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges) or [])


def test_a_cycle_would_be_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_coordinator_imports_no_higher_module() -> None:
    """The coordinator reads the battery: it may use constants, the device layer and the engine."""
    allowed = (f"{NAME}.const", f"{NAME}.device", f"{NAME}.engine")
    imported = graph()[f"{NAME}.coordinator"]
    assert imported
    assert all(name.startswith(allowed) for name in imported), imported


def test_pure_core_and_glue_stay_in_their_layers() -> None:
    """engine/ and device/ never import the shell; the controller and the api glue do not know each other."""
    edges = graph()
    for name, imported in edges.items():
        if name.startswith((f"{NAME}.engine", f"{NAME}.device")):
            assert all(i.startswith((f"{NAME}.engine", f"{NAME}.device")) for i in imported), (name, imported)
        if name.startswith(f"{NAME}.api"):
            assert not any(i.startswith(f"{NAME}.controller") for i in imported), (name, imported)
        if name.startswith(f"{NAME}.controller"):
            assert not any(i.startswith(f"{NAME}.api") for i in imported), (name, imported)
