"""The shape of the package, as a newcomer reads it: no import cycles (imports inside functions
included), no module over 400 lines, every reflective use of ImageJ internals in one module,
process-wide settings changed in one module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fm2s"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports, anywhere in it (functions included)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
            prefix = ".".join(base + ([node.module] if node.module else [])) if node.level \
                else node.module
            subs = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in modules]
            found.update(subs)
            if len(subs) < len(node.names) and prefix in modules:
                found.add(prefix)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycles_even_through_imports_inside_functions():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["fm2s.api"] >= {"fm2s.options", "fm2s.axes"}  # the checker sees imports
    assert _cycles(graph) == []


def test_the_engine_knows_nothing_of_files_java_or_the_command_line():
    modules = _modules()
    for name, path in modules.items():
        if name.startswith("fm2s.engine"):
            outside = {m for m in _imports(name, path, modules) if not m.startswith("fm2s.engine")}
            assert outside <= {"fm2s", "fm2s.presets", "fm2s.phantom"}, (name, outside)


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def _uses(text: str) -> set[str]:
    return {word for word in ("getDeclaredField", "setAccessible", "set_num_threads", "mallopt")
            if word in text}


def test_reflection_into_imagej_and_process_wide_settings_each_live_in_one_module():
    places: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for word in _uses(path.read_text(encoding="utf-8")):
            places.setdefault(word, set()).add(str(path.relative_to(PACKAGE)))
    assert places["getDeclaredField"] == {"imagej/ij1_internals.py"}
    assert places["setAccessible"] == {"imagej/ij1_internals.py"}
    assert places["set_num_threads"] == {"engine/runtime.py"}
    assert places["mallopt"] == {"engine/runtime.py"}
